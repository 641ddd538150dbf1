#!/usr/bin/env bash
# Runs a command inside a throw-away qemu VM booted from Debian's own kernel, so tests can use
# kernel features the host lacks (IPVS, dummy links, ...). See tests/vm/README.md.
#
# Usage: run-in-vm.sh [options] -- GUEST_COMMAND [ARG]...
#   --mem MB                 guest memory (default 256; below 96 the kernel hangs)
#   --timeout SEC            wall-clock limit for the whole VM run (default 300)
#   --file HOST[:GUEST]      copy HOST (file or directory) into the guest at GUEST (default: the
#                            absolute host path); ELF files bring their shared libraries (ldd).
#                            Repeatable.
#   --env NAME=VALUE         export in the guest before the command runs. Repeatable.
#   --cache DIR              kernel/initramfs cache (default $KPX_VM_CACHE or /var/cache/kpx-vm)
#   --verbose                show all kernel messages (default: kernel booted with "quiet")
#   --skip-exit-code N       exit N (instead of failing) when not root and the cache is not
#                            prepared or not writable; for CTest's SKIP_RETURN_CODE
#
# The guest command runs as root under busybox sh in a fresh VM with /proc, /sys, /dev, /tmp
# and /run mounted, lo up, and the IPVS, netfilter (xtables and nf_tables), ipset, SCTP, dummy
# and veth modules loaded.
# Guest tools: busybox, ip, iptables/ip6tables(-restore/-save) (legacy; the -nft names too),
# ipset, conntrack, ipvsadm, nft.
#
# Exit status: the guest command's exit status; 124 if the timeout expired; 125 if the VM
# did not report a result (boot failure, guest crash) or could not be started; 2 on usage errors.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

mem=256
timeout_s=300
cache=${KPX_VM_CACHE:-/var/cache/kpx-vm}
verbose=0
skip_code=""
files=()
envs=()

log() { echo "run-in-vm: $*" >&2; }
die() { log "error: $*"; exit 125; }
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2; exit 2; }

while (($# > 0)); do
  case $1 in
    --mem) mem=${2:?--mem needs a value}; shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
    --file) files+=("${2:?--file needs a value}"); shift 2 ;;
    --env) envs+=("${2:?--env needs a value}"); shift 2 ;;
    --cache) cache=${2:?--cache needs a value}; shift 2 ;;
    --verbose) verbose=1; shift ;;
    --skip-exit-code) skip_code=${2:?--skip-exit-code needs a value}; shift 2 ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) log "unknown option $1"; usage ;;
  esac
done
(($# > 0)) || { log "no guest command given"; usage; }
if ! [[ $mem =~ ^[0-9]+$ ]] || ((mem < 96)); then log "--mem must be a number >= 96"; exit 2; fi
if ! [[ $timeout_s =~ ^[0-9]+$ ]] || ((timeout_s == 0)); then
  log "--timeout must be a positive number"
  exit 2
fi

# ---------------------------------------------------------------------------------------------
# Kernel and host tools.

kernel_ready() {
  [[ -f $cache/current/.stamp ]] && command -v qemu-system-x86_64 cpio >/dev/null &&
    [[ -x /bin/busybox ]]
}
if ((EUID != 0)) && [[ -n $skip_code ]] &&
  { ! kernel_ready || ! [[ -w $cache/initramfs || (! -e $cache/initramfs && -w $cache) ]]; }; then
  echo "SKIP: the qemu test VM needs root here: $cache is not prepared or not writable for" \
    "$(id -un) (run scripts/vm/prepare-kernel.sh as root, or set KPX_VM_CACHE)"
  exit "$skip_code"
fi
if ! kernel_ready; then
  "$repo/scripts/vm/prepare-kernel.sh" "$cache" || die "scripts/vm/prepare-kernel.sh failed"
fi
kdir=$(readlink -f "$cache/current")
kver=$(cat "$kdir/kver")
moddir="$kdir/root/lib/modules/$kver"
vmlinux="$kdir/vmlinux"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kpx-vm.XXXXXX")
qemu_pid=""
stream_pid=""
base_tmp=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill -KILL "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  if [[ -n $stream_pid ]] && kill -0 "$stream_pid" 2>/dev/null; then
    kill "$stream_pid" 2>/dev/null || true
    wait "$stream_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
  if [[ -n $base_tmp ]]; then rm -f "$base_tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Staging helpers: copy host files into a root tree at the same path, plus their libraries.

# Prints the shared libraries (and the dynamic loader) an ELF file needs, one path per line.
elf_libs() {
  local out
  out=$(ldd "$1" 2>/dev/null) || return 0 # static binary or not ELF
  sed -n -e 's/^.*=> \(\/[^ ]*\) (0x.*$/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (0x.*$/\1/p' <<<"$out"
}

is_elf() { [[ -f $1 && $(head -c 4 "$1" 2>/dev/null | od -An -tx1 | tr -d ' \n') == 7f454c46 ]]; }

# stage_file ROOT SRC [DST]: copies SRC (following symlinks) to ROOT/DST, and its libraries.
stage_file() {
  local root=$1 src=$2 dst=${3:-$2} lib
  mkdir -p "$root$(dirname "$dst")"
  cp -L --preserve=mode "$src" "$root$dst"
  if is_elf "$src"; then
    while read -r lib; do
      [[ -e $root$lib ]] && continue
      mkdir -p "$root$(dirname "$lib")"
      cp -L --preserve=mode "$lib" "$root$lib"
    done < <(elf_libs "$src")
  fi
}

# stage_tree ROOT SRC DST: copies a directory; ELF files in it bring their libraries.
stage_tree() {
  local root=$1 src=$2 dst=$3 f
  mkdir -p "$root$dst"
  cp -a "$src/." "$root$dst/"
  while IFS= read -r -d '' f; do
    if is_elf "$f"; then stage_file "$root" "$f" "$dst/${f#"$src"/}"; fi
  done < <(find "$src" -type f -print0)
}

make_cpio() { # make_cpio ROOT OUT
  (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$2"
}

# ---------------------------------------------------------------------------------------------
# Base initramfs: busybox, tools, modules, /init. Cached per kernel and tool versions.

# Modules wanted in the guest (names as in modules.dep, '-' and '_' equivalent). Their
# dependencies and soft pre-dependencies are added and ordered from modules.dep/modules.softdep.
wanted_modules=(
  crc32c_generic libcrc32c nf_defrag_ipv4 nf_defrag_ipv6 nf_conntrack nf_nat
  nfnetlink nf_conntrack_netlink nf_reject_ipv4 nf_reject_ipv6
  ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh ip_vs_sh
  ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_mh ip_vs_twos
  x_tables ip_tables ip6_tables iptable_nat iptable_filter iptable_mangle iptable_raw
  ip6table_nat ip6table_filter ip6table_mangle ip6table_raw
  xt_comment xt_mark xt_connmark xt_MASQUERADE xt_nat xt_REDIRECT xt_addrtype xt_conntrack
  xt_state xt_set xt_multiport xt_tcpudp xt_statistic xt_recent xt_physdev xt_limit xt_ipvs
  xt_CT xt_NFLOG xt_LOG xt_sctp ipt_REJECT ip6t_REJECT
  ip_set ip_set_hash_ip ip_set_hash_ipport ip_set_hash_ipportip ip_set_hash_ipportnet
  ip_set_hash_net ip_set_hash_netport ip_set_hash_ipmark ip_set_bitmap_port ip_set_list_set
  dummy veth
  # SCTP sockets (the host kernel has none; nf_conntrack and ip_vs have SCTP built in) and the
  # nf_tables expressions kpx's nftables mode and iptables-nft use.
  sctp
  nf_tables nft_ct nft_nat nft_chain_nat nft_numgen nft_fib_ipv4 nft_fib_ipv6 nft_masq
  nft_reject_ipv4 nft_reject_ipv6 nft_compat
)

# Module parameters. No dummy0/ifb devices by default: tests create the links they need.
declare -A module_params=([dummy]="numdummies=0")

# Guest tools: host path -> names it is installed under in /usr/sbin.
guest_tools=(
  "/usr/sbin/xtables-legacy-multi:iptables iptables-restore iptables-save ip6tables ip6tables-restore ip6tables-save iptables-legacy iptables-legacy-restore iptables-legacy-save ip6tables-legacy ip6tables-legacy-restore ip6tables-legacy-save"
  "/usr/sbin/ipset:ipset"
  "/usr/sbin/conntrack:conntrack"
  "/usr/bin/ip:ip"
  "/usr/sbin/ipvsadm:ipvsadm"
  "/usr/sbin/xtables-nft-multi:iptables-nft iptables-nft-restore iptables-nft-save ip6tables-nft ip6tables-nft-restore ip6tables-nft-save"
  "/usr/sbin/nft:nft"
)
xtables_dir=/usr/lib/x86_64-linux-gnu/xtables

# Prints module paths (relative to moddir) in load order.
module_order() {
  local -A path_of=() deps_of=() builtin=() alias_of=() softdep_of=() state=()
  local line key rest name p
  while IFS= read -r line; do
    key=${line%%:*}
    rest=${line#*:}
    name=${key##*/}
    name=${name%%.ko*}
    path_of[${name//-/_}]=$key
    deps_of[$key]=$rest
  done <"$moddir/modules.dep"
  while IFS= read -r p; do
    name=${p##*/}
    name=${name%%.ko*}
    builtin[${name//-/_}]=1
  done <"$moddir/modules.builtin"
  # Aliases: prefer a generic implementation (crc32c -> crc32c_generic, not crc32c_intel,
  # which needs SSE4.2 that the emulated CPU may lack).
  while read -r _ key name; do
    name=${name//-/_}
    if [[ -z ${alias_of[$key]:-} || $name == *_generic ]]; then alias_of[$key]=$name; fi
  done < <(grep '^alias [^ ]* [^ ]*$' "$moddir/modules.alias")
  while read -r _ name rest; do
    rest=${rest#*pre: }
    softdep_of[${name//-/_}]=${rest%% post:*}
  done < <(grep '^softdep .* pre: ' "$moddir/modules.softdep" || true)

  visit() { # visit NAME: emits NAME's module path after everything it needs
    local n=${1//-/_} d
    [[ -n ${builtin[$n]:-} ]] && return 0
    if [[ -z ${path_of[$n]:-} && -n ${alias_of[$n]:-} ]]; then n=${alias_of[$n]}; fi
    [[ -n ${builtin[$n]:-} ]] && return 0
    if [[ -z ${path_of[$n]:-} ]]; then
      log "warning: module $1 not found in $kver; skipped"
      return 0
    fi
    [[ -n ${state[$n]:-} ]] && return 0
    state[$n]=1
    for d in ${softdep_of[$n]:-}; do visit "$d"; done
    for d in ${deps_of[${path_of[$n]}]}; do
      d=${d##*/}
      visit "${d%%.ko*}"
    done
    echo "${path_of[$n]}"
  }
  for name in "${wanted_modules[@]}"; do visit "$name"; done
}

build_base() { # build_base OUT
  local root="$tmp/base" entry src names n ko name
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,root,etc/kpx-vm,kpx-vm}
  mkdir -p "$root/var"
  ln -s ../run "$root/var/run"

  cp /bin/busybox "$root/bin/busybox"
  # Debian's busybox-static sh runs its own applets before searching PATH (so `ip` in a script
  # would be busybox's, not iproute2's); dash and bash search PATH as usual.
  stage_file "$root" /bin/dash /bin/dash
  stage_file "$root" /bin/bash /bin/bash
  ln -s dash "$root/bin/sh"
  local -A real=([sh]=1 [bash]=1 [dash]=1)
  for entry in "${guest_tools[@]}"; do
    src=${entry%%:*}
    names=${entry#*:}
    [[ -x $src ]] || { log "warning: $src missing on the host; not in the guest"; continue; }
    stage_file "$root" "$src" "/usr/sbin/${src##*/}"
    for n in $names; do
      [[ $n == "${src##*/}" ]] || ln -s "${src##*/}" "$root/usr/sbin/$n"
      real[$n]=1
    done
  done
  for n in $(/bin/busybox --list); do
    [[ -n ${real[$n]:-} || $n == busybox ]] || ln -s busybox "$root/bin/$n"
  done
  if [[ -d $xtables_dir ]]; then
    for ko in "$xtables_dir"/libxt_*.so "$xtables_dir"/libipt_*.so "$xtables_dir"/libip6t_*.so; do
      stage_file "$root" "$ko"
    done
  fi

  local f
  for f in /etc/protocols /etc/services; do
    [[ -f $f ]] && cp "$f" "$root$f"
  done
  printf 'passwd: files\ngroup: files\nhosts: files\nprotocols: files\nservices: files\n' \
    >"$root/etc/nsswitch.conf"
  echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
  echo 'root:x:0:' >"$root/etc/group"
  printf '127.0.0.1 localhost kpx-vm\n::1 localhost\n' >"$root/etc/hosts"

  module_order >"$tmp/modules"
  while read -r ko; do
    mkdir -p "$root/lib/modules/$kver/$(dirname "$ko")"
    cp "$moddir/$ko" "$root/lib/modules/$kver/$ko"
    name=${ko##*/}
    echo "$ko ${module_params[${name%%.ko*}]:-}"
  done <"$tmp/modules" >"$root/etc/kpx-vm/modules"
  echo "$kver" >"$root/etc/kpx-vm/kver"
  install -m 0755 "$here/guest-init.sh" "$root/init"

  make_cpio "$root" "$1"
  rm -rf "$root"
}

base_key() {
  {
    echo "$kver"
    cat "${BASH_SOURCE[0]}" "$here/guest-init.sh"
    dpkg-query -W busybox-static iptables ipset conntrack iproute2 ipvsadm nftables libc6 2>/dev/null || true
  } | sha256sum | cut -c1-16
}

mkdir -p "$cache/initramfs"
base="$cache/initramfs/base-$kver-$(base_key).cpio"
t0=$(date +%s%N)
if [[ ! -f $base ]]; then
  exec 8>"$cache/initramfs/.lock"
  flock -w 300 8 || die "timed out waiting for the initramfs lock"
  if [[ ! -f $base ]]; then
    log "building the base initramfs for kernel $kver"
    base_tmp="$base.tmp.$$"
    build_base "$base_tmp"
    mv "$base_tmp" "$base"
    base_tmp=""
    # Older bases (other kernels or script versions) are dropped after a day.
    find "$cache/initramfs" -name 'base-*.cpio' -mtime +1 -delete 2>/dev/null || true
  fi
  flock -u 8
fi

# ---------------------------------------------------------------------------------------------
# Per-run archive: the listed files, the command and its environment. Appended to the base as a
# second cpio archive (the kernel unpacks concatenated archives in order).

run_root="$tmp/run"
mkdir -p "$run_root/kpx-vm"
lib_dirs=()
for spec in "${files[@]}"; do
  src=${spec%%:*}
  dst=${spec#*:}
  [[ $spec == *:* ]] || dst=""
  [[ -e $src ]] || die "--file $src: no such file or directory"
  src=$(readlink -f "$src")
  [[ -n $dst ]] || dst=$src
  [[ $dst == /* ]] || die "--file $spec: guest path must be absolute"
  if [[ -d $src ]]; then
    stage_tree "$run_root" "$src" "$dst"
  else
    stage_file "$run_root" "$src" "$dst"
  fi
done
# Libraries found by the host through ld.so.cache in non-default directories: the guest has no
# cache, so point the loader at them.
if [[ -d $run_root/usr || -d $run_root/lib || -d $run_root/opt ]]; then
  while IFS= read -r d; do
    case $d in
      /lib/x86_64-linux-gnu | /usr/lib/x86_64-linux-gnu | /lib | /usr/lib | /lib64) ;;
      *) lib_dirs+=("$d") ;;
    esac
  done < <(cd "$run_root" && find . -name '*.so*' -type f -printf '/%h\n' | sed 's|^/\./|/|' | sort -u)
fi

sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; } # single-quotes a word for sh
{
  for e in "${envs[@]}"; do
    [[ $e == *=* && ${e%%=*} =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "--env $e: expected NAME=VALUE"
    echo "export ${e%%=*}=$(sq "${e#*=}")"
  done
  if ((${#lib_dirs[@]} > 0)); then
    ld=$(IFS=:; echo "${lib_dirs[*]}")
    echo "export LD_LIBRARY_PATH=$(sq "$ld")\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
  fi
} >"$run_root/kpx-vm/env"
{
  printf 'exec'
  for a in "$@"; do printf ' %s' "$(sq "$a")"; done
  printf '\n'
} >"$run_root/kpx-vm/cmd"

make_cpio "$run_root" "$tmp/run.cpio"
cat "$base" "$tmp/run.cpio" >"$tmp/initrd"
rm -rf "$run_root" "$tmp/run.cpio"
t1=$(date +%s%N)
log "initramfs ready in $(((t1 - t0) / 1000000)) ms ($(($(stat -c %s "$tmp/initrd") / 1024)) KiB)"

# ---------------------------------------------------------------------------------------------
# Boot. qemu's serial console goes to a log file that is streamed to stdout while it grows.

# no_timer_check: under TCG on a loaded host the kernel's early check that the PIT timer ticks
# through the IO-APIC can miss its window, and Debian's kernel then panics ("IO-APIC + timer
# doesn't work!") before init; seen with load average 8 on this 2-core machine.
append="console=ttyS0 panic=-1 oops=panic no_timer_check"
((verbose)) || append+=" quiet"
serial_log="$tmp/serial.log"
: >"$serial_log"
qemu-system-x86_64 -accel tcg -M pc -m "$mem" -smp 1 -nodefaults -display none \
  -serial stdio -no-reboot -kernel "$vmlinux" -initrd "$tmp/initrd" \
  -append "$append" </dev/null >"$serial_log" 2>&1 &
qemu_pid=$!
started_pid=$qemu_pid
# tail follows the log until qemu exits; tr (behind fd 7) drops the console's carriage returns
# and ends when tail does.
exec 7> >(tr -d '\r')
filter_pid=$!
tail -s 0.2 -n +1 --pid="$qemu_pid" -f "$serial_log" >&7 &
stream_pid=$!
exec 7>&-

timed_out=0
deadline=$((SECONDS + timeout_s))
while kill -0 "$qemu_pid" 2>/dev/null; do
  if ((SECONDS >= deadline)); then
    timed_out=1
    kill -TERM "$qemu_pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$qemu_pid" 2>/dev/null || break
      sleep 0.5
    done
    kill -KILL "$qemu_pid" 2>/dev/null || true
    break
  fi
  sleep 0.2
done
qemu_rc=0
wait "$qemu_pid" || qemu_rc=$?
qemu_pid=""
wait "$stream_pid" || true
stream_pid=""
wait "$filter_pid" 2>/dev/null || true
t2=$(date +%s%N)
secs=$(awk -v ns="$((t2 - t1))" 'BEGIN { printf "%.1f", ns / 1e9 }')

if ((timed_out)); then
  log "TIMEOUT: the VM did not finish within ${timeout_s}s; killed qemu (pid $started_pid)"
  exit 124
fi
rc=$(tr -d '\r' <"$serial_log" | sed -n 's/^KPX-VM-EXIT=\([0-9]\{1,3\}\)$/\1/p' | tail -n 1)
if [[ -z $rc ]]; then
  log "BOOT FAILURE: the VM exited (qemu status $qemu_rc) after ${secs}s without reporting a" \
    "result; see the console output above (try --verbose for all kernel messages)"
  exit 125
fi
log "guest command exited with status $rc (VM ran ${secs}s)"
exit "$rc"
