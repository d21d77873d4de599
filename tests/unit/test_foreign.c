/* Unit tests of the foreign-image helpers: the OVF reader (name, vCPUs,
 * memory and disk capacities in the units exporters write, prefixes or
 * none, disks naming no file, not an envelope) and the image checks with
 * real qemu-img (magic sniffing, a clean image's size, and refusals: a
 * backing file, a cut-off image, the wrong format). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "sm/foreign.h"
#include "formats/ovf.h"
#include "sm/sm.h"

#define MiB (INT64_C(1) << 20)

static const char OVF_PREFIXED[] =
	"<?xml version='1.0'?>"
	"<ovf:Envelope xmlns:ovf='http://schemas.dmtf.org/ovf/envelope/1' "
	"xmlns:rasd='http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData'>"
	"<ovf:References><ovf:File ovf:id='f1' ovf:href='b.vmdk'/>"
	"<ovf:File ovf:id='f0' ovf:href='a.vmdk'/></ovf:References>"
	"<ovf:DiskSection><ovf:Disk ovf:diskId='d0' ovf:fileRef='f0' ovf:capacity='2' "
	"ovf:capacityAllocationUnits='byte * 2^30'/>"
	"<ovf:Disk ovf:diskId='d1' ovf:fileRef='f1' ovf:capacity='1048576'/></ovf:DiskSection>"
	"<ovf:VirtualSystem ovf:id='vs'><ovf:Name> web server </ovf:Name>"
	"<ovf:VirtualHardwareSection>"
	"<ovf:Item><rasd:ResourceType>3</rasd:ResourceType>"
	"<rasd:VirtualQuantity>4</rasd:VirtualQuantity></ovf:Item>"
	"<ovf:Item><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits>"
	"<rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>2048</rasd:VirtualQuantity>"
	"</ovf:Item></ovf:VirtualHardwareSection></ovf:VirtualSystem>"
	/* only the first system counts */
	"<ovf:VirtualSystem ovf:id='other'><ovf:Name>other</ovf:Name><ovf:VirtualHardwareSection>"
	"<ovf:Item><rasd:ResourceType>3</rasd:ResourceType>"
	"<rasd:VirtualQuantity>9</rasd:VirtualQuantity></ovf:Item>"
	"</ovf:VirtualHardwareSection></ovf:VirtualSystem>"
	"</ovf:Envelope>";

static void test_ovf_prefixed(void **state)
{
	(void)state;
	struct ovf o;
	struct xerr err = XERR_INIT;
	assert_int_equal(ovf_parse(OVF_PREFIXED, strlen(OVF_PREFIXED), &o, &err), 0);
	assert_string_equal(o.name, "web server");
	assert_int_equal(o.vcpus, 4);
	assert_int_equal(o.memory, 2048 * MiB);
	assert_int_equal(o.ndisks, 2);
	assert_string_equal(o.disks[0].href, "a.vmdk");
	assert_int_equal(o.disks[0].capacity, INT64_C(2) << 30);
	assert_string_equal(o.disks[1].href, "b.vmdk");
	assert_int_equal(o.disks[1].capacity, MiB);
	ovf_free(&o);
}

static void test_ovf_defaults_and_errors(void **state)
{
	(void)state;
	struct ovf o;
	struct xerr err = XERR_INIT;
	/* no prefixes, no Name (the system's id), memory without units: MB */
	const char *plain = "<Envelope><References/><VirtualSystem id='vm-7'>"
			    "<VirtualHardwareSection><Item><ResourceType>4</ResourceType>"
			    "<VirtualQuantity>512</VirtualQuantity></Item>"
			    "</VirtualHardwareSection></VirtualSystem></Envelope>";
	assert_int_equal(ovf_parse(plain, strlen(plain), &o, &err), 0);
	assert_string_equal(o.name, "vm-7");
	assert_int_equal(o.vcpus, 0);
	assert_int_equal(o.memory, 512 * MiB);
	assert_int_equal(o.ndisks, 0);
	ovf_free(&o);
	const char *nofile = "<Envelope><DiskSection><Disk diskId='d' fileRef='gone'/></DiskSection>"
			     "</Envelope>";
	assert_int_equal(ovf_parse(nofile, strlen(nofile), &o, &err), -1);
	assert_string_equal(err.code, "IMPORT_ERROR");
	xerr_clear(&err);
	const char *bad[] = {"<NotOvf/>", "<Envelope><unclosed></Envelope>", "", "junk"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(ovf_parse(bad[i], strlen(bad[i]), &o, &err), -1);
		assert_string_equal(err.code, "IMPORT_ERROR");
		xerr_clear(&err);
	}
}

static void test_sniff(void **state)
{
	(void)state;
	assert_string_equal(foreign_sniff("QFI\xfb\0\0\0\3", 8), "qcow2");
	assert_string_equal(foreign_sniff("KDMV\1\0\0\0", 8), "vmdk");
	assert_string_equal(foreign_sniff("conectix", 8), "vhd");
	assert_null(foreign_sniff("# Disk DescriptorFile", 21)); /* a VMDK text descriptor */
	assert_null(foreign_sniff("QFI", 3));
	assert_true(foreign_format("vmdk") && foreign_format("qcow2") && foreign_format("vhd"));
	assert_false(foreign_format("raw") || foreign_format("vdi") || foreign_format(NULL));
}

static int run_img(const char *a0, const char *a1, const char *a2, const char *a3,
		   const char *a4, const char *a5, const char *a6, const char *a7)
{
	const char *args[] = {a0, a1, a2, a3, a4, a5, a6, a7, NULL};
	struct xerr err = XERR_INIT;
	int rc = sm_qemu_img(args, NULL, SM_E_VDI_UNAVAILABLE, "test", &err);
	xerr_clear(&err);
	return rc;
}

static void test_inspect(void **state)
{
	(void)state;
	char dir[] = "/tmp/xenon-foreign-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *img = xasprintf("%s/a.qcow2", dir), *raw = xasprintf("%s/a.raw", dir);
	char *evil = xasprintf("%s/evil.qcow2", dir), *cut = xasprintf("%s/cut.vmdk", dir);
	char *vmdk = xasprintf("%s/a.vmdk", dir);
	FILE *f = fopen(raw, "w");
	for (int i = 0; i < 3 * 1024; i++)
		fprintf(f, "%01023d\n", i);
	fclose(f);
	assert_int_equal(run_img("convert", "-q", "-f", "raw", "-O", "qcow2", raw, img), 0);
	assert_int_equal(run_img("convert", "-q", "-f", "raw", "-O", "vmdk", raw, vmdk), 0);
	const char *cargs[] = {"create", "-q", "-f", "qcow2", "-u", "-b", raw, "-F", "raw", evil,
			       "1M", NULL};
	struct xerr err = XERR_INIT;
	assert_int_equal(sm_qemu_img(cargs, NULL, SM_E_VDI_UNAVAILABLE, "t", &err), 0);
	int64_t vs = 0;
	assert_int_equal(foreign_inspect(img, "qcow2", &vs, &err), 0);
	assert_int_equal(vs, 3 * MiB);
	assert_int_equal(foreign_inspect(vmdk, "vmdk", &vs, &err), 0);
	assert_int_equal(vs, 3 * MiB);
	/* a backing file */
	assert_int_equal(foreign_inspect(evil, "qcow2", &vs, &err), -1);
	assert_string_equal(err.code, "IMPORT_ERROR");
	xerr_clear(&err);
	/* the wrong format, or not an image */
	assert_int_equal(foreign_inspect(img, "vmdk", &vs, &err), -1);
	assert_string_equal(err.code, "IMPORT_ERROR");
	xerr_clear(&err);
	assert_int_equal(foreign_inspect(raw, "vhd", &vs, &err), -1);
	assert_string_equal(err.code, "IMPORT_ERROR");
	xerr_clear(&err);
	/* cut off half-way */
	char *cmd = xasprintf("head -c 1600000 %s > %s", vmdk, cut);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(foreign_inspect(cut, "vmdk", &vs, &err), -1);
	assert_string_equal(err.code, "IMPORT_ERROR");
	xerr_clear(&err);
	const char *names[] = {img, raw, evil, cut, vmdk};
	for (size_t i = 0; i < 5; i++) {
		unlink(names[i]);
		free((char *)names[i]);
	}
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ovf_prefixed),
		cmocka_unit_test(test_ovf_defaults_and_errors),
		cmocka_unit_test(test_sniff),
		cmocka_unit_test(test_inspect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
