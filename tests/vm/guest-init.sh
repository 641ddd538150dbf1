#!/bin/sh
# /init of the kpx test VM (dash, PID 1). Installed by tests/vm/run-in-vm.sh.
#
# Contract with the host: everything written to the console goes to the host's stdout; the last
# line starting with "KPX-VM-EXIT=" carries the guest command's exit status; then the VM powers off.
# If this script dies instead, the kernel panics, reboots, and qemu (-no-reboot) exits without a
# marker, which the host reports as a boot failure.
# shellcheck shell=sh

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
export XTABLES_LIBDIR=/usr/lib/x86_64-linux-gnu/xtables

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
# The initramfs root is itself writable; a fresh tmpfs only where it would not hide files the
# host put there (e.g. a test binary from a build tree under /tmp).
for d in /tmp /run; do
  [ -n "$(ls -A "$d")" ] || mount -t tmpfs tmpfs "$d"
done
mkdir -p /run/netns
t_init=$(cut -d' ' -f1 /proc/uptime)

# Modules in dependency order, one path (relative to /lib/modules/<kver>) per line.
kver=$(cat /etc/kpx-vm/kver)
failed=""
while read -r ko params; do
  [ -n "$ko" ] || continue
  # shellcheck disable=SC2086  # params is a list of key=value words
  insmod "/lib/modules/$kver/$ko" $params 2>/dev/null || failed="$failed ${ko##*/}"
done </etc/kpx-vm/modules
[ -z "$failed" ] || echo "kpx-vm: warning: insmod failed for:$failed"
t_mod=$(cut -d' ' -f1 /proc/uptime)

ip link set lo up
hostname kpx-vm
echo "kpx-vm: init at ${t_init}s, modules loaded at ${t_mod}s, running the guest command"

# Per-run environment and command, written by the host into the second cpio archive.
if [ -f /kpx-vm/env ]; then
  # shellcheck disable=SC1091
  . /kpx-vm/env
fi
cd /tmp || true
sh /kpx-vm/cmd </dev/null
rc=$?

t_end=$(cut -d' ' -f1 /proc/uptime)
printf '\nkpx-vm: guest command finished at %ss\nKPX-VM-EXIT=%d\n' "$t_end" "$rc"
sync
# Give the UART a moment to drain before the machine disappears.
sleep 0.2
poweroff -f
