/* list_vms: the C SDK's smallest useful program — log in, fetch every VM
 * record in one call and print the non-template VMs with their power state.
 * Usage: list_vms URL USER PASSWORD   (URL: http(s)://host[:port]) */
#include <stdio.h>
#include <stdlib.h>

#include "client/xenon_calls.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s URL USER PASSWORD\n", argv[0]);
		return 2;
	}
	struct xc *c = xc_new(argv[1], NULL); /* JSON-RPC, TLS unverified */
	struct xerr err = XERR_INIT;
	if (!c || xc_login(c, argv[2], argv[3], &err) < 0) {
		fprintf(stderr, "login failed: %s\n", err.code ? err.code : "no handle");
		return 1;
	}
	xv recs = XV_NIL_INIT; /* ref -> VM record */
	int rc = xen_VM_get_all_records(c, &recs, &err);
	if (rc == 0) {
		printf("%-36s  %-10s  %s\n", "uuid", "power", "name");
		for (size_t i = 0; i < xv_len(&recs); i++) {
			const xv *r = &recs.u.m->vals[i];
			const xv *tmpl = xv_map_get(r, "is_a_template");
			if (tmpl && tmpl->kind == XV_BOOL && tmpl->u.b)
				continue;
			printf("%-36s  %-10s  %s\n", xv_map_get_str(r, "uuid"),
			       xv_map_get_str(r, "power_state"), xv_map_get_str(r, "name_label"));
		}
	} else {
		fprintf(stderr, "VM.get_all_records: %s\n", err.code);
	}
	xv_free(&recs);
	struct xerr ignored = XERR_INIT;
	xc_logout(c, &ignored);
	xerr_clear(&ignored);
	xerr_clear(&err);
	xc_free(c);
	return rc == 0 ? 0 : 1;
}
