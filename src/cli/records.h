/* records: xe's view of an object — the parameters `xe <class>-param-list`
 * prints, in order, with access markers and renderings. The tables are
 * generated (xe_records_gen.c); rendering is pure, reaching other objects
 * only through a resolver so tests can supply records without a server. */
#ifndef XENON_XE_RECORDS_H
#define XENON_XE_RECORDS_H

#include <stdbool.h>

#include "base/xv.h"
#include "schema/schema.h"

enum xe_access { XE_RO, XE_RW, XE_SRO, XE_SRW, XE_MRO, XE_MRW };

enum {
	XE_F_DEPRECATED = 1u << 0,
	XE_F_EXPENSIVE = 1u << 1, /* -list prints "<expensive field>" */
};

/* How enum values are spelled (xe prints some differently from the wire). */
enum xe_style {
	XS_WIRE,
	XS_LOWER,       /* power-state: running */
	XS_UPPER,       /* console protocol: RFB */
	XS_ACTIONS,     /* actions-after-*: Destroy, Soft reboot, ... */
	XS_VDI_TYPE,    /* System, User, HA statefile, ... */
	XS_DOMAIN_TYPE, /* pv_in_pvh -> pv-in-pvh */
	XS_YESNO,       /* yes -> true, no -> false */
	XS_TASK_OPS,    /* Cancel, Destroy */
	XS_SR_OPS,      /* vdi_create -> VDI.create */
	XS_HOST_OPS,    /* vm_start -> VM.start */
	XS_VM_OPS,      /* assert_operation_valid -> assertoperationvalid */
};

enum xe_shape {
	XSH_AUTO,    /* by the schema type */
	XSH_OPS,     /* current_operations: the map's values */
	XSH_QUOTED,  /* 'text' */
	XSH_FLOAT3,  /* %.3f */
	XSH_REFSTRS, /* a string set holding refs of via_cls */
};

struct xe_param {
	const char *name;
	enum xe_access access;
	unsigned flags;
	/* The field shown: of the object's class, or of via_cls when via >= 0
	 * (the value is read on the object that ref field points to, printing
	 * fallback when it is null or gone). -1 for special params. */
	int field;
	int via, via_cls;
	const char *fallback;
	const char *sep; /* between set items */
	enum xe_style style;
	enum xe_shape shape;
	const char *special; /* "class:param" computed by hand, or NULL */
};

struct xe_class {
	const char *name; /* vm, host-cpu, ... */
	int cls;          /* schema class */
	int nparams;
	const struct xe_param *params;
	const char *const *list_params; /* default -list columns (NULL-ended; empty: all) */
	const char *const *filters;     /* implicit -list filters: name, value, ..., NULL */
	bool standard;                  /* its -list shows in plain `xe help` */
};

extern const struct xe_class xe_classes[];
extern const int xe_nclasses;

const struct xe_class *xe_class_find(const char *name);
const struct xe_param *xe_param_find(const struct xe_class *xc, const char *name);
/* " ( RO)", " (MRW)", ... plus " [DEPRECATED]". */
const char *xe_access_suffix(enum xe_access a);
bool xe_param_is_set(const struct xe_param *p);
bool xe_param_is_map(const struct xe_param *p);
/* The wire field written by param-set/add/remove, or NULL if computed. */
const struct sc_field *xe_param_wire_field(const struct xe_class *xc, const struct xe_param *p);

/* An object as fetched: its class, ref and wire record (a map keyed by
 * wire field names, values coerced to the schema types). */
struct xe_obj {
	int cls;
	const char *ref;
	const xv *rec;
};

struct xe_resolver {
	/* The record behind ref (borrowed), or NULL if null or dangling. */
	const xv *(*record)(struct xe_resolver *r, int cls, const char *ref);
	/* Computes a special parameter into out (XV_STR / XV_ARR / XV_MAP of
	 * strings). Returns -1 when it cannot, leaving "<unknown>". May be NULL. */
	int (*special)(struct xe_resolver *r, const struct xe_class *xc, const struct xe_param *p,
		       const struct xe_obj *o, xv *out);
};

/* A parameter's value as strings: XV_STR for scalars, XV_ARR for sets,
 * XV_MAP for maps (owned). */
xv xe_param_value(struct xe_resolver *r, const struct xe_class *xc, const struct xe_param *p,
		  const struct xe_obj *o);
/* The printed form: sets joined by the param's separator, maps as
 * "k: v; k2: v2" (owned). */
char *xe_value_text(const struct xe_param *p, const xv *v);
char *xe_param_text(struct xe_resolver *r, const struct xe_class *xc, const struct xe_param *p,
		    const struct xe_obj *o);
/* Spells one enum value the way the style prints it (owned). */
char *xe_style_enum(enum xe_style s, const char *v);
/* Converts a fetched record's fields to their schema types in place
 * (XML-RPC sends ints as strings, JSON datetimes as strings). */
void xe_record_coerce(int cls, xv *rec);

#endif
