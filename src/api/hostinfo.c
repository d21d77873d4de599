/* hostinfo: reads the machine's own description (see hostinfo.h). Every
 * reader tolerates a missing or odd file — containers and non-x86 kernels
 * leave gaps — and falls back to a value that keeps the records valid. */
#include "hostinfo.h"
#include "../base/mem.h"
#include "../base/uuid.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <ifaddrs.h>
#include <libgen.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

/* ---- small file readers ---- */

/* First line of a file without its newline; false if unreadable or empty. */
static bool read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	bool ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (!ok)
		return false;
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0] != '\0';
}

static bool read_sysfs(const char *iface, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "/sys/class/net/%s/%s", iface, attr);
	return read_line(path, buf, len);
}

/* Basename of a symlink's target ("../../0000:00:03.0" -> "0000:00:03.0"). */
static bool link_base(const char *path, char *buf, size_t len)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof target - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	snprintf(buf, len, "%s", basename(target));
	return true;
}

/* Bounded copy: interface names are short, d_name's buffer is not. */
static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* ---- memory, boot time, kernel ---- */

static int64_t meminfo_kb(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	if (!f)
		return 0;
	char line[256];
	size_t klen = strlen(key);
	long long kb = 0;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			kb = atoll(line + klen + 1);
			break;
		}
	}
	fclose(f);
	return kb;
}

static int64_t read_boot_time(int64_t now)
{
	FILE *f = fopen("/proc/stat", "r");
	long long bt = 0;
	if (f) {
		char line[256];
		while (fgets(line, sizeof line, f))
			if (sscanf(line, "btime %lld", &bt) == 1)
				break;
		fclose(f);
	}
	return bt > 0 ? bt : now;
}

static char *read_kernel(void)
{
	struct utsname u;
	return xstrdup(uname(&u) == 0 ? u.release : "");
}

/* ---- CPUs ---- */

static void cpu_set_str(char **dst, const char *val)
{
	free(*dst);
	*dst = xstrdup(val);
}

/* One "key : value" line of /proc/cpuinfo into the current CPU. */
static void cpu_parse_line(struct hostinfo_cpu *c, const char *key, const char *val,
			   int *cores, int *siblings)
{
	if (strcmp(key, "vendor_id") == 0)
		cpu_set_str(&c->vendor, val);
	else if (strcmp(key, "model name") == 0)
		cpu_set_str(&c->modelname, val);
	else if (strcmp(key, "stepping") == 0)
		cpu_set_str(&c->stepping, val);
	else if (strcmp(key, "flags") == 0)
		cpu_set_str(&c->flags, val);
	else if (strcmp(key, "cpu MHz") == 0)
		cpu_set_str(&c->speed, val);
	else if (strcmp(key, "cpu family") == 0)
		c->family = atoll(val);
	else if (strcmp(key, "model") == 0)
		c->model = atoll(val);
	else if (strcmp(key, "physical id") == 0)
		c->physid = atoi(val);
	else if (strcmp(key, "cpu cores") == 0)
		*cores = atoi(val);
	else if (strcmp(key, "siblings") == 0)
		*siblings = atoi(val);
}

static struct hostinfo_cpu *cpu_push(struct hostinfo *hi, size_t *cap)
{
	if (hi->ncpus == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		hi->cpus = xrealloc(hi->cpus, *cap * sizeof *hi->cpus);
	}
	struct hostinfo_cpu *c = &hi->cpus[hi->ncpus++];
	memset(c, 0, sizeof *c);
	return c;
}

static int count_sockets(const struct hostinfo *hi)
{
	int n = 0;
	for (size_t i = 0; i < hi->ncpus; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = hi->cpus[j].physid == hi->cpus[i].physid;
		n += !seen;
	}
	return n > 0 ? n : 1;
}

/* Fields /proc/cpuinfo did not give (non-x86 kernels) become "" so every
 * consumer can treat them as strings. */
static void cpu_fill_blanks(struct hostinfo_cpu *c)
{
	char **s[] = {&c->vendor, &c->modelname, &c->stepping, &c->flags, &c->speed};
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
		if (!*s[i])
			*s[i] = xstrdup(s[i] == &c->speed ? "0" : "");
}

static void read_cpus(struct hostinfo *hi)
{
	size_t cap = 0;
	int cores = 0, siblings = 0;
	FILE *f = fopen("/proc/cpuinfo", "r");
	char *line = NULL;
	size_t llen = 0;
	struct hostinfo_cpu *cur = NULL;
	while (f && getline(&line, &llen, f) > 0) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *key = trim(line), *val = trim(colon + 1);
		if (strcmp(key, "processor") == 0)
			cur = cpu_push(hi, &cap);
		else if (cur)
			cpu_parse_line(cur, key, val, &cores, &siblings);
	}
	free(line);
	if (f)
		fclose(f);
	if (hi->ncpus == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		for (long i = 0; i < (n > 0 ? n : 1); i++)
			cpu_push(hi, &cap);
	}
	for (size_t i = 0; i < hi->ncpus; i++)
		cpu_fill_blanks(&hi->cpus[i]);
	hi->sockets = count_sockets(hi);
	hi->threads_per_core = cores > 0 && siblings >= cores ? siblings / cores : 1;
}

/* xapi reports the CPU's feature leaves as dash-separated 32-bit words in
 * Xen's featureset order; pool joins compare them. */
static char *read_features(void)
{
#if defined(__x86_64__) || defined(__i386__)
	static const struct {
		unsigned leaf, sub;
		int reg; /* 0 eax, 1 ebx, 2 ecx, 3 edx */
	} words[] = {
		{1, 0, 3}, {1, 0, 2}, {0x80000001, 0, 3}, {0x80000001, 0, 2}, {0xd, 1, 0},
		{7, 0, 1}, {7, 0, 2}, {0x80000007, 0, 3}, {0x80000008, 0, 1}, {7, 0, 3},
	};
	unsigned max = __get_cpuid_max(0, NULL), emax = __get_cpuid_max(0x80000000, NULL);
	char buf[16 * 10];
	size_t off = 0;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		unsigned r[4] = {0, 0, 0, 0};
		unsigned leaf = words[i].leaf;
		bool ok = leaf >= 0x80000000 ? leaf <= emax : leaf <= max;
		if (ok)
			__cpuid_count(leaf, words[i].sub, r[0], r[1], r[2], r[3]);
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%08x", i ? "-" : "",
					r[words[i].reg]);
	}
	return xstrdup(buf);
#else
	return xstrdup("");
#endif
}

/* ---- network ---- */

static bool ipv4_of(const struct sockaddr *sa, char *buf, size_t len)
{
	if (!sa || sa->sa_family != AF_INET)
		return false;
	return inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
			 (socklen_t)len) != NULL;
}

/* The management interface: the one holding `want` if given, else the
 * first up, non-loopback interface with an IPv4 address. */
static void find_address(struct hostinfo *hi, const char *want, char *iface, size_t iflen)
{
	struct ifaddrs *ifs = NULL;
	iface[0] = '\0';
	if (getifaddrs(&ifs) == 0) {
		for (struct ifaddrs *a = ifs; a; a = a->ifa_next) {
			char ip[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN];
			if (!ipv4_of(a->ifa_addr, ip, sizeof ip) || (a->ifa_flags & IFF_LOOPBACK) ||
			    !(a->ifa_flags & IFF_UP))
				continue;
			if (want && strcmp(want, ip) != 0)
				continue;
			snprintf(iface, iflen, "%s", a->ifa_name);
			hi->address = xstrdup(ip);
			hi->netmask = xstrdup(ipv4_of(a->ifa_netmask, mask, sizeof mask) ? mask : "");
			break;
		}
		freeifaddrs(ifs);
	}
	if (!hi->address)
		hi->address = xstrdup(want ? want : "127.0.0.1");
	if (!hi->netmask)
		hi->netmask = xstrdup(want ? "" : "255.0.0.0");
}

static char *read_gateway(const char *iface)
{
	FILE *f = fopen("/proc/net/route", "r");
	char line[256], name[64];
	unsigned dest, gw, flags;
	char *out = NULL;
	while (f && !out && fgets(line, sizeof line, f)) {
		if (sscanf(line, "%63s %x %x %x", name, &dest, &gw, &flags) != 4)
			continue;
		if (dest != 0 || gw == 0 || (*iface && strcmp(name, iface) != 0))
			continue;
		char ip[INET_ADDRSTRLEN];
		struct in_addr in = {.s_addr = gw}; /* the file holds it in network order */
		if (inet_ntop(AF_INET, &in, ip, sizeof ip))
			out = xstrdup(ip);
	}
	if (f)
		fclose(f);
	return out ? out : xstrdup("");
}

static char *read_dns(void)
{
	FILE *f = fopen("/etc/resolv.conf", "r");
	char line[256], ns[128];
	char buf[512] = "";
	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "nameserver %127s", ns) != 1)
			continue;
		size_t n = strlen(buf);
		snprintf(buf + n, sizeof buf - n, "%s%s", n ? "," : "", ns);
	}
	if (f)
		fclose(f);
	return xstrdup(buf);
}

static bool mac_usable(const char *mac)
{
	return strlen(mac) == 17 && strcmp(mac, "00:00:00:00:00:00") != 0;
}

/* Without the management interface, the first non-loopback interface
 * that has a MAC, preferring ones backed by a device (not bridges/veths). */
static bool pick_nic(char *iface, size_t len)
{
	DIR *d = opendir("/sys/class/net");
	if (!d)
		return false;
	char fallback[64] = "";
	bool found = false;
	for (struct dirent *e; !found && (e = readdir(d));) {
		char mac[32], path[PATH_MAX];
		if (e->d_name[0] == '.' || strcmp(e->d_name, "lo") == 0 ||
		    !read_sysfs(e->d_name, "address", mac, sizeof mac) || !mac_usable(mac))
			continue;
		snprintf(path, sizeof path, "/sys/class/net/%s/device", e->d_name);
		if (access(path, F_OK) == 0) {
			copy_str(iface, len, e->d_name);
			found = true;
		} else if (!fallback[0]) {
			copy_str(fallback, sizeof fallback, e->d_name);
		}
	}
	closedir(d);
	if (!found && fallback[0]) {
		snprintf(iface, len, "%s", fallback);
		found = true;
	}
	return found;
}

static void strip_hex_prefix(char *s)
{
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		memmove(s, s + 2, strlen(s + 2) + 1);
}

void hostinfo_nic_read(struct hostinfo_nic *n, const char *iface)
{
	char buf[64], path[PATH_MAX];
	snprintf(n->name, sizeof n->name, "%s", iface);
	read_sysfs(iface, "address", n->mac, sizeof n->mac);
	n->speed = read_sysfs(iface, "speed", buf, sizeof buf) && atoll(buf) > 0 ? atoll(buf) : 0;
	n->carrier = read_sysfs(iface, "carrier", buf, sizeof buf) && strcmp(buf, "1") == 0;
	n->duplex = read_sysfs(iface, "duplex", buf, sizeof buf) && strcmp(buf, "full") == 0;
	if (read_sysfs(iface, "device/vendor", n->vendor_id, sizeof n->vendor_id))
		strip_hex_prefix(n->vendor_id);
	if (read_sysfs(iface, "device/device", n->device_id, sizeof n->device_id))
		strip_hex_prefix(n->device_id);
	snprintf(path, sizeof path, "/sys/class/net/%s/device", iface);
	link_base(path, n->pci_bus_path, sizeof n->pci_bus_path);
	snprintf(path, sizeof path, "/sys/class/net/%s/device/driver", iface);
	if (!link_base(path, n->driver, sizeof n->driver))
		snprintf(n->driver, sizeof n->driver, "%s", iface);
}

/* A locally administered unicast MAC, for machines with no usable NIC. */
static void generated_mac(char mac[18])
{
	unsigned char b[6];
	random_bytes(b, sizeof b);
	b[0] = (unsigned char)((b[0] & 0xfe) | 0x02);
	snprintf(mac, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

static void read_network(struct hostinfo *hi, const char *address)
{
	char iface[64];
	find_address(hi, address, iface, sizeof iface);
	hi->gateway = read_gateway(iface);
	hi->dns = read_dns();
	char mac[32];
	bool usable = iface[0] && read_sysfs(iface, "address", mac, sizeof mac) && mac_usable(mac);
	if (usable || pick_nic(iface, sizeof iface)) {
		hostinfo_nic_read(&hi->nic, iface);
		hi->have_nic = mac_usable(hi->nic.mac);
	}
	if (!hi->have_nic) {
		snprintf(hi->nic.name, sizeof hi->nic.name, "eth0");
		generated_mac(hi->nic.mac);
	}
}

/* ---- DMI ---- */

static xv read_bios_strings(void)
{
	static const char *const keys[][2] = {
		{"bios-vendor", "bios_vendor"},
		{"bios-version", "bios_version"},
		{"system-manufacturer", "sys_vendor"},
		{"system-product-name", "product_name"},
		{"system-version", "product_version"},
		{"system-serial-number", "product_serial"},
		{"baseboard-manufacturer", "board_vendor"},
		{"baseboard-product-name", "board_name"},
		{"baseboard-version", "board_version"},
		{"baseboard-serial-number", "board_serial"},
		{"enclosure-asset-tag", "chassis_asset_tag"},
	};
	xv m = xv_map_new();
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		char path[PATH_MAX], buf[256];
		snprintf(path, sizeof path, "/sys/class/dmi/id/%s", keys[i][1]);
		xv_map_set_str(&m, keys[i][0], read_line(path, buf, sizeof buf) ? trim(buf) : "");
	}
	return m;
}

/* ---- entry points ---- */

void hostinfo_read(struct hostinfo *hi, const char *hostname, const char *address,
		   int64_t memory_total)
{
	memset(hi, 0, sizeof *hi);
	hi->now = (int64_t)time(NULL);
	char name[256] = "";
	if (!hostname && gethostname(name, sizeof name - 1) == 0)
		hostname = name;
	hi->hostname = xstrdup(hostname && *hostname ? hostname : "localhost");
	hi->kernel = read_kernel();
	hi->memory_total = memory_total > 0 ? memory_total : meminfo_kb("MemTotal") * 1024;
	hi->memory_free = meminfo_kb("MemAvailable") * 1024;
	if (hi->memory_free > hi->memory_total || hi->memory_free <= 0)
		hi->memory_free = hi->memory_total;
	hi->boot_time = read_boot_time(hi->now);
	read_cpus(hi);
	hi->features = read_features();
	read_network(hi, address);
	hi->bios_strings = read_bios_strings();
}

void hostinfo_free(struct hostinfo *hi)
{
	for (size_t i = 0; i < hi->ncpus; i++) {
		struct hostinfo_cpu *c = &hi->cpus[i];
		free(c->vendor);
		free(c->modelname);
		free(c->stepping);
		free(c->flags);
		free(c->speed);
	}
	free(hi->cpus);
	free(hi->hostname);
	free(hi->address);
	free(hi->netmask);
	free(hi->gateway);
	free(hi->dns);
	free(hi->kernel);
	free(hi->features);
	xv_free(&hi->bios_strings);
	memset(hi, 0, sizeof *hi);
}
