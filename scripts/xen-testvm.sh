#!/bin/sh
# xen-testvm.sh: the nested Xen test machine. Builds a small dom0 (an
# initramfs) from Debian's packages — xen-hypervisor-4.17-amd64, xen-utils,
# the Debian kernel and its modules, busybox-static — plus xenond built from
# this tree, and boots Xen with that dom0 under qemu-system-x86_64 (TCG).
# xenond inside listens on the guest's port 8080, forwarded to the host's
# loopback. Everything built goes under $XEN_TESTVM_DIR (default
# build-xen/testvm); nothing of it is committed. XEN_TESTVM_GUEST names the
# tiny test guest's build (default build/guest), installed as PV kernels.
#
#   scripts/xen-testvm.sh build [XENOND]    make the dom0 image (XENOND: a built
#                                           xenond to include; else none)
#   scripts/xen-testvm.sh boot  [PORT]      boot it; prints the times to the dom0
#                                           shell and to xenond answering
#   scripts/xen-testvm.sh stop              stop the machine booted by `boot`
#
# The serial console (Xen's and dom0's hvc0) goes to $DIR/console.log; a
# control socket for commands inside is the busybox shell on QEMU's second
# serial port, $DIR/shell.sock. QEMU runs under `nice -n $XEN_TESTVM_NICE`
# (default 5): it is heavy for a small shared machine.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${XEN_TESTVM_DIR:-$ROOT/build-xen/testvm}
KVER=${XEN_TESTVM_KVER:-6.1.0-57-amd64}
MEM=${XEN_TESTVM_MEM:-2048}
DOM0_MEM=${XEN_TESTVM_DOM0_MEM:-768M}

debs() {
	mkdir -p "$DIR/debs"
	cd "$DIR/debs"
	for p in xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common busybox-static \
		xenstore-utils linux-image-$KVER qemu-system-xen; do
		ls ./"${p}"_*.deb >/dev/null 2>&1 && continue
		c=$(ls /var/cache/apt/archives/"${p}"_*.deb 2>/dev/null | head -n1 || true)
		if [ -n "$c" ]; then cp "$c" .; else apt-get download "$p"; fi
	done
	cd - >/dev/null
}

# Copies an ELF's shared libraries (from the host, which has the same
# Debian release) into the image.
copy_libs() {
	for f in "$@"; do
		ldd "$f" 2>/dev/null | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'
	done | sort -u | while read -r lib; do
		d="$R$(dirname "$lib")"
		mkdir -p "$d"
		[ -e "$R$lib" ] || cp -L "$lib" "$d/"
	done
}

build() {
	XENOND=${1:-}
	debs
	R="$DIR/root"
	rm -rf "$R" "$DIR/x"
	mkdir -p "$R" "$DIR/x"
	for d in "$DIR"/debs/*.deb; do dpkg-deb -x "$d" "$DIR/x"; done
	# Xen itself: QEMU's multiboot loader takes the uncompressed ELF only
	gunzip -c "$DIR/x/boot/xen-4.17-amd64.gz" >"$DIR/xen"
	cp "$DIR/x/boot/vmlinuz-$KVER" "$DIR/vmlinuz"
	# the dom0's root: busybox, Xen's tools and scripts, the kernel modules
	mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/etc" "$R/proc" "$R/sys" "$R/dev" \
		"$R/run" "$R/tmp" "$R/var/run" "$R/var/log/xen" "$R/var/lib/xen" "$R/var/lib/xenstored" \
		"$R/root" "$R/lib/modules" "$R/usr/lib"
	cp "$DIR/x/bin/busybox" "$R/bin/busybox"
	for a in $("$R/bin/busybox" --list-full); do
		[ -e "$R/$a" ] || ln -s /bin/busybox "$R/$a"
	done
	cp -a "$DIR/x/usr/lib/xen-4.17" "$R/usr/lib/"
	cp -a "$DIR/x/etc/xen" "$R/etc/"
	for b in xl xenstore-ls xenstore-read xenstore-write; do
		[ -e "$R/usr/lib/xen-4.17/bin/$b" ] && ln -sf "/usr/lib/xen-4.17/bin/$b" "$R/usr/sbin/$b"
	done
	cp -a "$DIR/x/lib/modules/$KVER" "$R/lib/modules/"
	# only what a dom0 needs of the modules (the image stays small)
	( cd "$R/lib/modules/$KVER/kernel" && find . -name '*.ko' | grep -v -E \
		'/drivers/xen/|/xen-netback/|/xen-blkback/|/net/bridge/bridge.ko|/net/802/|/net/llc/|/drivers/net/tun.ko|/intel/e1000/' \
		| xargs rm -f )
	depmod -b "$R" "$KVER"
	# xenstore clients (xenstore-utils)
	cp -a "$DIR"/x/usr/bin/xenstore* "$R/usr/bin/"
	copy_libs "$R/usr/bin/xenstore"
	copy_libs "$R"/usr/lib/xen-4.17/bin/xl "$R"/usr/lib/xen-4.17/bin/xenstored \
		"$R"/usr/lib/xen-4.17/bin/xenconsoled "$R"/usr/lib/xen-4.17/bin/libxl-save-helper
	if [ -n "$XENOND" ]; then
		cp "$XENOND" "$R/usr/sbin/xenond"
		copy_libs "$XENOND"
		for b in qemu-img; do cp "$(command -v $b)" "$R/usr/bin/"; copy_libs "$(command -v $b)"; done
		# libxl's device model for qdisk disks (and HVM guests)
		mkdir -p "$R/usr/libexec" "$R/usr/share"
		cp "$DIR/x/usr/libexec/xen-qemu-system-i386" "$R/usr/libexec/"
		copy_libs "$R/usr/libexec/xen-qemu-system-i386"
		[ -d /usr/share/qemu ] && cp -a /usr/share/qemu "$R/usr/share/"
		[ -d /usr/share/seabios ] && cp -a /usr/share/seabios "$R/usr/share/"
		# the tiny test guest (scripts/build-test-guest.sh) as PV kernels
		G=${XEN_TESTVM_GUEST:-$ROOT/build/guest}
		if [ -f "$G/vmlinuz" ]; then
			mkdir -p "$R/var/lib/xenon/guest-kernels"
			cp "$G/vmlinuz" "$G/initrd.img" "$R/var/lib/xenon/guest-kernels/"
		fi
	fi
	cp /bin/bash "$R/bin/bash"; copy_libs /bin/bash
	cat >"$R/init" <<'EOF'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts; mount -t tmpfs tmpfs /run
mkdir -p /run/xen /run/xenstored /var/run/xen
for m in e1000 xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-netback xen-blkback bridge tun; do
	modprobe $m 2>/dev/null
done
mount -t xenfs xenfs /proc/xen
echo "XENON-DOM0: shell $(cut -d' ' -f1 /proc/uptime)" >/dev/hvc0
ip link set lo up; ip link set eth0 up; ip addr add 10.0.2.15/24 dev eth0; ip route add default via 10.0.2.2
xenstored --pid-file /run/xenstored.pid
xen-init-dom0
xenconsoled --pid-file=/run/xenconsoled.pid
xl info >/dev/null 2>&1 && echo "XENON-DOM0: xl $(cut -d' ' -f1 /proc/uptime)" >/dev/hvc0
if [ -x /usr/sbin/xenond ]; then
	mkdir -p /var/lib/xenon/sr
	# the SRs' images (suspend images among them) on their own tmpfs: the
	# root's has room for what the initramfs holds only
	mount -t tmpfs -o size=1g tmpfs /var/lib/xenon/sr
	echo xenon-test >/var/lib/xenon/root-password
	xenond --backend xen --listen 0.0.0.0:8080 --tls-listen "" --data-dir /var/lib/xenon \
		--root-password-file /var/lib/xenon/root-password \
		--guest-kernel-dir /var/lib/xenon/guest-kernels >>/var/log/xenond.log 2>&1 &
fi
echo "XENON-DOM0: ready" >/dev/hvc0
# a shell on the second serial port for the test outside
while true; do setsid sh -c 'exec sh </dev/ttyS1 >/dev/ttyS1 2>&1'; done &
while true; do sleep 3600; done
EOF
	chmod +x "$R/init"
	( cd "$R" && find . | cpio -o -H newc --quiet | gzip -1 >"$DIR/initrd.img" )
	du -sh "$DIR/initrd.img" "$DIR/xen" "$DIR/vmlinuz"
}

boot() {
	PORT=${1:-18080}
	rm -f "$DIR/console.log" "$DIR/shell.sock" "$DIR/qemu.pid"
	t0=$(date +%s.%N)
	# -cpu max with SMAP/SMEP: the PV dom0 kernel dies at its first
	# instruction under TCG (#PF in create_bounce_frame); without them it boots.
	# Xen's command line: its console on com1 (QEMU's first serial port),
	# the dom0 kernel's on hvc0 (Xen's console, the same port); guests'
	# debug output (hvmloader, SeaBIOS) in `xl dmesg`.
	# Commas in -initrd separate modules.
	nice -n "${XEN_TESTVM_NICE:-5}" qemu-system-x86_64 -accel tcg -M pc -cpu "${XEN_TESTVM_CPU:-max,-smap,-smep}" -smp 2 -m "$MEM" \
		-kernel "$DIR/xen" \
		-append "console=com1 com1=115200,8n1 dom0_mem=$DOM0_MEM,max:$DOM0_MEM dom0_max_vcpus=1 noreboot guest_loglvl=all" \
		-initrd "$DIR/vmlinuz console=hvc0 earlyprintk=xen quiet,$DIR/initrd.img" \
		-display none -serial "file:$DIR/console.log" \
		-serial "unix:$DIR/shell.sock,server=on,wait=off" \
		-netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$PORT-:8080" -device e1000,netdev=n0 \
		-daemonize -pidfile "$DIR/qemu.pid"
	timeout=${XEN_TESTVM_TIMEOUT:-900}
	shell="" ready=""
	while :; do
		now=$(date +%s.%N)
		el=$(echo "$now - $t0" | bc)
		if [ -z "$shell" ] && grep -q "XENON-DOM0: shell" "$DIR/console.log" 2>/dev/null; then
			shell=$el; echo "dom0 shell after ${shell}s"
		fi
		if [ -z "$ready" ] && grep -q "XENON-DOM0: ready" "$DIR/console.log" 2>/dev/null; then
			ready=$el; echo "dom0 ready after ${ready}s"
			[ -x "$DIR/root/usr/sbin/xenond" ] || break
		fi
		if [ -n "$ready" ] && curl -s -o /dev/null -m 2 "http://127.0.0.1:$PORT/" 2>/dev/null; then
			echo "xenond answering after ${el}s"; break
		fi
		if ! kill -0 "$(cat "$DIR/qemu.pid" 2>/dev/null || echo 0)" 2>/dev/null; then
			echo "qemu exited"; tail -n 30 "$DIR/console.log"; exit 1
		fi
		if [ "$(echo "$el > $timeout" | bc)" = 1 ]; then
			echo "no dom0 after ${timeout}s"; tail -n 30 "$DIR/console.log"; exit 1
		fi
		sleep 1
	done
}

stop() {
	[ -f "$DIR/qemu.pid" ] && kill "$(cat "$DIR/qemu.pid")" 2>/dev/null || true
	rm -f "$DIR/qemu.pid"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
build) build "$@" ;;
boot) boot "$@" ;;
stop) stop ;;
*) sed -n '2,20p' "$0"; exit 2 ;;
esac
