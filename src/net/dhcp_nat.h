/* dhcp_nat: the services an internal network can carry, as libvirt's
 * default network does — the host's address on the bridge, a DHCP server
 * (with TFTP for PXE) from dnsmasq, and NAT to the host's other networks
 * from an nftables table of its own. Each network's state (dnsmasq's pid
 * file, leases, log) lives in a directory of its own, so a daemon that
 * died can find and end what it left. */
#ifndef XENON_NET_DHCP_NAT_H
#define XENON_NET_DHCP_NAT_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/xerr.h"

struct net_dhcp_nat {
	const char *bridge;
	const char *state_dir; /* made if absent */
	uint32_t host_addr;    /* the host's address on the bridge, host order */
	uint32_t netmask;
	bool dhcp;             /* a DHCP server on the bridge */
	uint32_t range_lo, range_hi; /* its addresses, host order */
	const char *tftp_root; /* NULL: no TFTP */
	const char *boot_file; /* the DHCP boot file name offered; NULL: none */
	bool nat;              /* masquerade what leaves the network */
};

/* Parses the network's other_config (ip_begin, ip_end, netmask, dhcp, nat,
 * pxe_boot_file; see README): 0 with *out filled (strings borrowed from
 * the caller's values) when the network asks for a service, 1 when it
 * asks for none, -1 with INVALID_VALUE [key, value] when a key is bad. */
int net_dhcp_nat_parse(const char *ip_begin, const char *ip_end, const char *netmask,
		       const char *dhcp, const char *nat, struct net_dhcp_nat *out, struct xerr *err);

/* Makes the bridge if needed, puts the host's address on it and starts
 * what c asks for. On failure nothing of it is left running. */
int net_dhcp_nat_up(const struct net_dhcp_nat *c, struct xerr *err);

/* Ends the services of bridge whose state is in state_dir (dnsmasq, the
 * nftables table, the address); idempotent, also for what another process
 * left. delete_bridge: the bridge goes too when no port is left on it. */
void net_dhcp_nat_down(const char *bridge, const char *state_dir, bool delete_bridge);

/* The nftables table of a bridge's NAT ("xenon_<bridge>"). */
void net_dhcp_nat_table(const char *bridge, char out[32]);

#endif
