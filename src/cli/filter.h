/* filter: choosing objects and fields the way xe does — `field=value`
 * filters on -list and selectors (maps as `map:key=value`, sets as
 * `set:contains=value`), and `params=` field selection. Pure: other
 * objects are reached through the resolver. */
#ifndef XENON_XE_FILTER_H
#define XENON_XE_FILTER_H

#include "records.h"
#include "xe.h"

/* Parameters every command accepts, never treated as filters. */
bool xe_is_stdparam(const char *k);

/* Does o match k=v? k is a param name, "map:key", "set:contains" or the
 * old "map-key" form. Unknown fields fail with XE_ERR_FAILURE. */
int xe_match(struct xe_resolver *r, const struct xe_class *xc, const struct xe_obj *o,
	     const char *k, const char *v, bool *match, struct xerr *err);
/* Keeps the objects matching every filter, compacting objs in place.
 * As in xapi, an empty list is not checked for unknown fields. */
int xe_filter(struct xe_resolver *r, const struct xe_class *xc, struct xe_obj *objs, size_t *n,
	      const struct xe_params *filters, struct xerr *err);

/* Selectors' pseudo-field (vm=, sr=, host=): a uuid or name-label, and
 * for hosts a hostname too. */
bool xe_pseudo_match(const char *xe_class, const xv *rec, const char *want);

/* The printable record of o: "name ( RO)" -> text, in the record's own
 * order. sel is the params= value (NULL: dflt; "all": every param); in_list
 * prints "<expensive field>" for expensive params, as -list does. */
xv xe_record_fields(struct xe_resolver *r, const struct xe_class *xc, const struct xe_obj *o,
		    const char *sel, const char *const *dflt, bool in_list);

#endif
