/* ova: an import's body, members and new VM as plain data (see ova.h). */
#include "ova.h"
#include "foreign.h"
#include "tar.h"
#include "../base/mem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcasecmp(s + a - b, suffix);
}

enum ova_body ova_body_kind(const void *p, size_t n)
{
	const unsigned char *b = p;
	if (foreign_sniff(b, n))
		return OVA_BODY_IMAGE;
	char name[256];
	uint64_t size;
	if (n >= OVA_SNIFF && !memcmp(b + 257, "ustar", 5) && tar_parse(b, name, &size) == 0 &&
	    ends_with(name, ".ovf"))
		return OVA_BODY_OVA;
	return OVA_BODY_OTHER;
}

enum ova_member ova_member_kind(const char *name, uint64_t size)
{
	if (ends_with(name, ".ovf"))
		return OVA_MEMBER_OVF;
	if (ends_with(name, ".mf") || ends_with(name, ".cert") || !size)
		return OVA_MEMBER_SKIP;
	return OVA_MEMBER_FILE;
}

static void add_disk(struct ova_vm *vm, const char *href, int64_t capacity)
{
	vm->disks = xrealloc(vm->disks, (vm->ndisks + 1) * sizeof *vm->disks);
	struct ova_disk *d = &vm->disks[vm->ndisks];
	d->href = href ? xstrdup(href) : NULL;
	d->label = xasprintf("%s disk %zu", vm->name, vm->ndisks);
	d->capacity = capacity > 0 ? capacity : 0;
	vm->ndisks++;
}

int ova_vm_from_ovf(const struct ovf *o, struct ova_vm *out, struct xerr *err)
{
	memset(out, 0, sizeof *out);
	if (!o->ndisks)
		return xerr_set(err, ERR_IMPORT_ERROR, "the OVF describes no disk", NULL);
	out->name = xstrdup(o->name && *o->name ? o->name : OVA_DEFAULT_NAME);
	out->description = "imported from an OVA";
	out->vcpus = o->vcpus > 0 ? o->vcpus : 1;
	out->memory = o->memory > 0 ? o->memory : OVA_DEFAULT_MEMORY;
	for (size_t i = 0; i < o->ndisks; i++)
		add_disk(out, o->disks[i].href, o->disks[i].capacity);
	return 0;
}

void ova_vm_from_image(const char *name, struct ova_vm *out)
{
	memset(out, 0, sizeof *out);
	out->name = xstrdup(name && *name ? name : OVA_DEFAULT_NAME);
	out->description = "imported disk";
	out->vcpus = 1;
	out->memory = OVA_DEFAULT_MEMORY;
	add_disk(out, NULL, 0);
}

void ova_vm_free(struct ova_vm *vm)
{
	for (size_t i = 0; i < vm->ndisks; i++) {
		free(vm->disks[i].href);
		free(vm->disks[i].label);
	}
	free(vm->disks);
	free(vm->name);
	memset(vm, 0, sizeof *vm);
}
