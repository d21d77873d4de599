#!/bin/sh
# Installs what building and testing Xenon needs on Debian 12, skipping
# what is already there. Usage: scripts/deps.sh [build|test|bench]
# (bench: what bench/ needs on top of the test list, see bench/README.md)
set -e
need="meson ninja-build pkg-config gcc scdoc libsystemd-dev libmicrohttpd-dev libjansson-dev libexpat1-dev \
libsqlite3-dev libgnutls28-dev libcurl4-gnutls-dev libpam0g-dev libcrypt-dev libcmocka-dev qemu-utils \
libnbd-dev libzstd-dev libxxhash-dev zlib1g-dev libnfs-dev libsmbclient-dev nbdkit-plugin-dev librrd-dev \
libraft-dev libuv1-dev libacl1-dev nodejs npm libpcap-dev libguestfs-dev libxen-dev"
case "${1:-build}" in test | bench)
	need="$need python3 valgrind qemu-system-x86 ovmf"
	# the fuzzing harnesses (scripts/fuzz.sh): clang with libFuzzer
	need="$need clang"
	# the web console's browser tests (test_web): Playwright drives Debian's chromium
	need="$need chromium"
	# shared storage: QEMU's nfs:// driver, nbdkit for ISOs on SMB shares,
	# and the NFS and SMB servers test_nfs runs on loopback
	need="$need qemu-block-extra nbdkit nfs-ganesha nfs-ganesha-vfs rpcbind samba genisoimage"
	need="$need iproute2 tcpdump iputils-ping"
	# test_certificates makes certificates with certtool
	need="$need gnutls-bin"
	# internal networks' DHCP/TFTP and NAT (dnsmasq, nft), PXE ROMs for QEMU's NICs
	need="$need dnsmasq-base nftables ipxe-qemu"
	# the openvswitch network backend (ovsdb-server, ovs-vswitchd, ovs-vsctl)
	need="$need openvswitch-switch"
	# metrics: rrdtool (xport of the same files as a reference), promtool
	need="$need rrdtool prometheus"
	# disk inspection: a kernel for libguestfs's appliance (built into
	# /var/tmp/.guestfs-* on first use), and the tools test_inspect makes
	# its partitioned disks with
	need="$need linux-image-amd64 fdisk e2fsprogs dosfstools mtools"
esac
if [ "${1:-build}" = bench ]; then
	# api_bench.py: wrk, libvirt's test driver (libvirt-dev) and libvirtd;
	# vm_start.py and snapshot_bench.py: libvirtd with the qemu driver and
	# virsh; export_bench.py: curl, zstd, fincore (util-linux), nbdcopy;
	# api_bench.py's reference rows: nginx (started on 127.0.0.1 with its own config);
	# inspect_bench.py: virt-inspector and virt-cat
	need="$need wrk libvirt-dev libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients curl zstd util-linux \
libnbd-bin nginx guestfs-tools"
fi
missing=""
for p in $need; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# npm may come from outside Debian's packages; accept any working npm/node.
case "$missing" in *" npm"*|*" nodejs"*)
	if command -v node >/dev/null && command -v npm >/dev/null; then
		missing=$(echo "$missing" | sed 's/ npm//; s/ nodejs//')
	fi
esac
if [ -n "$missing" ]; then
	echo "installing:$missing"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
fi
