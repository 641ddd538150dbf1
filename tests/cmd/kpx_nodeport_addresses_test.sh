#!/usr/bin/env bash
# --nodeport-addresses end to end, with the kpx binary in a private network namespace and real
# TCP from a client namespace. The node namespace has two addresses on its client-facing link:
# 10.99.0.2 (the Node object's InternalIP, so "primary") and 10.98.0.2 (not primary). With
# --nodeport-addresses=primary, api's NodePort 30080 answers on 10.99.0.2 only and edge's
# health-check node port 32100 listens on 10.99.0.2 only; with --nodeport-addresses=10.98.0.0/24
# it is the other way round.
# Usage: kpx_nodeport_addresses_test.sh BUILD_DIR [MODE]   (MODE: iptables (default), userspace)
set -uo pipefail
mode=${2:-iptables}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/kpx_test.sh
source "$here/../lib/kpx_test.sh" "$1" kpxn$$ topology

start_kpx() {
  ip netns exec "$TOPO_NODE" "$kpx" --mode="$mode" --source="$work/m" --hostname-override=kpx-node \
    --cluster-cidr=10.99.0.0/16 --min-sync-period=100ms --nodeport-addresses="$1" \
    --healthz-bind-address=127.0.0.1:10256 --metrics-bind-address=127.0.0.1:10249 \
    >>"$work/kpx.log" 2>&1 &
  kpx_pid=$!
}
stop_kpx() {
  kill -TERM "$kpx_pid" 2>/dev/null
  wait "$kpx_pid" 2>/dev/null
  kpx_pid=
  in_node "$kpx" --cleanup >>"$work/kpx.log" 2>&1
}
# "ok" when a connection to IP:PORT from the client gets an answer from a backend.
answers() {
  # Not a pipe into grep -q: under pipefail the probe's SIGPIPE would fail an answered probe.
  if grep -q '^api' < <(in_client "$probe" tcp "$1" "$2" --count 2 --timeout-ms 1500 2>/dev/null); then
    echo ok
  else
    echo no
  fi
}
listening_on() { in_node ss -Hltn "sport = :$1" | awk '{print $4}' | sort | paste -sd' ' -; }
synced() { [[ $(answers "$1" 30080) == ok ]]; }

topo_up "$build/tests/tools/kpx-echo-server"

echo "--- $mode, --nodeport-addresses=primary"
start_kpx primary
check "kpx serves api's NodePort on the primary address" wait_until 20 synced 10.99.0.2
check_eq "NodePort on the primary address 10.99.0.2" ok "$(answers 10.99.0.2 30080)"
check_eq "no NodePort on the other address 10.98.0.2" no "$(answers 10.98.0.2 30080)"
check "the health-check node port listens on the primary address only" \
  wait_until 10 bash -c "[[ \$(ip netns exec $TOPO_NODE ss -Hltn 'sport = :32100' | awk '{print \$4}') == 10.99.0.2:32100 ]]"
stop_kpx

echo "--- $mode, --nodeport-addresses=10.98.0.0/24"
start_kpx 10.98.0.0/24
check "kpx serves api's NodePort on 10.98.0.2" wait_until 20 synced 10.98.0.2
check_eq "no NodePort on 10.99.0.2, outside the CIDR" no "$(answers 10.99.0.2 30080)"
check "the health-check node port listens on 10.98.0.2 only" \
  wait_until 10 bash -c "[[ \$(ip netns exec $TOPO_NODE ss -Hltn 'sport = :32100' | awk '{print \$4}') == 10.98.0.2:32100 ]]"
echo "health-check listeners: $(listening_on 32100)"
stop_kpx

if ((CHECK_FAILED > 0)); then tail -n 30 "$work/kpx.log" | sed 's/^/kpx: /'; fi
check_summary
