#!/usr/bin/env bash
# The part of the benchmark that runs inside the qemu VM (Debian's kernel, which has IPVS):
# the data plane of ipvs, iptables-linear and iptables-prefix-tree (libiptc) on the same kernel,
# and the control plane of ipvs with iptables-legacy beside it.
# Rows go to the console as "KPXB|FILE|ROW"; bench/run collects them.
# Usage (in the guest):
#   guest.sh BENCH_DIR KPX CONNBENCH GEN CHURN QUICK(0|1) DUR_MS CONN_CAP EDITS "DP_NS" "CP_NS"
#            LOG_DIR IPT_CP_MAX_N "MODES" "CHURN_NS" CHURN_RATE CHURN_SECONDS
# MODES: which of ipvs, ipvs-floor, ipvs-floor-masq, ipvs-ab, iptables-linear, iptables-prefix-tree
# run (ipvs-floor: the same services loaded with ipvsadm alone, no kpx; ipvs-floor-masq: the same
# with conntrack and one masquerade rule; ipvs-ab: kpx's rules and the masquerade floor's swapped
# in alternating rounds under one kpx sync; data plane only).
# CHURN_NS: sizes at which kpx's ipvs mode takes CHURN_RATE endpoint changes/s for CHURN_SECONDS
# (network programming latency; churn.csv).
# The iptables control plane stops at IPT_CP_MAX_N: legacy commits whole tables, which under TCG
# takes minutes per incremental sync at 10 000 services; it is here as a same-kernel reference.
set -euo pipefail
bench=$1
KPX=$2
CONNBENCH=$3
GEN=$4
CHURN=$5
quick=$6
DUR_MS=$7
CONN_CAP=$8
EDITS=$9
read -r -a dp_ns <<<"${10}"
read -r -a cp_ns <<<"${11}"
BLOGS=${12}
ipt_cp_max_n=${13}
modes=" ${14} "
read -r -a churn_ns <<<"${15}"
churn_rate=${16}
churn_seconds=${17}
want() { [[ $modes == *" $1 "* ]]; }
BKERNEL=vm
BWORK=$(mktemp -d /tmp/kpxb.XXXXXX)
mkdir -p "$BLOGS"
BPREFIX=kpxbvm
# One stuck step must not eat the whole VM budget (the run's timeout loses every later row).
SYNC_TIMEOUT=300
EDIT_TIMEOUT=60
b_emit() { printf 'KPXB|%s|%s\n' "$1" "$2"; }
# shellcheck source=bench/lib/bench-lib.sh
source "$bench/lib/bench-lib.sh"
trap b_cleanup EXIT

b_log "guest: kernel $(uname -r), quick=$quick, data plane N=${dp_ns[*]}, control plane N=${cp_ns[*]}"
ulimit -n 65536 2>/dev/null || true
# The control plane first: it is cheap, and a timeout later then costs only the largest N.
for n in "${cp_ns[@]}"; do
  rm -rf "$BWORK/cp" "$BWORK/edit"
  b_gen_controlplane "$n" "$BWORK/cp" "$BWORK/edit" >/dev/null
  if want ipvs; then b_controlplane ipvs legacy linear "$n" "$BWORK/cp" "$BWORK/edit" || true; fi
  if want iptables-linear && ((n <= ipt_cp_max_n)); then
    b_controlplane iptables legacy linear "$n" "$BWORK/cp" "$BWORK/edit" || true
  elif want iptables-linear; then
    b_emit controlplane_skipped.csv "vm,iptables-linear,legacy,$n,above the VM's iptables control-plane limit ($ipt_cp_max_n): too slow under TCG"
  fi
done
# Churn next: the network programming latency at the largest N asked for.
for n in "${churn_ns[@]}"; do
  want ipvs || break
  rm -rf "$BWORK/cp" "$BWORK/edit"
  b_gen_controlplane "$n" "$BWORK/cp" "$BWORK/edit" >/dev/null
  b_churn ipvs legacy linear "$n" "$BWORK/cp" "$BWORK/edit" "$churn_rate" "$churn_seconds" || true
done
rm -rf "$BWORK/cp"
for n in "${dp_ns[@]}"; do
  rm -rf "$BWORK/dp"
  b_gen_dataplane "$n" "$BWORK/dp" >/dev/null
  if want ipvs; then b_dataplane ipvs legacy linear "$n" "$BWORK/dp" || true; fi
  # Right after kpx's ipvs rows, on the same kernel: the floor they are read against.
  if want ipvs-floor; then b_dataplane_ipvs_floor "$n" "$BWORK/dp.ipvsadm" || true; fi
  if want ipvs-floor-masq; then b_dataplane_ipvs_floor "$n" "$BWORK/dp.ipvsadm" masq || true; fi
  if want ipvs-ab; then b_dataplane_ipvs_ab "$n" "$BWORK/dp" || true; fi
  if want iptables-linear; then b_dataplane iptables libiptc linear "$n" "$BWORK/dp" || true; fi
  if want iptables-prefix-tree; then
    b_dataplane iptables libiptc prefix-tree "$n" "$BWORK/dp" || true
  fi
done
b_log "guest: done"
