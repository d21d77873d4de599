#!/bin/sh
# Boots the test guest from scripts/build-test-guest.sh by hand, for
# debugging: serial console on this terminal (Ctrl-A X quits QEMU), QMP and
# the guest agent on unix sockets.
#
# Usage: scripts/run-test-guest.sh [GUESTDIR] [-- EXTRA QEMU ARGS...]
#   GUESTDIR      default build/guest (built first if incomplete)
#   APPEND        extra kernel command line, e.g. APPEND="xenon.ip=dhcp"
#                 (default: xenon.ip=10.0.2.15/24 xenon.gw=10.0.2.2, which
#                 matches QEMU user networking)
#   SOCKDIR       where qmp.sock and ga.sock go (default /tmp/xenon-guest-$$)
#   KERNEL        vmlinux (default when built: boots ~3 s faster) or vmlinuz
#
# Talk to the agent:  socat - UNIX-CONNECT:$SOCKDIR/ga.sock
#   {"execute":"guest-ping"}
#   {"execute":"guest-exec","arguments":{"path":"uname","arg":["-r"],"capture-output":true}}
# QMP:  socat - UNIX-CONNECT:$SOCKDIR/qmp.sock
#   {"execute":"qmp_capabilities"}  {"execute":"system_powerdown"}
set -eu
REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=$REPO/build/guest
if [ $# -gt 0 ] && [ "$1" != -- ]; then
	DIR=$1
	shift
fi
[ $# -gt 0 ] && [ "$1" = -- ] && shift
"$REPO/scripts/build-test-guest.sh" "$DIR"
DIR=$(cd "$DIR" && pwd)
if [ -z "${SOCKDIR:-}" ]; then
	SOCKDIR=/tmp/xenon-guest-$$
	trap 'rm -rf "$SOCKDIR"' EXIT
	trap 'exit 130' INT TERM
fi
mkdir -p "$SOCKDIR"
APPEND=${APPEND:-xenon.ip=10.0.2.15/24 xenon.gw=10.0.2.2}
KERNEL=${KERNEL:-vmlinux}
[ -f "$DIR/$KERNEL" ] || KERNEL=vmlinuz
echo "kernel: $DIR/$KERNEL" >&2
echo "QMP: $SOCKDIR/qmp.sock  guest agent: $SOCKDIR/ga.sock  (Ctrl-A X quits)" >&2

# romfile= skips the iPXE option ROM (saves firmware time). acpi=noirq speeds
# up virtio_pci on -M pc; do not use it with -M q35 (no power button then).
qemu-system-x86_64 -M pc -m 256 -nographic -no-reboot \
	-kernel "$DIR/$KERNEL" -initrd "$DIR/initrd.img" \
	-append "console=ttyS0 acpi=noirq panic=-1 $APPEND" \
	-netdev user,id=net0 -device virtio-net-pci,netdev=net0,romfile= \
	-device virtio-serial-pci,id=vser0 \
	-chardev socket,id=ga0,path="$SOCKDIR/ga.sock",server=on,wait=off \
	-device virtserialport,bus=vser0.0,chardev=ga0,name=org.qemu.guest_agent.0 \
	-qmp unix:"$SOCKDIR/qmp.sock",server=on,wait=off \
	"$@"
