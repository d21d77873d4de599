/* cmd: xe's command table — what each command requires and accepts, its
 * help text and its handler — and the context a handler runs in. The
 * per-class commands are built from the record tables at start. */
#ifndef XENON_XE_CMD_H
#define XENON_XE_CMD_H

#include "filter.h"
#include "records.h"
#include "session.h"
#include "xe.h"

struct xe_cmd;

struct xe_ctx {
	struct xc *c;
	struct xe_session *s;
	struct xe_out *out;
	const struct xe_params *params;
	const struct xe_cmd *cmd;
	const char *argv0;
	const char *server_url; /* http(s)://host:port, for the transfer handlers */
};

typedef int (*xe_handler)(struct xe_ctx *x, struct xerr *err);

enum {
	XE_CMD_STANDARD = 1u << 0, /* shown by a plain `xe help` */
	XE_CMD_VM_SEL = 1u << 1,   /* takes VM selectors */
	XE_CMD_HOST_SEL = 1u << 2,
	XE_CMD_SR_SEL = 1u << 3,
	XE_CMD_HIDDEN = 1u << 4,
	XE_CMD_LOCAL = 1u << 5,    /* logs in with a session of that host alone (emergency calls) */
};

struct xe_cmd {
	const char *name;
	const char *const *reqd; /* NULL-ended, or NULL */
	const char *const *optn;
	const char *help;
	unsigned flags;
	xe_handler fn;
	const void *data; /* handler-specific: the xe class of generated commands, ... */
};

/* Hand-written commands, one table per file. */
extern const struct xe_cmd xe_vm_cmds[];
extern const size_t xe_vm_ncmds;
extern const struct xe_cmd xe_misc_cmds[];
extern const size_t xe_misc_ncmds;
extern const struct xe_cmd xe_transfer_cmds[];
extern const size_t xe_transfer_ncmds;
extern const struct xe_cmd xe_console_cmds[];
extern const size_t xe_console_ncmds;
extern const struct xe_cmd xe_resource_cmds[];
extern const size_t xe_resource_ncmds;
extern const struct xe_cmd xe_metrics_cmds[];
extern const size_t xe_metrics_ncmds;
extern const struct xe_cmd xe_pool_master_cmds[];
extern const size_t xe_pool_master_ncmds;
extern const struct xe_cmd xe_rbac_cmds[];
extern const size_t xe_rbac_ncmds;
extern const struct xe_cmd xe_capture_cmds[];
extern const size_t xe_capture_ncmds;
extern const struct xe_cmd xe_net_cmds[];
extern const size_t xe_net_ncmds;
extern const struct xe_cmd xe_inspect_cmds[];
extern const size_t xe_inspect_ncmds;
extern const struct xe_cmd xe_migrate_cmds[];
extern const size_t xe_migrate_ncmds;

/* Registers the hand-written and the per-class commands (idempotent). */
void xe_cmdtable_init(void);
const struct xe_cmd *xe_cmd_find(const char *name);
size_t xe_cmd_count(void);
const struct xe_cmd *xe_cmd_at(size_t i); /* sorted by name */
/* `xe help [--all] [--minimal] [cmd...]`. */
/* "Usage:" and xe's global options, for xe help and a bare xe. */
struct strbuf;
void xe_usage_head(struct strbuf *sb, const char *argv0);
int xe_help(struct xe_out *o, const char *argv0, const struct xe_params *params);
/* First required parameter missing from params, or NULL. */
const char *xe_cmd_missing(const struct xe_cmd *cmd, const struct xe_params *params);

/* Per-class commands (cmd_generic.c), attached to generated entries. */
int xe_gen_list(struct xe_ctx *x, struct xerr *err);
int xe_gen_param_list(struct xe_ctx *x, struct xerr *err);
int xe_gen_param_get(struct xe_ctx *x, struct xerr *err);
int xe_gen_param_set(struct xe_ctx *x, struct xerr *err);
int xe_gen_param_add(struct xe_ctx *x, struct xerr *err);
int xe_gen_param_remove(struct xe_ctx *x, struct xerr *err);
int xe_gen_param_clear(struct xe_ctx *x, struct xerr *err);

/* Whole-VM commands (cmd_install.c). */
int xe_vm_install(struct xe_ctx *x, struct xerr *err);
/* cmd_guest.c: through the VM's guest agent */
int xe_vm_guest_exec(struct xe_ctx *x, struct xerr *err);
int xe_vm_guest_file_read(struct xe_ctx *x, struct xerr *err);
int xe_vm_guest_file_write(struct xe_ctx *x, struct xerr *err);
int xe_vm_uninstall(struct xe_ctx *x, struct xerr *err);
int xe_template_uninstall(struct xe_ctx *x, struct xerr *err);
int xe_snapshot_uninstall(struct xe_ctx *x, struct xerr *err);
int xe_snapshot_revert(struct xe_ctx *x, struct xerr *err);
int xe_snapshot_destroy(struct xe_ctx *x, struct xerr *err);
int xe_snapshot_clone(struct xe_ctx *x, struct xerr *err);
int xe_snapshot_copy(struct xe_ctx *x, struct xerr *err);
int xe_snapshot_reset_powerstate(struct xe_ctx *x, struct xerr *err);
/* Points every <disk sr="..."> of a provisioning XML at sr_uuid (owned). */
char *xe_rewrite_disks_sr(const char *xml, const char *sr_uuid);

/* ---- helpers shared by the handlers (cmd_util.c) ---- */

/* The value of a required parameter (checked before the handler runs). */
const char *xe_req(struct xe_ctx *x, const char *k);
/* Objects of xc whose uuid is uuid, as an xe_obj with a fetched record. */
int xe_fetch_by_uuid(struct xe_ctx *x, const struct xe_class *xc, const char *uuid, char **ref,
		     xv *rec, struct xerr *err);
/* Converts a command-line value to a field's wire type (uuids to refs for
 * ref fields). */
int xe_value_for(struct xe_ctx *x, const struct sc_type *t, const char *name, const char *text,
		 xv *out, struct xerr *err);
/* Selectors (vm=, host=, sr= and field filters) on VMs, hosts or SRs:
 * returns the matching objects (records owned by *all). ignore lists the
 * command's own params, not to be taken as filters. */
struct xe_sel {
	xv all; /* ref -> record */
	struct xe_obj *objs;
	size_t n;
};
int xe_select(struct xe_ctx *x, const char *xe_class, const char *pseudo, bool with_control,
	      bool with_templates, struct xe_sel *sel, struct xerr *err);
void xe_sel_free(struct xe_sel *sel);
/* Runs op on each selected object: none is an error ("No matching VMs
 * found"), several need --multiple (unless !multiple_ok), and failures
 * with --multiple are collected as XE_ERR_MULTIPLE. */
typedef int (*xe_obj_op)(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err);
int xe_do_selected(struct xe_ctx *x, const char *xe_class, bool with_control, bool with_templates,
		   bool multiple_ok, xe_obj_op op, void *ud, struct xerr *err);
/* Async.<method> on refs and string args, waiting for the task; falls back
 * to the plain call if the server has no Async form. */
int xe_call_wait(struct xe_ctx *x, const char *method, const xv *args, xv *result, struct xerr *err);
/* Sizes as xe takes them: bytes, or with a KiB/MiB/GiB/TiB suffix. */
int xe_parse_size(const char *s, int64_t *out);
/* The VM named by vm= or uuid= (a uuid or a unique name-label); owned ref. */
int xe_vm_ref(struct xe_ctx *x, char **ref, struct xerr *err);
/* force=true, else "Type 'yes' to continue" and the answer read from stdin
 * (anything but yes aborts, printed): *yes says whether to go on. */
int xe_confirm(struct xe_ctx *x, bool *yes, struct xerr *err);
/* Prints a uuid for a ref just made. */
int xe_print_uuid_of(struct xe_ctx *x, int cls, const char *ref, struct xerr *err);

#endif
