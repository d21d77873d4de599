#!/bin/sh
# Builds a tiny Linux test guest for integration tests: Debian's distribution
# kernel plus a busybox initramfs with the virtio modules, acpid (so QMP
# system_powerdown works) and qemu-guest-agent. Boots to "XENON-GUEST: ready"
# in a few seconds under TCG.
#
# Usage: scripts/build-test-guest.sh [OUTDIR]      (default: build/guest)
#   OUTDIR gets vmlinuz, vmlinux, initrd.img and README. A complete build (stamp file
#   .stamp matching this script) is reused; XENON_GUEST_REBUILD=1 forces a
#   rebuild. XENON_GUEST_KERNEL_DEB=/path/linux-image-*.deb uses a local kernel
#   package instead of downloading one. Nothing here is committed.
#
# Also vmlinux: the same kernel uncompressed (PVH ELF, boots ~3 s faster).
# Recommended kernel command line: console=ttyS0 quiet panic=-1, plus
# acpi=noirq with -M pc (faster virtio_pci probe; it breaks system_powerdown
# on -M q35).
# Guest kernel command line options read by /init:
#   xenon.ip=ADDR/PREFIX | xenon.ip=dhcp   address for eth0 (if present)
#   xenon.gw=ADDR                          default route (static only)
#   xenon.hostname=NAME                    hostname (default xenon-guest)
#   xenon.flood=N                          write N bytes of text to the console
#                                          (between "flood start"/"flood done"
#                                          lines) before "ready"
#   xenon.debug                            guest uptime at each /init stage
# Serial lines: "XENON-GUEST: boot ok" early, "XENON-GUEST: ready" once the
# network, acpid and the guest agent (if its port exists) are up.
set -eu

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
SCRIPT="$SCRIPT_DIR/$(basename "$0")"
REPO=$(dirname "$SCRIPT_DIR")
OUT=${1:-$REPO/build/guest}
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export LC_ALL=C

# Modules the guest loads (dependencies are added from modules.dep). button
# and evdev give acpid the ACPI power button as an input device.
MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
failover net_failover virtio_net virtio_blk virtio_console virtio_balloon
button evdev"
# Modules in the guest but loaded only when a test asks (modprobe): the IDE
# CD drive and ISO 9660, for CD insert/eject tests, cost boot time otherwise;
# vfat and its code pages, for disks written by the inspection tests;
# Xen's block front end, for the disks of the guest as a Xen PV domain.
ONDEMAND="ata_piix sr_mod isofs vfat nls_cp437 nls_ascii nls_utf8 xen_blkfront"
GA=/usr/sbin/qemu-ga

log() { echo "build-test-guest: $*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RECIPE=$( (cat "$SCRIPT"; echo "$MODULES") | sha256sum | cut -d' ' -f1)

is_complete() {
	[ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] && [ -s "$OUT/README" ] &&
		[ -f "$OUT/.stamp" ] && [ "$(cat "$OUT/.stamp")" = "$RECIPE" ]
}

if [ "${XENON_GUEST_REBUILD:-0}" != 1 ] && is_complete; then
	exit 0
fi

# Serialize concurrent builds into the same directory (tests run in parallel).
exec 9>"$OUT/.lock"
flock 9
if [ "${XENON_GUEST_REBUILD:-0}" != 1 ] && is_complete; then
	exit 0
fi
rm -f "$OUT/.stamp"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
APT_UPDATED=0
apt_update() {
	[ $APT_UPDATED = 1 ] && return 0
	log "apt-get update"
	$SUDO apt-get update -qq
	APT_UPDATED=1
}
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
ensure_pkgs() {
	missing=""
	for p in "$@"; do installed "$p" || missing="$missing $p"; done
	[ -z "$missing" ] && return 0
	log "installing:$missing"
	if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2; then
		apt_update
		DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
	fi
}
# qemu-system-x86 is not needed to build, but whoever builds the guest boots it.
ensure_pkgs busybox-static qemu-guest-agent cpio zstd xz-utils qemu-system-x86
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "no $BUSYBOX after installing busybox-static"
"$BUSYBOX" --list | grep -qx acpid || die "$BUSYBOX has no acpid applet"
[ -x "$GA" ] || die "no $GA after installing qemu-guest-agent"

WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
KROOT=$WORK/kernel
ROOT=$WORK/root

# --- kernel -----------------------------------------------------------------
apt_download() { # PKG[=VERSION] -> its .deb in $WORK/debs
	(cd "$WORK/debs" && apt-get download -q -o APT::Sandbox::User=root "$1" >&2) ||
		{ apt_update && (cd "$WORK/debs" && apt-get download -q -o APT::Sandbox::User=root "$1" >&2); }
}
mkdir -p "$WORK/debs"
if [ -n "${XENON_GUEST_KERNEL_DEB:-}" ]; then
	KDEB=$XENON_GUEST_KERNEL_DEB
	[ -f "$KDEB" ] || die "XENON_GUEST_KERNEL_DEB=$KDEB does not exist"
else
	log "downloading linux-image-amd64"
	apt_download linux-image-amd64
	META=$(ls "$WORK"/debs/linux-image-amd64_*.deb)
	# The meta package depends on the versioned image package, e.g.
	# "linux-image-6.1.0-56-amd64 (= 6.1.192-2)".
	DEP=$(dpkg-deb -f "$META" Depends | tr ',|' '\n\n' | sed 's/^ *//' | grep '^linux-image-' | head -n1)
	KPKG=$(echo "$DEP" | cut -d' ' -f1)
	KVERSION=$(echo "$DEP" | sed -n 's/.*(= *\([^)]*\)).*/\1/p')
	[ -n "$KPKG" ] || die "cannot find the kernel image package in $(basename "$META")"
	log "downloading $KPKG${KVERSION:+ $KVERSION}"
	apt_download "$KPKG${KVERSION:+=$KVERSION}"
	KDEB=$(ls "$WORK"/debs/"$KPKG"_*.deb)
fi
KPKG_NAME=$(dpkg-deb -f "$KDEB" Package)
KPKG_VERSION=$(dpkg-deb -f "$KDEB" Version)
log "extracting $KPKG_NAME $KPKG_VERSION"
dpkg-deb -x "$KDEB" "$KROOT"
rm -rf "$WORK/debs"
MODBASE=""
for d in "$KROOT"/lib/modules/* "$KROOT"/usr/lib/modules/*; do
	[ -d "$d/kernel" ] && MODBASE=$d && break
done
[ -n "$MODBASE" ] || die "no modules directory in $KDEB"
KVER=$(basename "$MODBASE")
VMLINUZ=$KROOT/boot/vmlinuz-$KVER
[ -f "$VMLINUZ" ] || VMLINUZ=$(ls "$KROOT"/boot/vmlinuz-* 2>/dev/null | head -n1)
[ -f "$VMLINUZ" ] || die "no vmlinuz in $KDEB"

# The package has no modules.dep (depmod runs at install time): make one.
# kmod's depmod wants the tree under BASE/lib/modules.
if [ "$MODBASE" != "$KROOT/lib/modules/$KVER" ]; then
	mkdir -p "$KROOT/lib/modules"
	ln -s "$MODBASE" "$KROOT/lib/modules/$KVER"
fi
log "depmod $KVER"
if command -v depmod >/dev/null 2>&1 && depmod -b "$KROOT" "$KVER" 2>/dev/null; then :; else
	"$BUSYBOX" depmod -b "$KROOT" "$KVER"
fi
[ -s "$MODBASE/modules.dep" ] || die "depmod made no modules.dep"

# Resolve the wanted modules and all their dependencies from modules.dep,
# in load order (every module after everything it depends on).
resolve() {
awk -v want="$1" -v builtin="$MODBASE/modules.builtin" '
function modname(p,   n) { n = p; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n); return n }
function visit(p,   n, i, d) {
	if (state[p] == 2) return
	if (state[p] == 1) { print "dependency cycle at " p > "/dev/stderr"; exit 1 }
	state[p] = 1
	n = split(deps[p], d, " ")
	for (i = 1; i <= n; i++) visit(d[i])
	state[p] = 2
	print p
}
{
	p = $1; sub(/:$/, "", p)
	path[modname(p)] = p
	deps[p] = ""
	for (i = 2; i <= NF; i++) deps[p] = deps[p] " " $i
}
END {
	while ((getline line < builtin) > 0) isbuiltin[modname(line)] = 1
	n = split(want, w, /[ \n]+/)
	for (i = 1; i <= n; i++) {
		m = w[i]; gsub(/-/, "_", m)
		if (m == "") continue
		if (m in path) visit(path[m])
		else if (!(m in isbuiltin)) { print "module " m " not found" > "/dev/stderr"; exit 1 }
	}
}' "$MODBASE/modules.dep"
}
ORDER=$WORK/modules.order
ALLMODS=$WORK/modules.all
resolve "$MODULES" >"$ORDER" || die "cannot resolve modules"
resolve "$MODULES $ONDEMAND" >"$ALLMODS" || die "cannot resolve modules"

# --- initramfs tree -----------------------------------------------------------
log "assembling initramfs"
mkdir -p "$ROOT"
for d in bin sbin usr/bin usr/sbin etc/acpi/PWRF dev proc sys run tmp root var/log \
	lib/modules/"$KVER"; do
	mkdir -p "$ROOT/$d"
done
chmod 1777 "$ROOT/tmp"
ln -s ../run "$ROOT/var/run"

cp "$BUSYBOX" "$ROOT/bin/busybox"
"$BUSYBOX" --list-full | while read -r a; do
	[ "$a" = bin/busybox ] && continue
	[ -e "$ROOT/$a" ] || [ -L "$ROOT/$a" ] && continue
	mkdir -p "$ROOT/$(dirname "$a")"
	ln -s /bin/busybox "$ROOT/$a"
done

while read -r m; do
	mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$m")"
	cp "$MODBASE/$m" "$ROOT/lib/modules/$KVER/$m"
done <"$ALLMODS"
cp "$ORDER" "$ROOT/etc/modules.order"
# A modules.dep for just these, so busybox modprobe works in the guest too.
awk 'NR == FNR { keep[$1 ":"] = 1; next } ($1 in keep)' "$ALLMODS" "$MODBASE/modules.dep" \
	>"$ROOT/lib/modules/$KVER/modules.dep"

# qemu-guest-agent with every shared library it links (at the same paths).
cp "$GA" "$ROOT/usr/sbin/qemu-ga"
ldd "$GA" | awk '/=>/ { if ($3 ~ /^\//) print $3; next } $1 ~ /^\// { print $1 }' | while read -r lib; do
	mkdir -p "$ROOT/$(dirname "$lib")"
	cp -L "$lib" "$ROOT/$lib"
done
# Sanity: the copy runs inside the tree, i.e. no library is missing.
if [ "$(id -u)" -eq 0 ]; then
	chroot "$ROOT" /usr/sbin/qemu-ga -V >/dev/null || die "qemu-ga does not run in the initramfs tree"
fi

# Device nodes the kernel needs before /init mounts devtmpfs.
if [ "$(id -u)" -eq 0 ]; then
	mknod -m 600 "$ROOT/dev/console" c 5 1
	mknod -m 666 "$ROOT/dev/null" c 1 3
fi

BB_VERSION=$("$BUSYBOX" 2>&1 | head -n1 | awk '{print $2}')
GA_VERSION=$(dpkg-query -W -f='${Version}' qemu-guest-agent)
BB_PKG_VERSION=$(dpkg-query -W -f='${Version}' busybox-static)

cat >"$ROOT/etc/os-release" <<EOF
NAME="Xenon test guest"
ID=xenon-test-guest
ID_LIKE=debian
VERSION_ID="1"
VERSION="1 (busybox $BB_VERSION)"
PRETTY_NAME="Xenon test guest 1 (busybox $BB_VERSION, Debian kernel $KVER)"
EOF
cat >"$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat >"$ROOT/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
echo "127.0.0.1 localhost" >"$ROOT/etc/hosts"
cat >"$ROOT/etc/profile" <<'EOF'
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
PS1='xenon-guest:\w# '
EOF
: >"$ROOT/etc/resolv.conf"

cat >"$ROOT/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "XENON-GUEST: power button, powering off" >/dev/console
sync
poweroff -f
EOF

# qemu-ga's guest-shutdown runs "/sbin/shutdown -h -P|-H|-r +0 MESSAGE" and
# waits for it to exit 0. There is no busybox shutdown applet.
cat >"$ROOT/sbin/shutdown" <<'EOF'
#!/bin/sh
act=poweroff
for a in "$@"; do
	case $a in -r) act=reboot ;; -H) act=halt ;; -P) act=poweroff ;; esac
done
echo "XENON-GUEST: shutdown ($act) requested" >/dev/console
(usleep 200000; sync; $act -f) </dev/null >/dev/null 2>&1 &
exit 0
EOF

cat >"$ROOT/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc event script: configure $interface from the lease.
case $1 in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up
	;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	if [ -n "$router" ]; then
		ip route del default 2>/dev/null
		for r in $router; do ip route add default via "$r" dev "$interface"; break; done
	fi
	: >/etc/resolv.conf
	for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
	echo "XENON-GUEST: dhcp $interface $ip/${mask:-24}" >/dev/console
	;;
esac
exit 0
EOF

# busybox init takes over as pid 1 after /init: it reaps orphans, respawns
# the console shell and handles a plain "poweroff"/"reboot" too.
cat >"$ROOT/etc/inittab" <<'EOF'
::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/sbin/reboot -f
::shutdown:/bin/echo "XENON-GUEST: shutting down"
EOF

cat >"$ROOT/init" <<'EOF'
#!/bin/sh
# Xenon test guest init (generated by scripts/build-test-guest.sh).
export PATH=/sbin:/usr/sbin:/bin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
echo "XENON-GUEST: boot ok ($(uname -r))"
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
ln -sf /proc/self/fd /dev/fd

IP="" GW="" FLOOD="" DEBUG="" HOST=xenon-guest
for arg in $(cat /proc/cmdline); do
	case $arg in
	xenon.ip=*) IP=${arg#*=} ;;
	xenon.gw=*) GW=${arg#*=} ;;
	xenon.flood=*) FLOOD=${arg#*=} ;;
	xenon.hostname=*) HOST=${arg#*=} ;;
	xenon.debug | xenon.debug=*) DEBUG=1 ;;
	esac
done
hostname "$HOST"
# xenon.debug: print the guest uptime at each stage.
stage() { [ -n "$DEBUG" ] && echo "XENON-GUEST: [$(cut -d' ' -f1 /proc/uptime)] $*"; return 0; }
stage init

# wait_for N CMD...: retry CMD every 0.05 s, up to N times.
wait_for() {
	n=$1; shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -le 0 ] && return 1
		usleep 50000
	done
}

while read -r m; do
	insmod "/lib/modules/$(uname -r)/$m" || echo "XENON-GUEST: insmod $m failed"
	stage "insmod ${m##*/}"
done </etc/modules.order
stage modules loaded

# virtio-serial ports: devtmpfs makes /dev/vportNpM; make the usual
# /dev/virtio-ports/NAME links. Port names arrive asynchronously from the
# host, so the guest agent is started in the background once its port shows
# up, while the network comes up.
port_links() {
	found=1
	for d in /sys/class/virtio-ports/*; do
		[ -r "$d/name" ] || continue
		name=$(cat "$d/name")
		[ -n "$name" ] || continue
		mkdir -p /dev/virtio-ports
		ln -sf "../${d##*/}" "/dev/virtio-ports/$name"
		[ "$name" = org.qemu.guest_agent.0 ] && found=0
	done
	return $found
}
# Virtio device ids: 1 = net, 3 = console.
has_virtio() { grep -qx "$1" /sys/bus/virtio/devices/*/device 2>/dev/null; }
GA_STARTED=""
if has_virtio 0x0003; then
	GA_STARTED=1
	mkdir -p /run/qemu-ga
	(
		if ! wait_for 60 port_links; then
			: >/run/qemu-ga.noport
			exit 0
		fi
		stage "virtio ports"
		while :; do
			qemu-ga -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 \
				-t /run/qemu-ga -f /run/qemu-ga.pid -l /run/qemu-ga.log
			usleep 500000
		done
	) </dev/null >/dev/console 2>&1 &
else
	port_links
fi

ip link set lo up
if has_virtio 0x0001; then
	wait_for 60 test -e /sys/class/net/eth0 || echo "XENON-GUEST: no eth0"
fi
if [ -e /sys/class/net/eth0 ]; then
	ip link set eth0 up
	case $IP in
	"") ;;
	dhcp) udhcpc -i eth0 -s /etc/udhcpc.script -t 5 -T 1 -b ;;
	*)
		ip addr add "$IP" dev eth0
		[ -n "$GW" ] && ip route add default via "$GW" dev eth0
		;;
	esac
fi

stage network
# acpid turns the ACPI power button (QMP system_powerdown) into poweroff -f.
# "ready" waits until it has every input event device open: a button press
# before that would be lost.
acpid -f -c /etc/acpi -l /run/acpid.log &
ACPID_PID=$!
acpid_listening() {
	want=$(ls /dev/input 2>/dev/null | grep -c '^event')
	have=$(ls -l /proc/$ACPID_PID/fd 2>/dev/null | grep -c '/dev/input/event')
	[ "$have" -ge "$want" ] && [ "$have" -gt 0 ]
}
wait_for 100 acpid_listening || echo "XENON-GUEST: acpid has no input device open"
stage acpid

GA_PORT=/dev/virtio-ports/org.qemu.guest_agent.0
ga_open() {
	pid=$(pidof qemu-ga) || return 1
	for p in $pid; do
		ls -l /proc/"$p"/fd 2>/dev/null | grep -q vport && return 0
	done
	return 1
}
if [ -n "$GA_STARTED" ]; then
	wait_for 200 eval 'ga_open || [ -e /run/qemu-ga.noport ]'
	if [ -e /run/qemu-ga.noport ]; then
		echo "XENON-GUEST: no org.qemu.guest_agent.0 port, no guest agent"
	elif ! ga_open; then
		echo "XENON-GUEST: qemu-ga did not open $GA_PORT"
	fi
fi
stage agent
case $FLOOD in
"" | *[!0-9]*) ;;
*)
	# Exactly N bytes reach the console: no \n -> \r\n while flooding.
	echo "XENON-GUEST: flood start $FLOOD"
	stty -opost 2>/dev/null
	yes 'XENON-FLOOD 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOP' | head -c "$FLOOD"
	stty opost 2>/dev/null
	echo
	echo "XENON-GUEST: flood done"
	;;
esac

echo "XENON-GUEST: ready"
exec /sbin/init
EOF
chmod 755 "$ROOT/init" "$ROOT/sbin/shutdown" "$ROOT/etc/acpi/PWRF/00000080" "$ROOT/etc/udhcpc.script"

# --- pack -------------------------------------------------------------------
log "packing initrd.img"
# zstd: smaller than gzip and quicker for the kernel to unpack under TCG.
(cd "$ROOT" && find . | sort | cpio -o -H newc -R 0:0 --quiet) | zstd -19 -T0 -q >"$WORK/initrd.img"
cp "$VMLINUZ" "$WORK/vmlinuz"

# Also the uncompressed kernel as an ELF with a PVH entry point: QEMU's
# -kernel boots it directly (no in-guest decompression, ~3 s faster to boot
# under TCG). Found by its compressed payload inside the bzImage.
extract_vmlinux() { # BZIMAGE OUT
	for fmt in "$(printf '\3757zXZ')|xz -dc" "$(printf '\050\265\057\375')|zstd -dcq" \
		"$(printf '\037\213\010')|gzip -dc"; do
		magic=${fmt%%|*}
		for off in $(grep -aboF "$magic" "$1" | cut -d: -f1); do
			tail -c +$((off + 1)) "$1" | ${fmt#*|} >"$2" 2>/dev/null || true
			[ "$(head -c 4 "$2" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] && return 0
		done
	done
	rm -f "$2"
	return 1
}
HAVE_VMLINUX=0
if grep -qx CONFIG_PVH=y "$KROOT/boot/config-$KVER" 2>/dev/null; then
	if extract_vmlinux "$WORK/vmlinuz" "$WORK/vmlinux"; then
		HAVE_VMLINUX=1
	else
		log "warning: could not extract vmlinux from vmlinuz; only vmlinuz is built"
	fi
fi

INITRD_SIZE=$(stat -c %s "$WORK/initrd.img")
{
	echo "Xenon test guest, built by scripts/build-test-guest.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo
	echo "kernel package:    $KPKG_NAME $KPKG_VERSION"
	echo "kernel release:    $KVER"
	echo "busybox-static:    $BB_PKG_VERSION (BusyBox $BB_VERSION)"
	echo "qemu-guest-agent:  $GA_VERSION"
	echo "initrd.img:        $INITRD_SIZE bytes (zstd newc cpio)"
	echo "vmlinuz:           $(stat -c %s "$WORK/vmlinuz") bytes (the package's bzImage)"
	[ $HAVE_VMLINUX = 1 ] &&
		echo "vmlinux:           $(stat -c %s "$WORK/vmlinux") bytes (the same kernel uncompressed, PVH ELF)"
	echo
	echo "modules (load order):"
	sed 's/^/  /' "$ORDER"
	echo
	echo "qemu-ga libraries:"
	ldd "$GA" | awk '/=>/ && $3 ~ /^\// { print "  " $3 } $1 ~ /^\// { print "  " $1 }'
	echo
	echo "Kernel command line (recommended): console=ttyS0 quiet panic=-1, plus"
	echo "  acpi=noirq on -M pc only: PCI IRQ routing then comes from the MP table"
	echo "  instead of ACPI AML, which under TCG costs ~0.3-0.5 s per PCI interrupt"
	echo "  link when virtio_pci binds. On -M q35, acpi=noirq (and pci=noacpi) break"
	echo "  the ACPI power button: QMP system_powerdown is then ignored."
	echo "Options read by /init: xenon.ip=ADDR/N|dhcp  xenon.gw=ADDR  xenon.hostname=NAME"
	echo "  xenon.flood=BYTES (that many bytes of text on the console before 'ready')"
	echo "  xenon.debug (guest uptime at each /init stage)"
	echo "Serial lines: 'XENON-GUEST: boot ok' early, 'XENON-GUEST: ready' when the"
	echo "  network, acpid and qemu-ga (port org.qemu.guest_agent.0, if present) are up."
	echo "Boot: qemu-system-x86_64 -M pc -m 256 -kernel vmlinux|vmlinuz -initrd initrd.img ..."
	echo "  (vmlinux boots ~3 s faster under TCG). By hand: scripts/run-test-guest.sh $OUT"
} >"$WORK/README"

rm -f "$OUT/vmlinux"
for f in vmlinuz vmlinux initrd.img README; do
	[ -f "$WORK/$f" ] && mv -f "$WORK/$f" "$OUT/$f"
done
echo "$RECIPE" >"$OUT/.stamp"
log "done: $OUT (initrd.img $INITRD_SIZE bytes, kernel $KVER)"
