/* network_lab: checks of an internal network's DHCP/NAT keys. */
#ifndef XENON_API_NETWORK_LAB_H
#define XENON_API_NETWORK_LAB_H

#include "../base/xerr.h"
#include "../base/xv.h"

/* INVALID_VALUE [other_config:<key>, value] when oc (a network's
 * other_config) asks for DHCP or NAT with a bad address, range or mask. */
int network_lab_check(const xv *oc, struct xerr *err);

#endif
