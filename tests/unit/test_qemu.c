/* Unit tests of the QEMU backend's pure parts: the command line a vm_spec
 * turns into (boot methods, disks and their buses, boot order, vCPU
 * topology, escaping, xapi's errors for what cannot be built) and the QMP
 * client against a fake monitor (greeting, ids matched across interleaved
 * events, errors, timeouts, the peer going away). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/mem.h"
#include "xenops/qemu_int.h"
#include "xenops/qmp.h"

/* ---- the command line ---- */

static struct qemu_host host(void)
{
	struct qemu_host h = {0};
	h.binary = xstrdup("qemu-system-x86_64");
	h.accel = xstrdup("kvm:tcg");
	return h;
}

static void spec_init(struct vm_spec *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->uuid, sizeof s->uuid, "0b8e3b1e-1111-4a4a-9c9c-123456789abc");
	snprintf(s->ref, sizeof s->ref, "OpaqueRef:0b8e3b1e-1111-4a4a-9c9c-123456789abc");
	s->vcpus_max = 4;
	s->vcpus_at_startup = 2;
	s->memory_static_max = 256 << 20;
	s->memory_dynamic_max = 256 << 20;
	s->platform = xv_map_new();
	s->hvm_boot_params = xv_map_new();
	s->other_config = xv_map_new();
	s->boot = VM_BOOT_DIRECT;
	snprintf(s->firmware, sizeof s->firmware, "bios");
	s->boot_order = xstrdup("cd");
	s->pv_kernel = xstrdup("/k/vmlinuz");
	s->pv_ramdisk = xstrdup("/k/initrd.img");
	s->pv_args = xstrdup("console=ttyS0 root=/dev/vda");
	s->pv_bootloader = xstrdup("");
}

static void add_disk(struct vm_spec *s, int pos, const char *path, bool cd, bool ro)
{
	s->disks = xrealloc(s->disks, (s->ndisks + 1) * sizeof *s->disks);
	struct vm_disk *d = &s->disks[s->ndisks++];
	memset(d, 0, sizeof *d);
	d->position = pos;
	d->path = path ? xstrdup(path) : NULL;
	snprintf(d->format, sizeof d->format, "%s", cd ? "raw" : "qcow2");
	d->is_cdrom = cd;
	d->read_only = ro;
}

/* The argument after flag whose value starts with prefix (NULL if none). */
static const char *arg_of(const struct qemu_argv *a, const char *flag, const char *prefix)
{
	for (size_t i = 0; i + 1 < a->n; i++)
		if (!strcmp(a->v[i], flag) && !strncmp(a->v[i + 1], prefix, strlen(prefix)))
			return a->v[i + 1];
	return NULL;
}

static void test_direct_boot(void **state)
{
	(void)state;
	struct qemu_host h = host();
	struct vm_spec s;
	spec_init(&s);
	xv_map_set_str(&s.platform, "cores-per-socket", "2");
	add_disk(&s, 0, "/sr/a,b.qcow2", false, false);
	add_disk(&s, 3, NULL, true, true);
	struct qemu_argv a;
	struct xerr err = XERR_INIT;
	assert_int_equal(qemu_argv_build(&h, &s, "/run/vm/x", false, &a, &err), 0);
	assert_null(a.v[a.n]);
	assert_string_equal(a.v[0], "qemu-system-x86_64");
	assert_non_null(arg_of(&a, "-name", "guest=0b8e3b1e-1111-4a4a-9c9c-123456789abc,"));
	assert_non_null(arg_of(&a, "-accel", "kvm"));
	assert_non_null(arg_of(&a, "-accel", "tcg"));
	assert_string_equal(arg_of(&a, "-m", ""), "256M");
	assert_string_equal(arg_of(&a, "-smp", ""), "cpus=2,maxcpus=4,sockets=2,cores=2,threads=1");
	assert_string_equal(arg_of(&a, "-kernel", ""), "/k/vmlinuz");
	assert_string_equal(arg_of(&a, "-initrd", ""), "/k/initrd.img");
	assert_string_equal(arg_of(&a, "-append", ""), "console=ttyS0 root=/dev/vda");
	assert_string_equal(arg_of(&a, "-pidfile", ""), "/run/vm/x/qemu.pid");
	assert_non_null(arg_of(&a, "-chardev", "socket,id=qmp,path=/run/vm/x/qmp.sock,server=on,wait=off"));
	assert_non_null(arg_of(&a, "-chardev", "socket,id=serial0,path=/run/vm/x/serial.sock,server=on,wait=off,"
					       "logfile=/run/vm/x/serial.log,logappend=on"));
	assert_string_equal(arg_of(&a, "-vnc", ""), "unix:/run/vm/x/vnc.sock");
	/* a comma in a path is doubled; direct boot puts disks on virtio */
	assert_non_null(arg_of(&a, "-blockdev", "driver=file,node-name=vbd0-file,filename=/sr/a,,b.qcow2,read-only=off"));
	assert_non_null(arg_of(&a, "-blockdev", "driver=qcow2,node-name=vbd0,file=vbd0-file,read-only=off"));
	assert_non_null(arg_of(&a, "-device", "virtio-blk-pci,id=vbd0,drive=vbd0"));
	assert_string_equal(arg_of(&a, "-device", "ide-cd"), "ide-cd,bus=ide.1,unit=1,id=vbd3");
	assert_non_null(arg_of(&a, "-S", "-daemonize"));
	assert_null(arg_of(&a, "-incoming", ""));
	qemu_argv_free(&a);
	assert_int_equal(qemu_argv_build(&h, &s, "/run/vm/x", true, &a, &err), 0);
	assert_string_equal(arg_of(&a, "-incoming", ""), "defer");
	qemu_argv_free(&a);
	vm_spec_free(&s);
	qemu_host_free(&h);
}

static void test_firmware_boot(void **state)
{
	(void)state;
	struct qemu_host h = host();
	free(h.accel);
	h.accel = NULL; /* no hardware virtualisation: TCG alone */
	struct vm_spec s;
	spec_init(&s);
	s.boot = VM_BOOT_FIRMWARE;
	free(s.boot_order);
	s.boot_order = xstrdup("dc");
	add_disk(&s, 0, "/sr/a.qcow2", false, false);
	add_disk(&s, 1, "/sr/b.qcow2", false, true);
	add_disk(&s, 3, "/iso/x.iso", true, true);
	add_disk(&s, 5, "/sr/c.qcow2", false, false);
	struct qemu_argv a;
	struct xerr err = XERR_INIT;
	assert_int_equal(qemu_argv_build(&h, &s, "/r", false, &a, &err), 0);
	assert_string_equal(arg_of(&a, "-accel", ""), "tcg");
	assert_null(arg_of(&a, "-accel", "kvm"));
	assert_null(arg_of(&a, "-kernel", ""));
	/* order "dc": the CD first, then the disks in device order */
	assert_non_null(arg_of(&a, "-device", "ide-cd,bus=ide.1,unit=1,id=vbd3,drive=vbd3,bootindex=0"));
	assert_non_null(arg_of(&a, "-device", "ide-hd,bus=ide.0,unit=0,id=vbd0,drive=vbd0,bootindex=1"));
	assert_non_null(arg_of(&a, "-device", "ide-hd,bus=ide.0,unit=1,id=vbd1,drive=vbd1,bootindex=2"));
	assert_non_null(arg_of(&a, "-device", "virtio-blk-pci,id=vbd5,drive=vbd5,bootindex=3"));
	assert_non_null(arg_of(&a, "-blockdev", "driver=file,node-name=vbd1-file,filename=/sr/b.qcow2,read-only=on"));
	assert_non_null(arg_of(&a, "-blockdev", "driver=raw,node-name=vbd3,file=vbd3-file,read-only=on"));
	assert_null(arg_of(&a, "-drive", "if=pflash"));
	qemu_argv_free(&a);

	/* UEFI: the code read-only, the VM's own variable store */
	snprintf(s.firmware, sizeof s.firmware, "uefi");
	assert_int_equal(qemu_argv_build(&h, &s, "/r", false, &a, &err), -1);
	assert_string_equal(err.code, "INTERNAL_ERROR");
	xerr_clear(&err);
	h.ovmf_code = xstrdup("/fw/CODE.fd");
	h.ovmf_vars = xstrdup("/fw/VARS.fd");
	assert_int_equal(qemu_argv_build(&h, &s, "/r", false, &a, &err), 0);
	assert_non_null(arg_of(&a, "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd"));
	assert_non_null(arg_of(&a, "-drive", "if=pflash,format=raw,unit=1,file=/r/OVMF_VARS.fd"));
	qemu_argv_free(&a);
	vm_spec_free(&s);
	qemu_host_free(&h);
}

static void expect_error(struct vm_spec *s, const char *code, const char *p0, const char *p1)
{
	struct qemu_host h = host();
	struct qemu_argv a;
	struct xerr err = XERR_INIT;
	assert_int_equal(qemu_argv_build(&h, s, "/r", false, &a, &err), -1);
	assert_null(a.v);
	assert_string_equal(err.code, code);
	if (p0)
		assert_string_equal(err.params[0], p0);
	if (p1)
		assert_string_equal(err.params[1], p1);
	xerr_clear(&err);
	qemu_host_free(&h);
}

static void test_errors(void **state)
{
	(void)state;
	struct vm_spec s;
	spec_init(&s);
	xv_map_set_str(&s.platform, "cores-per-socket", "3"); /* 4 vCPUs */
	expect_error(&s, "INVALID_VALUE", "platform:cores-per-socket", NULL);
	xv_map_set_str(&s.platform, "cores-per-socket", "2");
	free(s.pv_kernel);
	s.pv_kernel = xstrdup("");
	expect_error(&s, "BOOTLOADER_FAILED", s.ref, NULL);
	s.boot = VM_BOOT_BOOTLOADER;
	free(s.pv_bootloader);
	s.pv_bootloader = xstrdup("pygrub");
	expect_error(&s, "UNKNOWN_BOOTLOADER", s.ref, "pygrub");
	s.boot = VM_BOOT_FIRMWARE;
	snprintf(s.firmware, sizeof s.firmware, "coreboot");
	expect_error(&s, "INVALID_VALUE", "HVM_boot_params:firmware", "coreboot");
	snprintf(s.firmware, sizeof s.firmware, "bios");
	free(s.boot_order);
	s.boot_order = xstrdup("cx");
	expect_error(&s, "INVALID_VALUE", "HVM_boot_params:order", "cx");
	free(s.boot_order);
	s.boot_order = xstrdup("c");
	add_disk(&s, 5, "/iso/x.iso", true, true); /* CD drives live on IDE: 0-3 */
	expect_error(&s, "INVALID_DEVICE", "5", NULL);
	vm_spec_free(&s);
}

/* ---- QMP against a fake monitor ---- */

struct fake {
	char path[108];
	int listen_fd;
	pthread_t thread;
	int mode; /* 0: well-behaved; 1: close after capabilities */
};

static void say(int fd, const char *line)
{
	size_t n = strlen(line);
	assert_int_equal(write(fd, line, n), (ssize_t)n);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->listen_fd, NULL, NULL);
	say(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n");
	FILE *in = fdopen(dup(fd), "r");
	char line[4096];
	while (fgets(line, sizeof line, in)) {
		json_t *m = json_loads(line, 0, NULL);
		const char *cmd = json_string_value(json_object_get(m, "execute"));
		json_int_t id = json_integer_value(json_object_get(m, "id"));
		char out[512];
		if (!strcmp(cmd, "qmp_capabilities")) {
			snprintf(out, sizeof out, "{\"return\": {}, \"id\": %lld}\n", (long long)id);
			say(fd, out);
			if (f->mode == 1) {
				json_decref(m);
				break;
			}
		} else if (!strcmp(cmd, "query-status")) {
			/* an event and a stray reply come first */
			say(fd, "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, \"reason\": \"guest-reset\"}}\n");
			say(fd, "{\"return\": {}, \"id\": 99999}\n");
			snprintf(out, sizeof out, "{\"return\": {\"status\": \"running\"}, \"id\": %lld}\n", (long long)id);
			say(fd, out);
		} else if (!strcmp(cmd, "bogus")) {
			snprintf(out, sizeof out,
				 "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command bogus has not been found\"}, \"id\": %lld}\n",
				 (long long)id);
			say(fd, out);
		} /* "silent": no reply at all */
		json_decref(m);
	}
	fclose(in);
	close(fd);
	return NULL;
}

static void fake_start(struct fake *f, int mode)
{
	memset(f, 0, sizeof *f);
	f->mode = mode;
	snprintf(f->path, sizeof f->path, "/tmp/xenon-qmp-test-%d.sock", (int)getpid());
	unlink(f->path);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, f->path);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(f->listen_fd, 1), 0);
	pthread_create(&f->thread, NULL, fake_main, f);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	unlink(f->path);
}

struct seen {
	pthread_mutex_t lock;
	char last_event[64], reason[64];
	int closed;
};

static void on_event(void *arg, const char *name, json_t *data)
{
	struct seen *s = arg;
	pthread_mutex_lock(&s->lock);
	snprintf(s->last_event, sizeof s->last_event, "%s", name);
	const char *r = json_string_value(json_object_get(data, "reason"));
	snprintf(s->reason, sizeof s->reason, "%s", r ? r : "");
	pthread_mutex_unlock(&s->lock);
}

static void on_closed(void *arg)
{
	struct seen *s = arg;
	pthread_mutex_lock(&s->lock);
	s->closed++;
	pthread_mutex_unlock(&s->lock);
}

static void test_qmp_client(void **state)
{
	(void)state;
	struct fake f;
	fake_start(&f, 0);
	struct seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct qmp_handlers h = {.event = on_event, .closed = on_closed, .arg = &seen};
	struct xerr err = XERR_INIT;
	struct qmp *q = qmp_open(f.path, 2000, &h, &err);
	assert_non_null(q);
	json_t *ret = NULL;
	assert_int_equal(qmp_exec(q, "query-status", NULL, &ret, 2000, &err), 0);
	assert_string_equal(json_string_value(json_object_get(ret, "status")), "running");
	json_decref(ret);
	/* the event came before the reply, so it has been delivered */
	assert_string_equal(seen.last_event, "SHUTDOWN");
	assert_string_equal(seen.reason, "guest-reset");
	assert_int_equal(qmp_exec(q, "bogus", NULL, NULL, 2000, &err), -1);
	assert_string_equal(err.code, "INTERNAL_ERROR");
	assert_non_null(strstr(err.params[0], "The command bogus has not been found"));
	xerr_clear(&err);
	assert_int_equal(qmp_exec(q, "silent", NULL, NULL, 200, &err), -1);
	assert_non_null(strstr(err.params[0], "no reply within 200 ms"));
	xerr_clear(&err);
	assert_false(qmp_is_closed(q));
	qmp_close(q); /* ours: no closed callback */
	fake_stop(&f);
	assert_int_equal(seen.closed, 0);

	/* the peer goes away: callback, and commands fail at once */
	fake_start(&f, 1);
	q = qmp_open(f.path, 2000, &h, &err);
	assert_non_null(q);
	fake_stop(&f);
	for (int i = 0; i < 200 && !qmp_is_closed(q); i++)
		usleep(10000);
	assert_true(qmp_is_closed(q));
	assert_int_equal(seen.closed, 1);
	assert_int_equal(qmp_exec(q, "query-status", NULL, NULL, 2000, &err), -1);
	assert_non_null(strstr(err.params[0], "closed"));
	xerr_clear(&err);
	qmp_close(q);

	/* nobody listening */
	assert_null(qmp_open("/nonexistent/qmp.sock", 200, NULL, &err));
	assert_string_equal(err.code, "INTERNAL_ERROR");
	xerr_clear(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_boot),
		cmocka_unit_test(test_firmware_boot),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_qmp_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
