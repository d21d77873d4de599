/* Unit tests of networking's pure parts: tap names vif<domid>.<devid> made
 * and read back (what fits in IFNAMSIZ, what is not a vif), and the NICs
 * of a QEMU command line — a tap opened by name, no scripts, the VIF's MAC,
 * virtio-net for direct boot, rtl8139 for firmware boot as xenopsd's
 * default, platform:nic_type when the template asks — and the keys of an
 * internal network's DHCP server and NAT (other_config) read or refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "net/dhcp_nat.h"
#include "net/net.h"
#include "xenops/qemu_int.h"

static void test_vif_names(void **state)
{
	(void)state;
	char n[NET_IFNAMSIZ];
	assert_true(net_vif_name(3, 0, n));
	assert_string_equal(n, "vif3.0");
	assert_true(net_vif_name(1234567, 12, n));
	assert_string_equal(n, "vif1234567.12");
	assert_false(net_vif_name(123456789012LL, 0, n)); /* longer than IFNAMSIZ allows */
	assert_false(net_vif_name(-1, 0, n));
	int64_t d;
	int dev;
	assert_true(net_vif_parse("vif3.0", &d, &dev));
	assert_int_equal(d, 3);
	assert_int_equal(dev, 0);
	assert_true(net_vif_parse("vif42.7", &d, &dev));
	assert_int_equal(d, 42);
	assert_int_equal(dev, 7);
	static const char *const not_vifs[] = {"vif", "vif3", "vif3.", "vif.0", "vif3.0x", "vifa.0",
					       "tap3.0", "xenbr0", "vif3.0.1", "vif-1.0", NULL};
	for (const char *const *s = not_vifs; *s; s++)
		assert_false(net_vif_parse(*s, &d, &dev));
}

static void spec_init(struct vm_spec *s, enum vm_boot boot)
{
	memset(s, 0, sizeof *s);
	snprintf(s->uuid, sizeof s->uuid, "0b8e3b1e-1111-4a4a-9c9c-123456789abc");
	snprintf(s->ref, sizeof s->ref, "OpaqueRef:0b8e3b1e-1111-4a4a-9c9c-123456789abc");
	s->domid = 7;
	s->vcpus_max = s->vcpus_at_startup = 1;
	s->memory_static_max = s->memory_dynamic_max = 256 << 20;
	s->platform = xv_map_new();
	s->hvm_boot_params = xv_map_new();
	s->other_config = xv_map_new();
	s->boot = boot;
	snprintf(s->firmware, sizeof s->firmware, "bios");
	s->boot_order = xstrdup("cd");
	s->pv_kernel = xstrdup("/k/vmlinuz");
	s->pv_ramdisk = xstrdup("");
	s->pv_args = xstrdup("");
	s->pv_bootloader = xstrdup("");
	s->nics = xcalloc(3, sizeof *s->nics);
	s->nnics = 2;
	s->nics[0] = (struct vm_nic){.device = 0, .mac = "02:16:3e:00:00:01", .bridge = "xapi0", .mtu = 1500};
	s->nics[1] = (struct vm_nic){.device = 3, .mac = "02:16:3e:00:00:04", .bridge = "xapi1", .mtu = 9000};
}

/* Every argument after flag, joined by '|'. */
static char *all_of(const struct qemu_argv *a, const char *flag)
{
	char *out = xstrdup("");
	for (size_t i = 0; i + 1 < a->n; i++) {
		if (strcmp(a->v[i], flag) != 0)
			continue;
		char *n = xasprintf("%s%s|", out, a->v[i + 1]);
		free(out);
		out = n;
	}
	return out;
}

static void check_nics(enum vm_boot boot, const char *nic_type, const char *model)
{
	struct qemu_host h = {.binary = xstrdup("qemu-system-x86_64"), .accel = xstrdup("tcg")};
	struct vm_spec s;
	spec_init(&s, boot);
	if (nic_type)
		xv_map_set_str(&s.platform, "nic_type", nic_type);
	struct qemu_argv a;
	struct xerr err = XERR_INIT;
	assert_int_equal(qemu_argv_build(&h, &s, "/run/vm/x", false, &a, &err), 0);
	char *netdevs = all_of(&a, "-netdev"), *devices = all_of(&a, "-device");
	assert_string_equal(netdevs, "tap,id=vif0,ifname=vif7.0,script=no,downscript=no|"
				     "tap,id=vif3,ifname=vif7.3,script=no,downscript=no|");
	char *want0 = xasprintf("%s,id=nic0,netdev=vif0,mac=02:16:3e:00:00:01|", model);
	char *want3 = xasprintf("%s,id=nic3,netdev=vif3,mac=02:16:3e:00:00:04|", model);
	assert_non_null(strstr(devices, want0));
	assert_non_null(strstr(devices, want3));
	free(want0);
	free(want3);
	free(netdevs);
	free(devices);
	qemu_argv_free(&a);
	vm_spec_free(&s);
	qemu_host_free(&h);
}

static void test_nic_argv(void **state)
{
	(void)state;
	check_nics(VM_BOOT_DIRECT, NULL, "virtio-net-pci");
	check_nics(VM_BOOT_FIRMWARE, NULL, "rtl8139");
	check_nics(VM_BOOT_FIRMWARE, "e1000", "e1000");
	/* a value that is not a device name is not passed to QEMU */
	check_nics(VM_BOOT_FIRMWARE, "e1000,romfile=/etc/passwd", "rtl8139");
}

/* ip_begin/ip_end/netmask, dhcp, nat: the host's address and the range,
 * or INVALID_VALUE naming the key. */
static void test_dhcp_nat_keys(void **state)
{
	(void)state;
	struct net_dhcp_nat c;
	struct xerr e = XERR_INIT;
	assert_int_equal(net_dhcp_nat_parse(NULL, NULL, NULL, NULL, NULL, &c, &e), 1);
	assert_int_equal(net_dhcp_nat_parse("10.0.0.1", "10.0.0.9", "255.255.255.0", "false", "no", &c, &e), 1);
	assert_int_equal(net_dhcp_nat_parse("10.1.2.1", "10.1.2.200", "255.255.255.0", "true", "true", &c, &e), 0);
	assert_true(c.dhcp && c.nat);
	assert_int_equal(c.host_addr, 0x0a010201);
	assert_int_equal(c.netmask, 0xffffff00);
	assert_int_equal(c.range_lo, 0x0a010202);
	assert_int_equal(c.range_hi, 0x0a0102c8);
	/* NAT alone needs no range */
	assert_int_equal(net_dhcp_nat_parse("192.168.7.1", NULL, "255.255.0.0", NULL, "true", &c, &e), 0);
	assert_false(c.dhcp);
	static const struct {
		const char *b, *end, *mask, *key, *value;
	} bad[] = {
		{"10.0.0.x", "10.0.0.9", "255.255.255.0", "other_config:ip_begin", "10.0.0.x"},
		{NULL, "10.0.0.9", "255.255.255.0", "other_config:ip_begin", ""},
		{"10.0.0.0", "10.0.0.9", "255.255.255.0", "other_config:ip_begin", "10.0.0.0"},
		{"10.0.0.255", "10.0.0.9", "255.255.255.0", "other_config:ip_begin", "10.0.0.255"},
		{"10.0.0.1", "10.0.0.9", "255.0.255.0", "other_config:netmask", "255.0.255.0"},
		{"10.0.0.1", "10.0.0.9", "255.255.255.254", "other_config:netmask", "255.255.255.254"},
		{"10.0.0.1", "10.0.0.9", "", "other_config:netmask", ""},
		{"10.0.0.1", "10.0.1.9", "255.255.255.0", "other_config:ip_end", "10.0.1.9"},
		{"10.0.0.5", "10.0.0.5", "255.255.255.0", "other_config:ip_end", "10.0.0.5"},
		{"10.0.0.1", "10.0.0.255", "255.255.255.0", "other_config:ip_end", "10.0.0.255"},
		{"10.0.0.1", NULL, "255.255.255.0", "other_config:ip_end", ""},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(net_dhcp_nat_parse(bad[i].b, bad[i].end, bad[i].mask, "true", NULL, &c, &e), -1);
		assert_string_equal(e.code, "INVALID_VALUE");
		assert_int_equal(e.nparams, 2);
		assert_string_equal(e.params[0], bad[i].key);
		assert_string_equal(e.params[1], bad[i].value);
		xerr_clear(&e);
	}
	char table[32];
	net_dhcp_nat_table("xapi3", table);
	assert_string_equal(table, "xenon_xapi3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vif_names),
		cmocka_unit_test(test_nic_argv),
		cmocka_unit_test(test_dhcp_nat_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
