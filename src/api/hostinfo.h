/* hostinfo: what this machine reports about itself — name, management
 * address, memory, CPUs, kernel, first NIC, DMI strings — read from /proc,
 * /sys and libc, so the host records can mirror the machine. */
#ifndef XENON_HOSTINFO_H
#define XENON_HOSTINFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xv.h"

struct hostinfo_cpu {
	char *vendor, *modelname, *stepping, *flags;
	char *speed; /* MHz as /proc/cpuinfo writes it: "2394.454" */
	int64_t family, model;
	int physid;
};

struct hostinfo_nic {
	char name[32];
	char mac[18];
	char driver[64];
	char vendor_id[16], device_id[16], pci_bus_path[64];
	int64_t speed; /* Mbit/s, 0 unknown */
	bool carrier, duplex;
};

struct hostinfo {
	char *hostname;
	char *address, *netmask, *gateway, *dns; /* "" when unknown */
	char *kernel;                            /* uname -r */
	int64_t memory_total, memory_free;       /* bytes */
	int64_t boot_time, now;                  /* epoch seconds */
	struct hostinfo_cpu *cpus;               /* one per logical CPU */
	size_t ncpus;
	int sockets, threads_per_core;
	char *features; /* CPUID feature words as xapi prints them; "" off x86 */
	bool have_nic;  /* false: nic.mac was generated */
	struct hostinfo_nic nic;
	xv bios_strings; /* map, xapi's keys (bios-vendor, system-manufacturer...) */
};

/* Fills hi; hostname, address and memory_total override detection when
 * set (NULL / 0 to detect). Never fails: missing facts get safe values. */
void hostinfo_read(struct hostinfo *hi, const char *hostname, const char *address,
		   int64_t memory_total);
void hostinfo_free(struct hostinfo *hi);
/* The facts /sys gives about the interface iface (MAC, speed, carrier,
 * duplex, PCI vendor and device, driver). */
void hostinfo_nic_read(struct hostinfo_nic *n, const char *iface);

#endif
