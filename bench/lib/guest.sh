#!/usr/bin/env bash
# The part of the benchmark that runs inside the qemu VM (Debian's kernel, which has IPVS):
# the data plane of ipvs, iptables-linear and iptables-prefix-tree on the same kernel, and the
# control plane of ipvs with iptables (legacy, the guest's only backend) beside it.
# Rows go to the console as "KPXB|FILE|ROW"; bench/run collects them.
# Usage (in the guest):
#   guest.sh BENCH_DIR KPX CONNBENCH GEN QUICK(0|1) DUR_MS CONN_CAP EDITS "DP_NS" "CP_NS" LOG_DIR
set -euo pipefail
bench=$1
KPX=$2
CONNBENCH=$3
GEN=$4
quick=$5
DUR_MS=$6
CONN_CAP=$7
EDITS=$8
read -r -a dp_ns <<<"$9"
read -r -a cp_ns <<<"${10}"
BLOGS=${11}
BKERNEL=vm
BWORK=$(mktemp -d /tmp/kpxb.XXXXXX)
mkdir -p "$BLOGS"
BPREFIX=kpxbvm
b_emit() { printf 'KPXB|%s|%s\n' "$1" "$2"; }
# shellcheck source=bench/lib/bench-lib.sh
source "$bench/lib/bench-lib.sh"
trap b_cleanup EXIT

b_log "guest: kernel $(uname -r), quick=$quick, data plane N=${dp_ns[*]}, control plane N=${cp_ns[*]}"
ulimit -n 65536 2>/dev/null || true
for n in "${dp_ns[@]}"; do
  rm -rf "$BWORK/dp"
  b_gen_dataplane "$n" "$BWORK/dp" >/dev/null
  b_dataplane ipvs legacy linear "$n" "$BWORK/dp" || true
  b_dataplane iptables legacy linear "$n" "$BWORK/dp" || true
  b_dataplane iptables legacy prefix-tree "$n" "$BWORK/dp" || true
done
for n in "${cp_ns[@]}"; do
  rm -rf "$BWORK/cp" "$BWORK/edit"
  b_gen_controlplane "$n" "$BWORK/cp" "$BWORK/edit" >/dev/null
  b_controlplane ipvs legacy linear "$n" "$BWORK/cp" "$BWORK/edit" || true
  b_controlplane iptables legacy linear "$n" "$BWORK/cp" "$BWORK/edit" || true
done
b_log "guest: done"
