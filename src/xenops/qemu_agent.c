/* qemu_agent: the qemu backend's agent_call — one qemu-ga command on the
 * VM's virtio-serial socket (<run-dir>/vm/<uuid>/ga.sock). Calls to one VM
 * are serialised: the chardev serves a single client at a time. */
#include "qemu_int.h"
#include "qmp.h"
#include "../base/mem.h"
#include "../base/jsonv.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t agent_lock = PTHREAD_MUTEX_INITIALIZER;

int qemu_agent_call(const struct xenops_host *host, const char *vm_uuid, const char *json_cmd, xv *result,
		    int timeout_ms, struct xerr *err)
{
	json_error_t je;
	json_t *cmd = json_loads(json_cmd, 0, &je);
	const char *name = cmd ? json_string_value(json_object_get(cmd, "execute")) : NULL;
	if (!name) {
		json_decref(cmd);
		return xerr_set(err, ERR_INTERNAL_ERROR, "agent_call: bad command", NULL);
	}
	json_t *args = json_object_get(cmd, "arguments");
	json_incref(args);
	char *dir = qemu_vm_dir(host->run_dir, vm_uuid);
	char *path = qemu_file(dir, "ga.sock");
	free(dir);
	json_t *ret = NULL;
	pthread_mutex_lock(&agent_lock);
	int r = qga_exec(path, name, args, true, &ret, timeout_ms, err);
	pthread_mutex_unlock(&agent_lock);
	free(path);
	json_decref(cmd);
	if (r < 0)
		return r;
	*result = XV_NIL_INIT;
	if (ret) {
		r = jsonv_from_jansson(ret, result, err);
		json_decref(ret);
		if (r < 0)
			return -1;
	}
	return 0;
}
