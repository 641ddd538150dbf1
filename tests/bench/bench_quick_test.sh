#!/usr/bin/env bash
# Smoke test of the benchmark: `bench/run --quick` must produce numbers (CSV rows for every
# measure, the PNG plots, results.md), whatever their values.
# Usage: bench_quick_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$1
build=$2
if [[ $(id -u) != 0 ]]; then echo "SKIP: bench/run needs root (network namespaces, the qemu VM)"; exit 77; fi
# shellcheck source=tests/lib/check.sh
source "$src/tests/lib/check.sh"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$src/bench/run" --quick --build "$build" --out "$out"
check_eq "bench/run --quick exits 0" 0 $?

rows() { awk -F, -v k="$2" -v m="$3" 'NR > 1 && $1 == k && $2 == m && $5 + 0 > 0' "$out/$1" | wc -l; }
for mode in iptables-linear iptables-prefix-tree; do
  check "host $mode: latency rows with connections" test "$(rows dataplane_latency.csv host "$mode")" -ge 3
  check "vm $mode: latency rows with connections" test "$(rows dataplane_latency.csv vm "$mode")" -ge 3
done
check "vm ipvs: latency rows with connections" test "$(rows dataplane_latency.csv vm ipvs)" -ge 3
check "vm ipvs-floor (ipvsadm alone): latency rows with connections" \
  test "$(rows dataplane_latency.csv vm ipvs-floor)" -ge 3
check "vm ipvs-floor-masq (ipvsadm, conntrack, one masquerade rule): latency rows with connections" \
  test "$(rows dataplane_latency.csv vm ipvs-floor-masq)" -ge 3
check "results.md has the IPVS floor table" grep -q "^### IPVS: kpx against the kernel's floor" "$out/results.md"
for variant in kpx kpx-plain masq; do
  check "vm ipvs-ab: alternating rounds of $variant rules with connections" \
    test "$(awk -F, -v v="$variant" 'NR > 1 && $1 == "vm" && $4 == v && $5 > 0' "$out/dataplane_ab.csv" | wc -l)" -ge 2
done
check "throughput rows" test "$(awk -F, 'NR > 1 && $5 > 0' "$out/dataplane_throughput.csv" | wc -l)" -ge 4
cp_rows() { awk -F, -v k="$1" -v m="$2" -v r="$3" 'NR > 1 && $1 == k && $2 == m && $3 == r && $6 != "" && $8 != "" && $13 != ""' "$out/controlplane.csv" | wc -l; }
for runner in nft legacy libiptc; do
  check "host control plane, iptables $runner: full and incremental sync, RSS" \
    test "$(cp_rows host iptables-linear "$runner")" -ge 2
done
check "host control plane, libiptc: the kernel's replace inside kpx's own syncs, and the ratio" \
  test "$(awk -F, 'NR > 1 && $1 == "host" && $3 == "libiptc" && $19 + 0 > 0 && $20 + 0 > 0' "$out/controlplane.csv" | wc -l)" -ge 1
check "vm control plane, ipvs" test "$(cp_rows vm ipvs -)" -ge 1
# kpx's own CPU per partial sync, from its log: a sync thread's CPU above zero, and the iptables
# modes' own part (the table hand-off left out) below the sync's whole.
own_rows() {
  awk -F, -v k="$1" -v m="$2" -v r="$3" 'NR > 1 && $1 == k && $2 == m && $3 == r && $5 > 0 &&
    $6 > 0 && $7 >= 0 && $7 <= $6' "$out/own_cpu.csv" | wc -l
}
for runner in legacy libiptc; do
  check "host own CPU per partial sync, iptables $runner" \
    test "$(own_rows host iptables-linear "$runner")" -ge 1
done
check "host own CPU per partial sync, nftables" test "$(own_rows host nftables -)" -ge 1
check "vm own CPU per partial sync, ipvs" test "$(own_rows vm ipvs -)" -ge 1
check "results.md has the own-CPU table" grep -q "^### kpx's own CPU per one-endpoint sync" \
  "$out/results.md"
# Churn: kpx observed network programming latencies (the manifest source may coalesce writes
# that land while it is busy, so up to as many as were written), exactly too.
check "vm churn, ipvs: changes observed with a latency" \
  test "$(awk -F, 'NR > 1 && $1 == "vm" && $2 == "ipvs" && $11 > 0 && $11 <= $8 && $22 != ""' "$out/churn.csv" | wc -l)" -ge 1
check "vm control plane, iptables" test "$(cp_rows vm iptables-linear legacy)" -ge 1
for mode in nftables "kube-proxy-nft (nft -f)"; do
  check "host $mode: latency rows with connections" test "$(rows dataplane_latency.csv host "$mode")" -ge 3
done
nft_rows() { awk -F, -v i="$1" 'NR > 1 && $2 == i && $5 + 0 > 0 && $11 + 0 > 0' "$out/nftables_controlplane.csv" | wc -l; }
check "nftables control plane: kpx's first sync and change times" test "$(nft_rows kpx-nftables)" -ge 1
check "nftables control plane: kube-proxy's layout through nft -f" \
  test "$(nft_rows "kube-proxy-layout (nft -f)")" -ge 1
check "nftables control plane: kernel floor" \
  test "$(awk -F, 'NR > 1 && $2 == "kpx-nftables" && $9 + 0 > 0' "$out/nftables_controlplane.csv" | wc -l)" -ge 1
check "results.md has the nftables section" grep -q "^## nftables mode vs kube-proxy" "$out/results.md"
for png in dataplane_latency_host dataplane_latency_vm dataplane_connrate dataplane_throughput \
  controlplane_full_sync controlplane_incremental_sync controlplane_rss; do
  check "$png.png is a PNG" bash -c "head -c 8 '$out/$png.png' | grep -q PNG"
done
check "results.md has the targets table" grep -q '^## Targets' "$out/results.md"
check "results.md names the command" grep -q 'bench/run --quick' "$out/results.md"
if ((CHECK_FAILED > 0)); then tail -n 30 "$out/logs/vm-console.log" 2>/dev/null; fi
check_summary
