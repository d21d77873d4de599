/* Unit tests of formats/ova.c: what an /import body's first bytes are
 * (images by magic, an OVA by its first member, anything else, short
 * bodies), what each OVA member is for, and the new VM described from an
 * OVF (name, vCPUs, memory, disks in order with capacities and labels,
 * defaults, no disk) or for one bare image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "formats/ova.h"
#include "formats/tar.h"

#define MiB (INT64_C(1) << 20)

static void test_body_kind(void **state)
{
	(void)state;
	unsigned char b[OVA_SNIFF] = {0};
	assert_int_equal(ova_body_kind(b, sizeof b), OVA_BODY_OTHER);
	assert_int_equal(ova_body_kind(b, 0), OVA_BODY_OTHER);
	memcpy(b, "QFI\xfb", 4);
	assert_int_equal(ova_body_kind(b, sizeof b), OVA_BODY_IMAGE);
	assert_int_equal(ova_body_kind(b, 4), OVA_BODY_IMAGE); /* a body that short */
	memcpy(b, "KDMV", 4);
	assert_int_equal(ova_body_kind(b, sizeof b), OVA_BODY_IMAGE);
	memcpy(b, "conectix", 8);
	assert_int_equal(ova_body_kind(b, sizeof b), OVA_BODY_IMAGE);
	/* a tar: an OVA when its first member is the descriptor */
	tar_header(b, "vm/Web.OVF", 100);
	assert_int_equal(ova_body_kind(b, sizeof b), OVA_BODY_OVA);
	assert_int_equal(ova_body_kind(b, sizeof b - 1), OVA_BODY_OTHER); /* cut short */
	tar_header(b, "ova.xml", 100); /* an XVA */
	assert_int_equal(ova_body_kind(b, sizeof b), OVA_BODY_OTHER);
	tar_header(b, "disk.vmdk", 100);
	assert_int_equal(ova_body_kind(b, sizeof b), OVA_BODY_OTHER);
	tar_header(b, "x.ovf", 100);
	b[148] ^= 1; /* a damaged checksum */
	assert_int_equal(ova_body_kind(b, sizeof b), OVA_BODY_OTHER);
	/* a text VMDK descriptor is no image */
	memset(b, 0, sizeof b);
	memcpy(b, "# Disk DescriptorFile", 21);
	assert_int_equal(ova_body_kind(b, sizeof b), OVA_BODY_OTHER);
}

static void test_member_kind(void **state)
{
	(void)state;
	assert_int_equal(ova_member_kind("vm.ovf", 10), OVA_MEMBER_OVF);
	assert_int_equal(ova_member_kind("VM.Ovf", 10), OVA_MEMBER_OVF);
	assert_int_equal(ova_member_kind("vm.mf", 10), OVA_MEMBER_SKIP);
	assert_int_equal(ova_member_kind("vm.cert", 10), OVA_MEMBER_SKIP);
	assert_int_equal(ova_member_kind("empty.vmdk", 0), OVA_MEMBER_SKIP);
	assert_int_equal(ova_member_kind("disk1.vmdk", 10), OVA_MEMBER_FILE);
	assert_int_equal(ova_member_kind("../../etc/passwd", 10), OVA_MEMBER_FILE);
	assert_int_equal(ova_member_kind("ovf", 10), OVA_MEMBER_FILE);
}

static const char OVF[] =
	"<Envelope><References><File id='f1' href='b.vmdk'/><File id='f0' href='a.vmdk'/>"
	"<File id='f2' href='c.vmdk'/></References>"
	"<DiskSection><Disk diskId='d0' fileRef='f0' capacity='4' capacityAllocationUnits='byte * 2^20'/>"
	"<Disk diskId='d1' fileRef='f1'/>"
	"<Disk diskId='d2' fileRef='f2' capacity='1048576'/></DiskSection>"
	"<VirtualSystem id='vs'><Name>ova-vm</Name><VirtualHardwareSection>"
	"<Item><ResourceType>3</ResourceType><VirtualQuantity>2</VirtualQuantity></Item>"
	"<Item><AllocationUnits>byte * 2^20</AllocationUnits><ResourceType>4</ResourceType>"
	"<VirtualQuantity>768</VirtualQuantity></Item>"
	"</VirtualHardwareSection></VirtualSystem></Envelope>";

static void test_vm_from_ovf(void **state)
{
	(void)state;
	struct ovf o;
	struct xerr err = XERR_INIT;
	assert_int_equal(ovf_parse(OVF, strlen(OVF), &o, &err), 0);
	struct ova_vm vm;
	assert_int_equal(ova_vm_from_ovf(&o, &vm, &err), 0);
	ovf_free(&o);
	assert_string_equal(vm.name, "ova-vm");
	assert_string_equal(vm.description, "imported from an OVA");
	assert_int_equal(vm.vcpus, 2);
	assert_int_equal(vm.memory, 768 * MiB);
	/* the DiskSection's order, not the References' */
	assert_int_equal(vm.ndisks, 3);
	assert_string_equal(vm.disks[0].href, "a.vmdk");
	assert_string_equal(vm.disks[0].label, "ova-vm disk 0");
	assert_int_equal(vm.disks[0].capacity, 4 * MiB);
	assert_string_equal(vm.disks[1].href, "b.vmdk");
	assert_string_equal(vm.disks[1].label, "ova-vm disk 1");
	assert_int_equal(vm.disks[1].capacity, 0);
	assert_string_equal(vm.disks[2].href, "c.vmdk");
	assert_int_equal(vm.disks[2].capacity, MiB);
	ova_vm_free(&vm);
	assert_null(vm.disks);
}

static void test_vm_defaults_and_no_disk(void **state)
{
	(void)state;
	struct xerr err = XERR_INIT;
	struct ovf_disk d[2] = {{(char *)"x.vmdk", -5}, {(char *)"y.vmdk", INT64_MAX}};
	/* nothing given, or nonsense: name, one vCPU, 1 GiB */
	struct ovf o = {NULL, -3, 0, d, 2};
	struct ova_vm vm;
	assert_int_equal(ova_vm_from_ovf(&o, &vm, &err), 0);
	assert_string_equal(vm.name, OVA_DEFAULT_NAME);
	assert_int_equal(vm.vcpus, 1);
	assert_int_equal(vm.memory, OVA_DEFAULT_MEMORY);
	assert_string_equal(vm.disks[0].label, "imported VM disk 0");
	assert_int_equal(vm.disks[0].capacity, 0);
	assert_int_equal(vm.disks[1].capacity, INT64_MAX);
	ova_vm_free(&vm);
	o.name = (char *)"";
	o.memory = -1;
	assert_int_equal(ova_vm_from_ovf(&o, &vm, &err), 0);
	assert_string_equal(vm.name, OVA_DEFAULT_NAME);
	assert_int_equal(vm.memory, OVA_DEFAULT_MEMORY);
	ova_vm_free(&vm);
	/* no disk */
	o.ndisks = 0;
	o.name = (char *)"empty";
	assert_int_equal(ova_vm_from_ovf(&o, &vm, &err), -1);
	assert_string_equal(err.code, "IMPORT_ERROR");
	assert_string_equal(err.params[0], "the OVF describes no disk");
	xerr_clear(&err);
	assert_null(vm.name);
	ova_vm_free(&vm); /* harmless after a failure */
}

static void test_vm_from_image(void **state)
{
	(void)state;
	struct ova_vm vm;
	ova_vm_from_image("bare-qcow2", &vm);
	assert_string_equal(vm.name, "bare-qcow2");
	assert_string_equal(vm.description, "imported disk");
	assert_int_equal(vm.vcpus, 1);
	assert_int_equal(vm.memory, OVA_DEFAULT_MEMORY);
	assert_int_equal(vm.ndisks, 1);
	assert_null(vm.disks[0].href);
	assert_string_equal(vm.disks[0].label, "bare-qcow2 disk 0");
	assert_int_equal(vm.disks[0].capacity, 0);
	ova_vm_free(&vm);
	const char *none[] = {NULL, ""};
	for (size_t i = 0; i < 2; i++) {
		ova_vm_from_image(none[i], &vm);
		assert_string_equal(vm.name, OVA_DEFAULT_NAME);
		assert_string_equal(vm.disks[0].label, "imported VM disk 0");
		ova_vm_free(&vm);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_body_kind),
		cmocka_unit_test(test_member_kind),
		cmocka_unit_test(test_vm_from_ovf),
		cmocka_unit_test(test_vm_defaults_and_no_disk),
		cmocka_unit_test(test_vm_from_image),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
