#!/usr/bin/env bash
# Usage: prepare-kernel.sh [CACHE_DIR]      (default: $KPX_VM_CACHE or /var/cache/kpx-vm)
#
# Prepares everything tests/vm/run-in-vm.sh needs to boot Debian's own kernel under qemu:
#   - host packages: qemu-system-x86, busybox-static and the tools copied into the guest
#     (installed with apt-get only when missing; needs root then);
#   - the kernel package linux-image-amd64 currently depends on, fetched with `apt-get download`,
#     unpacked with dpkg-deb -x into CACHE_DIR (never installed on the host), depmod'ed, and its
#     uncompressed vmlinux extracted.
# Result: CACHE_DIR/current -> kernels/<package>_<version>/ with
#   vmlinux, root/lib/modules/<kver>/..., kver (a file holding the kernel release).
# Idempotent: a stamp file marks a finished kernel, a re-run only re-resolves the package name
# (and works offline from the last prepared kernel). Safe to run concurrently (flock).
set -euo pipefail

cache=${1:-${KPX_VM_CACHE:-/var/cache/kpx-vm}}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { echo "prepare-kernel: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Packages the harness needs on the host. ipvsadm goes into the guest: bench/run's IPVS floor
# loads services with it (ipvsadm -R), and it is a debugging aid there.
host_packages=(qemu-system-x86 busybox-static kmod cpio xz-utils gzip util-linux
  iptables ipset iproute2 conntrack netbase ipvsadm nftables)

apt_updated=0
apt_update_once() {
  if ((apt_updated == 0)); then
    log "apt-get update"
    apt-get update -qq || log "warning: apt-get update failed"
    apt_updated=1
  fi
}

ensure_packages() {
  local missing=() p installed
  # dpkg-query exits 1 when any named package is unknown, which is exactly the case to handle:
  # its output still lists the known ones, so its status must not end the script.
  installed=$( (dpkg-query -W -f='${Package} ${Status}\n' "${host_packages[@]}" 2>/dev/null || true) |
    sed -n 's/^\([^ ]*\) install ok installed$/\1/p')
  for p in "${host_packages[@]}"; do
    grep -qx "$p" <<<"$installed" || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  ((EUID == 0)) || die "missing packages ${missing[*]} and not root to install them"
  log "installing ${missing[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Prints the concrete kernel package, e.g. linux-image-6.1.0-56-amd64, or nothing.
resolve_kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1
}

mkdir -p "$cache/kernels"
exec 9>"$cache/.lock"
flock -w 900 9 || die "timed out waiting for the lock on $cache"
# Under the lock too: two VM tests started at once on a fresh machine both found the packages
# missing, and the second apt-get failed on dpkg's lock instead of waiting.
ensure_packages

pkg=$(resolve_kernel_package)
if [[ -z $pkg ]]; then
  apt_update_once
  pkg=$(resolve_kernel_package)
fi
if [[ -z $pkg ]]; then
  if [[ -f $cache/current/.stamp ]]; then
    log "warning: cannot resolve linux-image-amd64; keeping $(readlink "$cache/current")"
    exit 0
  fi
  die "cannot resolve the package behind linux-image-amd64 (apt-cache depends gave nothing)"
fi
version=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
[[ -n $version && $version != "(none)" ]] || die "no candidate version for $pkg"
name="${pkg}_${version}"
dir="$cache/kernels/$name"

if [[ -f $dir/.stamp ]]; then
  log "$name already prepared in $dir"
else
  log "preparing $name in $dir"
  rm -rf "$dir" "$dir.tmp"
  mkdir -p "$dir.tmp/dl"
  # The _apt sandbox user cannot write into the cache; apt then warns and downloads as root.
  (cd "$dir.tmp/dl" && timeout 600 apt-get download -q "$pkg=$version") 2>&1 |
    grep -v 'unsandboxed as root' >&2 || true
  deb=$(find "$dir.tmp/dl" -maxdepth 1 -name '*.deb' | head -n 1)
  [[ -n $deb ]] || die "apt-get download $pkg=$version produced no .deb"
  dpkg-deb -x "$deb" "$dir.tmp/root"
  rm -rf "$dir.tmp/dl"
  kver=$(find "$dir.tmp/root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | head -n 1)
  [[ -n $kver ]] || die "no lib/modules/<kver> in $deb"
  depmod -b "$dir.tmp/root" "$kver"
  [[ -s $dir.tmp/root/lib/modules/$kver/modules.dep ]] || die "depmod produced no modules.dep"
  "$here/extract-vmlinux.sh" "$dir.tmp/root/boot/vmlinuz-$kver" "$dir.tmp/vmlinux" >&2
  echo "$kver" >"$dir.tmp/kver"
  date -u +%FT%TZ >"$dir.tmp/.stamp"
  mv "$dir.tmp" "$dir"
fi

# Point `current` at this kernel atomically (rename over the old symlink).
ln -sfn "kernels/$name" "$cache/current.new"
mv -T "$cache/current.new" "$cache/current"
log "current -> kernels/$name (kernel $(cat "$dir/kver"))"
