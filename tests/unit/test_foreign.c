/* Unit tests of the foreign-image helpers: the OVF reader (name, vCPUs,
 * memory and disk capacities in the units exporters write, prefixes or
 * none, disks naming no file, not an envelope); formats/foreign.c's pure
 * checks on crafted headers and crafted qemu-img info JSON (hostile ones:
 * backing files and json: filenames, data files, extents and child nodes
 * elsewhere, huge and missing sizes, truncated headers and JSON); and the
 * checks with real qemu-img (a clean image's size, and refusals: a backing
 * file, a data file, a cut-off image, the wrong format). */
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
#include "formats/foreign.h"
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

static void expect_err(int rc, struct xerr *err, const char *code)
{
	assert_int_equal(rc, -1);
	assert_non_null(err->code);
	assert_string_equal(err->code, code);
	xerr_clear(err);
}

static void put_be(unsigned char *b, uint64_t v, size_t len)
{
	for (size_t i = len; i-- > 0; v >>= 8)
		b[i] = (unsigned char)v;
}

static void put_le(unsigned char *b, uint64_t v, size_t len)
{
	for (size_t i = 0; i < len; i++, v >>= 8)
		b[i] = (unsigned char)v;
}

/* A clean qcow2 header of version (2 or 3) and size bytes. */
static void qcow2_header(unsigned char *b, uint32_t version, uint64_t size)
{
	memset(b, 0, FOREIGN_HEADER_BYTES);
	memcpy(b, "QFI\xfb", 4);
	put_be(b + 4, version, 4);
	put_be(b + 20, 16, 4); /* 64 KiB clusters */
	put_be(b + 24, size, 8);
	if (version == 3) {
		put_be(b + 96, 4, 4);   /* refcount_order */
		put_be(b + 100, 104, 4); /* header_length */
	}
}

static void test_sniff_tail_and_names(void **state)
{
	(void)state;
	unsigned char b[1024] = {0};
	assert_null(foreign_sniff_tail(b, sizeof b));
	memcpy(b + 512, "conectix", 8);
	assert_string_equal(foreign_sniff_tail(b, sizeof b), "vhd");
	assert_null(foreign_sniff_tail(b + 512, 511)); /* shorter than a footer */
	assert_string_equal(foreign_qemu_fmt("vhd"), "vpc");
	assert_string_equal(foreign_qemu_fmt("vmdk"), "vmdk");
	assert_string_equal(foreign_qemu_fmt("qcow2"), "qcow2");
}

static void test_header_qcow2(void **state)
{
	(void)state;
	unsigned char b[FOREIGN_HEADER_BYTES];
	struct xerr err = XERR_INIT;
	qcow2_header(b, 3, 3 * MiB);
	assert_int_equal(foreign_check_header("qcow2", b, sizeof b, &err), 0);
	assert_int_equal(foreign_check_header("qcow2", b, 104, &err), 0);
	qcow2_header(b, 2, 3 * MiB);
	assert_int_equal(foreign_check_header("qcow2", b, 72, &err), 0);
	/* truncated: short of version 2's header, of version 3's, only the magic */
	expect_err(foreign_check_header("qcow2", b, 71, &err), &err, "IMPORT_ERROR");
	qcow2_header(b, 3, MiB);
	expect_err(foreign_check_header("qcow2", b, 103, &err), &err, "IMPORT_ERROR");
	expect_err(foreign_check_header("qcow2", b, 4, &err), &err, "IMPORT_ERROR");
	expect_err(foreign_check_header("qcow2", b, 0, &err), &err, "IMPORT_ERROR");
	/* a backing file (its offset, or only its length) */
	qcow2_header(b, 3, MiB);
	put_be(b + 8, 0x200, 8);
	expect_err(foreign_check_header("qcow2", b, sizeof b, &err), &err, "IMPORT_ERROR");
	qcow2_header(b, 2, MiB);
	put_be(b + 8, 0x48, 8);
	put_be(b + 16, 9, 4);
	memcpy(b + 0x48, "json:{}", 7);
	assert_int_equal(foreign_check_header("qcow2", b, sizeof b, &err), -1);
	assert_string_equal(err.params[0], FOREIGN_NAMES_OTHER_FILE);
	xerr_clear(&err);
	qcow2_header(b, 3, MiB);
	put_be(b + 16, 1, 4);
	expect_err(foreign_check_header("qcow2", b, sizeof b, &err), &err, "IMPORT_ERROR");
	/* an external data file (incompatible feature bit 2) */
	qcow2_header(b, 3, MiB);
	put_be(b + 72, 1 << 2, 8);
	expect_err(foreign_check_header("qcow2", b, sizeof b, &err), &err, "IMPORT_ERROR");
	/* huge: beyond the limit, and the largest 64-bit size */
	qcow2_header(b, 3, (uint64_t)FOREIGN_MAX_SIZE);
	assert_int_equal(foreign_check_header("qcow2", b, sizeof b, &err), 0);
	qcow2_header(b, 3, (uint64_t)FOREIGN_MAX_SIZE + 1);
	expect_err(foreign_check_header("qcow2", b, sizeof b, &err), &err, "VDI_TOO_LARGE");
	qcow2_header(b, 3, UINT64_MAX);
	expect_err(foreign_check_header("qcow2", b, sizeof b, &err), &err, "VDI_TOO_LARGE");
	/* unknown versions, absurd clusters */
	qcow2_header(b, 1, MiB);
	expect_err(foreign_check_header("qcow2", b, sizeof b, &err), &err, "IMPORT_ERROR");
	qcow2_header(b, 0xffffffff, MiB);
	expect_err(foreign_check_header("qcow2", b, sizeof b, &err), &err, "IMPORT_ERROR");
	qcow2_header(b, 3, MiB);
	put_be(b + 20, 63, 4);
	expect_err(foreign_check_header("qcow2", b, sizeof b, &err), &err, "IMPORT_ERROR");
	/* the magic of another format, or a format not taken */
	qcow2_header(b, 3, MiB);
	expect_err(foreign_check_header("vmdk", b, sizeof b, &err), &err, "IMPORT_ERROR");
	expect_err(foreign_check_header("raw", b, sizeof b, &err), &err, "INVALID_VALUE");
	expect_err(foreign_check_header(NULL, b, sizeof b, &err), &err, "INVALID_VALUE");
}

static void vmdk_header(unsigned char *b, uint32_t version, uint64_t sectors)
{
	memset(b, 0, FOREIGN_HEADER_BYTES);
	memcpy(b, "KDMV", 4);
	put_le(b + 4, version, 4);
	put_le(b + 12, sectors, 8);
	put_le(b + 20, 128, 8); /* grain size */
}

static void test_header_vmdk(void **state)
{
	(void)state;
	unsigned char b[FOREIGN_HEADER_BYTES];
	struct xerr err = XERR_INIT;
	for (uint32_t v = 1; v <= 3; v++) {
		vmdk_header(b, v, 6144);
		assert_int_equal(foreign_check_header("vmdk", b, sizeof b, &err), 0);
	}
	vmdk_header(b, 1, 6144);
	expect_err(foreign_check_header("vmdk", b, 78, &err), &err, "IMPORT_ERROR");
	vmdk_header(b, 0, 6144);
	expect_err(foreign_check_header("vmdk", b, sizeof b, &err), &err, "IMPORT_ERROR");
	vmdk_header(b, 1, (uint64_t)FOREIGN_MAX_SIZE / 512);
	assert_int_equal(foreign_check_header("vmdk", b, sizeof b, &err), 0);
	vmdk_header(b, 1, (uint64_t)FOREIGN_MAX_SIZE / 512 + 1);
	expect_err(foreign_check_header("vmdk", b, sizeof b, &err), &err, "VDI_TOO_LARGE");
	/* a capacity whose byte count wraps around 64 bits */
	vmdk_header(b, 1, UINT64_C(1) << 55);
	expect_err(foreign_check_header("vmdk", b, sizeof b, &err), &err, "VDI_TOO_LARGE");
	/* a text descriptor (naming its extents' files) is not a sparse extent */
	const char desc[] = "# Disk DescriptorFile\nRW 2048 FLAT \"/etc/shadow\" 0\n";
	expect_err(foreign_check_header("vmdk", desc, sizeof desc - 1, &err), &err, "IMPORT_ERROR");
}

static void vhd_footer(unsigned char *b, uint32_t type, uint64_t size)
{
	memset(b, 0, FOREIGN_HEADER_BYTES);
	memcpy(b, "conectix", 8);
	put_be(b + 12, 0x10000, 4);
	put_be(b + 40, size, 8);
	put_be(b + 48, size, 8);
	put_be(b + 60, type, 4);
}

static void test_header_vhd(void **state)
{
	(void)state;
	unsigned char b[FOREIGN_HEADER_BYTES];
	struct xerr err = XERR_INIT;
	vhd_footer(b, 2, 3 * MiB);
	assert_int_equal(foreign_check_header("vhd", b, sizeof b, &err), 0);
	vhd_footer(b, 3, 3 * MiB);
	assert_int_equal(foreign_check_header("vhd", b, sizeof b, &err), 0);
	/* differencing: it names its parent's file */
	vhd_footer(b, 4, 3 * MiB);
	assert_int_equal(foreign_check_header("vhd", b, sizeof b, &err), -1);
	assert_string_equal(err.params[0], FOREIGN_NAMES_OTHER_FILE);
	xerr_clear(&err);
	vhd_footer(b, 5, 3 * MiB);
	expect_err(foreign_check_header("vhd", b, sizeof b, &err), &err, "IMPORT_ERROR");
	vhd_footer(b, 3, 3 * MiB);
	expect_err(foreign_check_header("vhd", b, 63, &err), &err, "IMPORT_ERROR");
	vhd_footer(b, 3, UINT64_MAX);
	expect_err(foreign_check_header("vhd", b, sizeof b, &err), &err, "VDI_TOO_LARGE");
}

#define P "/sr/.import-x"

static int info(const char *json, int64_t *vs, struct xerr *err)
{
	return foreign_check_info(json, P, "qcow2", vs, err);
}

static void test_info(void **state)
{
	(void)state;
	struct xerr err = XERR_INIT;
	int64_t vs = 0;
	assert_int_equal(info("{\"virtual-size\": 3145728, \"filename\": \"" P "\", \"format\": "
			      "\"qcow2\", \"format-specific\": {\"type\": \"qcow2\", \"data\": "
			      "{\"compat\": \"1.1\"}}}", &vs, &err), 0);
	assert_int_equal(vs, 3 * MiB);
	/* a VMDK's extent that is the image itself; newer qemu-img's child nodes */
	assert_int_equal(info("{\"virtual-size\": 1048576, \"format-specific\": {\"data\": "
			      "{\"extents\": [{\"filename\": \"" P "\"}]}}, \"children\": [{\"name\": "
			      "\"file\", \"info\": {\"filename\": \"" P "\"}}, {\"name\": "
			      "\"extents.0\", \"info\": {\"filename\": \"" P "\"}}]}", &vs, &err), 0);
	assert_int_equal(vs, MiB);
	/* each a way of naming another file */
	static const char *const hostile[] = {
		"{\"virtual-size\": 1048576, \"backing-filename\": \"/etc/shadow\"}",
		"{\"virtual-size\": 1048576, \"backing-filename\": \"json:{\\\"driver\\\": \\\"raw\\\", "
		"\\\"file\\\": {\\\"driver\\\": \\\"file\\\", \\\"filename\\\": \\\"/etc/shadow\\\"}}\"}",
		"{\"virtual-size\": 1048576, \"full-backing-filename\": \"nbd://evil/x\"}",
		"{\"virtual-size\": 1048576, \"backing-filename-format\": \"raw\"}",
		"{\"virtual-size\": 1048576, \"backing-image\": {\"filename\": \"/x\"}}",
		"{\"virtual-size\": 1048576, \"backing-filename\": \"\"}",
		"{\"virtual-size\": 1048576, \"filename\": \"json:{\\\"file.filename\\\": \\\"/x\\\"}\"}",
		"{\"virtual-size\": 1048576, \"filename\": \"" P "x\"}",
		"{\"virtual-size\": 1048576, \"format-specific\": {\"data\": {\"data-file\": \"/dev/sda\"}}}",
		"{\"virtual-size\": 1048576, \"format-specific\": {\"data\": {\"data-file-raw\": true}}}",
		"{\"virtual-size\": 1048576, \"format-specific\": {\"data\": {\"extents\": "
		"[{\"filename\": \"" P "\"}, {\"filename\": \"/etc/passwd\"}]}}}",
		"{\"virtual-size\": 1048576, \"format-specific\": {\"data\": {\"extents\": "
		"[{\"filename\": \"json:{}\"}]}}}",
		"{\"virtual-size\": 1048576, \"format-specific\": {\"data\": {\"extents\": [{}]}}}",
		"{\"virtual-size\": 1048576, \"format-specific\": {\"data\": {\"extents\": "
		"[{\"filename\": 7}]}}}",
		"{\"virtual-size\": 1048576, \"children\": [{\"name\": \"backing\", \"info\": "
		"{\"filename\": \"" P "\"}}]}",
		"{\"virtual-size\": 1048576, \"children\": [{\"name\": \"data-file\", \"info\": "
		"{\"filename\": \"" P "\"}}]}",
		"{\"virtual-size\": 1048576, \"children\": [{\"name\": \"file\", \"info\": "
		"{\"filename\": \"/etc/shadow\"}}]}",
		"{\"virtual-size\": 1048576, \"children\": [{\"info\": {\"filename\": \"" P "\"}}]}",
		/* a backing file is refused before a size that is too large */
		"{\"virtual-size\": 9223372036854775807, \"backing-filename\": \"/x\"}",
	};
	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		assert_int_equal(info(hostile[i], &vs, &err), -1);
		assert_string_equal(err.code, "IMPORT_ERROR");
		assert_string_equal(err.params[0], FOREIGN_NAMES_OTHER_FILE);
		xerr_clear(&err);
	}
	/* sizes: the limit, past it, the largest int64, beyond 64 bits, not
	 * integers, none, zero, negative */
	char j[128];
	snprintf(j, sizeof j, "{\"virtual-size\": %lld}", (long long)FOREIGN_MAX_SIZE);
	assert_int_equal(info(j, &vs, &err), 0);
	snprintf(j, sizeof j, "{\"virtual-size\": %lld}", (long long)FOREIGN_MAX_SIZE + 1);
	expect_err(info(j, &vs, &err), &err, "VDI_TOO_LARGE");
	expect_err(info("{\"virtual-size\": 9223372036854775807}", &vs, &err), &err, "VDI_TOO_LARGE");
	static const char *const badsize[] = {
		"{\"virtual-size\": 99999999999999999999999999}", "{\"virtual-size\": 1e30}",
		"{\"virtual-size\": 1048576.5}", "{\"virtual-size\": \"1048576\"}", "{}",
		"{\"virtual-size\": 0}", "{\"virtual-size\": -1048576}",
		"{\"virtual-size\": -9223372036854775808}", "{\"virtual-size\": null}",
	};
	for (size_t i = 0; i < sizeof badsize / sizeof badsize[0]; i++)
		expect_err(info(badsize[i], &vs, &err), &err, "IMPORT_ERROR");
	/* not JSON, not an object, cut off, nothing */
	static const char *const junk[] = {"", "[]", "3145728", "{\"virtual-size\": 3145728",
					   "not json", "{\"virtual-size\": 1048576}}"};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		expect_err(info(junk[i], &vs, &err), &err, "IMPORT_ERROR");
	expect_err(info(NULL, &vs, &err), &err, "IMPORT_ERROR");
	assert_int_equal(vs, -1);
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
	/* an external data file (the image's clusters in another file) */
	char *dataf = xasprintf("%s/data.qcow2", dir), *datar = xasprintf("%s/data.raw", dir);
	const char *dargs[] = {"create", "-q", "-f", "qcow2", "-o", NULL, dataf, "1M", NULL};
	char *opt = xasprintf("data_file=%s", datar);
	dargs[5] = opt;
	assert_int_equal(sm_qemu_img(dargs, NULL, SM_E_VDI_UNAVAILABLE, "t", &err), 0);
	assert_int_equal(foreign_inspect(dataf, "qcow2", &vs, &err), -1);
	assert_string_equal(err.code, "IMPORT_ERROR");
	assert_string_equal(err.params[0], FOREIGN_NAMES_OTHER_FILE);
	xerr_clear(&err);
	unlink(dataf);
	unlink(datar);
	free(dataf);
	free(datar);
	free(opt);
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
		cmocka_unit_test(test_sniff_tail_and_names),
		cmocka_unit_test(test_header_qcow2),
		cmocka_unit_test(test_header_vmdk),
		cmocka_unit_test(test_header_vhd),
		cmocka_unit_test(test_info),
		cmocka_unit_test(test_inspect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
