/* errors: how xe reports failures. XenAPI errors xe knows the text of are
 * printed as that text plus "param: value" lines named from the schema's
 * error table; others as "Error code:" / "Error parameters:", and xe's own
 * failures in the wording xapi's CLI uses. */
#include "xe.h"
#include "base/mem.h"
#include "client/client.h"
#include "schema/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int xe_fail(struct xerr *err, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	return xerr_set(err, XE_ERR_FAILURE, buf, NULL);
}

/* The user-facing descriptions of the errors an xe user meets most. */
static const char *const docs[][2] = {
	{"UUID_INVALID", "The uuid you supplied was invalid."},
	{"HANDLE_INVALID", "You gave an invalid object reference. The object may have recently been "
			   "deleted. The class parameter gives the type of reference given, and the "
			   "handle parameter echoes the bad value given."},
	{"OBJECT_NOLONGER_EXISTS", "The specified object no longer exists."},
	{"MAP_DUPLICATE_KEY", "You tried to add a key-value pair to a map, but that key is already "
			      "there."},
	{"INVALID_VALUE", "The value given is invalid"},
	{"FIELD_TYPE_ERROR", "The value specified is of the wrong type"},
	{"OPERATION_NOT_ALLOWED", "You attempted an operation that was not allowed."},
	{"OPERATION_BLOCKED", "You attempted an operation that was explicitly blocked (see the "
			      "blocked_operations field of the given object)."},
	{"MESSAGE_METHOD_UNKNOWN", "You tried to call a method that does not exist. The method name "
				   "that you used is echoed."},
	{"INTERNAL_ERROR", "The server failed to handle your request, due to an internal error. The "
			   "given message may give details useful for debugging the problem."},
	{"PERMISSION_DENIED", "Caller not allowed to perform this operation."},
	{"RBAC_PERMISSION_DENIED", "RBAC permission denied."},
	{"SESSION_INVALID", "You gave an invalid session reference. It may have been invalidated by "
			    "a server restart, or timed out. You should get a new session handle, "
			    "using one of the session.login_ calls. This error does not invalidate "
			    "the current connection. The handle parameter echoes the bad value "
			    "given."},
	{"VM_BAD_POWER_STATE", "You attempted an operation on a VM that was not in an appropriate "
			       "power state at the time; for example, you attempted to start a VM "
			       "that was already running. The parameters returned are the VM's "
			       "handle, and the expected and actual VM state at the time of the "
			       "call."},
	{"VM_IS_TEMPLATE", "The operation attempted is not valid for a template VM"},
	{"OTHER_OPERATION_IN_PROGRESS", "Another operation involving the object is currently in "
					"progress"},
	{"VM_NO_EMPTY_CD_VBD", "The VM has no empty CD drive (VBD)."},
	{"VM_HVM_REQUIRED", "HVM is required for this operation"},
	{"VM_NO_VCPUS", "You need at least 1 VCPU to start a VM"},
	{"VM_REQUIRES_SR", "You attempted to run a VM on a host which doesn't have access to an SR "
			   "needed by the VM. The VM has at least one VBD attached to a VDI in the "
			   "SR."},
	{"VM_MISSING_PV_DRIVERS", "You attempted an operation on a VM which requires PV drivers to "
				  "be installed but the drivers were not detected."},
	{"NO_HOSTS_AVAILABLE", "There were no servers available to complete the specified "
			       "operation."},
	{"HOST_OFFLINE", "You attempted an operation which involves a host which could not be "
			 "contacted."},
	{"HOST_DISABLED", "The specified server is disabled."},
	{"TASK_CANCELLED", "The request was asynchronously canceled."},
	{"VDI_IN_USE", "This operation cannot be performed because this VDI is in use by some other "
		       "operation"},
	{"VDI_MISSING", "This operation cannot be performed because the specified VDI could not be "
			"found on the storage substrate"},
	{"SR_NOT_EMPTY", "The SR operation cannot be performed because the SR is not empty."},
	{"DEFAULT_SR_NOT_FOUND", "The default SR reference does not point to a valid SR"},
	{"CANNOT_DESTROY_SYSTEM_NETWORK", "You tried to destroy a system network: these cannot be "
					  "destroyed."},
	{"NETWORK_CONTAINS_VIF", "The network contains active VIFs and cannot be deleted."},
	{"NETWORK_CONTAINS_PIF", "The network contains active PIFs and cannot be deleted."},
	{"VM_IS_PART_OF_AN_APPLIANCE", "This operation is not allowed as the VM is part of an "
				       "appliance."},
	{"LICENCE_RESTRICTION", "This operation is not allowed because your license lacks a needed "
				"feature. Please contact your support representative."},
};

const char *xe_error_doc(const char *code)
{
	for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
		if (strcmp(docs[i][0], code) == 0)
			return docs[i][1];
	return NULL;
}

static void usage_hint(struct xe_out *o, const char *what, const char *detail)
{
	if (what && *what)
		fprintf(o->err, "%s: %s\n", what, detail);
	else
		fprintf(o->err, "%s\n", detail);
	fprintf(o->err, "For usage run: 'xe help'\n");
}

void xe_print_error(struct xe_out *o, const struct xerr *e)
{
	const char *p0 = e->nparams ? e->params[0] : "";
	if (!e->code)
		return;
	if (strcmp(e->code, XE_ERR_EXIT) == 0)
		return;
	if (strcmp(e->code, XE_ERR_FAILURE) == 0) {
		fprintf(o->err, "Error: %s\n", p0);
	} else if (strcmp(e->code, XE_ERR_PARAM) == 0) {
		usage_hint(o, "Required parameter not found", p0);
	} else if (strcmp(e->code, XE_ERR_UNKNOWN_CMD) == 0) {
		usage_hint(o, "Unknown command", p0);
	} else if (strcmp(e->code, XE_ERR_SYNTAX) == 0) {
		usage_hint(o, "Syntax error", p0);
	} else if (strcmp(e->code, XE_ERR_AUTH) == 0) {
		usage_hint(o, NULL, p0);
	} else if (strcmp(e->code, XE_ERR_MULTIPLE) == 0) {
		for (size_t i = 0; i + 1 < e->nparams; i += 2)
			fprintf(o->out, "operation failed on %s: %s\n", e->params[i], e->params[i + 1]);
	} else if (strcmp(e->code, XC_ERR_TRANSPORT) == 0) {
		fprintf(o->err, "Unable to contact server. Please check server and port settings.\n");
		if (e->nparams)
			fprintf(o->err, "(%s)\n", p0);
	} else if (strcmp(e->code, XC_ERR_HTTP) == 0) {
		fprintf(o->err, "Error: the server answered HTTP %s\n", p0);
	} else {
		const char *doc = xe_error_doc(e->code);
		const struct sc_error *se = sc_error_find(e->code);
		if (!doc || !se) {
			fprintf(o->err, "Error code: %s\nError parameters: ", e->code);
			for (size_t i = 0; i < e->nparams; i++)
				fprintf(o->err, "%s%s", i ? ", " : "", e->params[i]);
			fputc('\n', o->err);
			return;
		}
		/* Pair the values with the schema's parameter names, as xe does
		 * even when a server sends too few or too many. */
		fprintf(o->err, "%s\n", doc);
		size_t n = e->nparams > (size_t)se->nparams ? e->nparams : (size_t)se->nparams;
		for (size_t i = 0; i < n; i++)
			fprintf(o->err, "%s: %s\n", i < (size_t)se->nparams ? se->params[i] : "<extra>",
				i < e->nparams ? e->params[i] : "<unknown>");
	}
}

char *xe_error_line(const struct xerr *e)
{
	struct strbuf sb = STRBUF_INIT;
	if (e->code && strcmp(e->code, XE_ERR_FAILURE) == 0) {
		sb_puts(&sb, e->nparams ? e->params[0] : "");
		return sb_detach(&sb);
	}
	const char *doc = e->code ? xe_error_doc(e->code) : NULL;
	const struct sc_error *se = e->code ? sc_error_find(e->code) : NULL;
	if (doc && se) {
		sb_puts(&sb, doc);
		for (size_t i = 0; i < e->nparams; i++)
			sb_printf(&sb, "\n%s: %s", i < (size_t)se->nparams ? se->params[i] : "<extra>",
				  e->params[i]);
		return sb_detach(&sb);
	}
	sb_printf(&sb, "%s: [ ", e->code ? e->code : "INTERNAL_ERROR");
	for (size_t i = 0; i < e->nparams; i++)
		sb_printf(&sb, "%s%s", i ? "; " : "", e->params[i]);
	sb_puts(&sb, " ]");
	return sb_detach(&sb);
}
