#!/usr/bin/env bash
# Process and kernel faults against the kpx binary, in private network namespaces:
#  - kill -9 at random points while kpx syncs real changes, many times, with a client looping
#    through a ClusterIP: no connection may fail, and the final state equals a fresh kpx's;
#  - someone flushes or deletes kpx's chains: repaired within one sync period.
# Usage: kpx_faults_test.sh BUILD_DIR [kills]
set -uo pipefail
kills=${2:-25}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/kpx_test.sh
source "$here/../lib/kpx_test.sh" "$1" kpxf$$ topology
loop_pid=
test_cleanup() { stop_pid TERM "$loop_pid"; }
tables() {
  in_node iptables-save 2>/dev/null |
    awk '/^\*/ {t = $0} /^-A|^:[^ ]+ - / {sub(/ \[[0-9]*:[0-9]*\]/, ""); print t " " $0}'
}
start_kpx() {
  ip netns exec "$TOPO_NODE" "$kpx" --mode=iptables --source="$work/m" \
    --hostname-override=kpx-node --cluster-cidr=10.99.0.0/16 --min-sync-period=0 \
    --sync-period="${1:-30s}" --iptables-full-sync-period="${2:-1h}" \
    --healthz-bind-address=10.99.0.2:10256 --metrics-bind-address= \
    >>"$work/kpx.log" 2>&1 &
  kpx_pid=$!
}
synced() {
  local body
  body=$(ip netns exec "$TOPO_CLIENT" curl -s --max-time 2 -w ' %{http_code}' http://10.99.0.2:10256/healthz) || return 1
  [[ $body == *' 200' && $body != *'"lastUpdated": "0001-'* ]]
}
# Two versions of web's slice, both with live backends: every flip is a real sync. KEEP is a
# regular expression for the endpoint addresses that stay.
set_web() {
  local keep=$1
  awk -v keep="$keep" '
    /^kind: EndpointSlice/ {slice = 1}
    slice && /- addresses:/ {drop = ($0 !~ keep)}
    slice && /^ports:/ {drop = 0}
    !drop {print}' "$root/examples/manifests/web.yaml" >"$work/m/.web.tmp"
  mv "$work/m/.web.tmp" "$work/m/web.yaml"
}

topo_up "$build/tests/tools/kpx-echo-server"
start_kpx
check "kpx starts and syncs" wait_until 20 synced

# The client loops through web's ClusterIP for the whole fault phase.
ip netns exec "$TOPO_CLIENT" "$probe" tcp 10.96.0.10 80 --count 100000 --interval-ms 10 \
  --timeout-ms 3000 --summary >"$work/loop.out" 2>"$work/loop.err" &
loop_pid=$!

RANDOM=$$
self_exits=0
for ((i = 0; i < kills; i++)); do
  # Flip the endpoints (web1+web2 vs web2+web3; web2 stays so no established flow loses its
  # backend), then kill kpx somewhere inside or around the sync that follows.
  if ((i % 2 == 0)); then set_web '10[.]99[.]1[.]1[12]'; else set_web '10[.]99[.]1[.]12|10[.]99[.]2[.]11'; fi
  sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
  if kill -KILL "$kpx_pid" 2>/dev/null; then
    wait "$kpx_pid" 2>/dev/null
  else
    # Gone before the kill: kpx exited by itself, which no restart may cause.
    wait "$kpx_pid"
    status=$?
    echo "kpx exited by itself with status $status after restart $i"
    self_exits=$((self_exits + 1))
  fi
  start_kpx
done
check "no kpx exited by itself during the kills" test "$self_exits" -eq 0
check "kpx converges after $kills kill -9s" wait_until 40 synced
sleep 1
kill -INT "$loop_pid"
wait "$loop_pid"
loop_pid=
result=$(tail -n1 "$work/loop.out")
echo "client loop: $result"
sed 's/^/client: /' "$work/loop.err"
check "client connections were made throughout" awk -F'[= ]' '{exit !($2 > 100)}' <<<"$result"
check "no client connection failed during $kills kill -9s" grep -q ' failed=0$' <<<"$result"
converged=$(tables)

# A fresh kpx on the same manifests must program exactly the same state.
kill -TERM "$kpx_pid"; wait "$kpx_pid"; kpx_pid=
in_node "$kpx" --cleanup >>"$work/kpx.log" 2>&1
start_kpx
check "a fresh kpx syncs" wait_until 20 synced
check_eq "state after the kills equals a fresh kpx's" "$converged" "$(tables)"

# Kernel drift. Periodic syncs are partial (kube-proxy's hourly full resync is the default):
# a flush that takes the canary chain (a firewall reload: nat and mangle flushed and their
# chains deleted) is repaired by the next periodic sync.
kill -TERM "$kpx_pid"; wait "$kpx_pid"; kpx_pid=
start_kpx 2s
check "kpx with a 2s sync period syncs" wait_until 20 synced
good=$(tables)
# wait_until re-runs its command, so the comparison must read the tables inside it.
tables_are() { [[ "$(tables)" == "$1" ]]; }
for table in nat mangle; do in_node iptables -t "$table" -F; in_node iptables -t "$table" -X; done
check "the flush took effect" test "$(tables)" != "$good"
check "flushed tables (canary gone) are repaired within a sync period" \
  wait_until 6 tables_are "$good"
check_eq "traffic flows after the flush" 0 "$(ip netns exec "$TOPO_CLIENT" "$probe" tcp 10.96.0.10 80 --count 3 >/dev/null; echo $?)"

# Damage the canary does not see waits for the full resync: with a 2 s full-sync period it is
# repaired within one.
kill -TERM "$kpx_pid"; wait "$kpx_pid"; kpx_pid=
start_kpx 2s 2s
check "kpx with a 2s full-sync period syncs" wait_until 20 synced
svc_chain=$(in_node iptables-save -t nat | awk '/-A KUBE-SERVICES .*demo\/web:http cluster IP/ {print $NF; exit}')
in_node iptables -t nat -F "$svc_chain"
in_node iptables -t nat -D PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
in_node iptables -t filter -F KUBE-SERVICES
check "the damage took effect" test "$(tables)" != "$good"
check "flushed chains and a deleted jump are repaired within a full-sync period" \
  wait_until 6 tables_are "$good"
check_eq "traffic flows again" 0 "$(ip netns exec "$TOPO_CLIENT" "$probe" tcp 10.96.0.10 80 --count 3 >/dev/null; echo $?)"
in_node iptables -t nat -X KUBE-MARK-MASQ 2>/dev/null || in_node iptables -t nat -F KUBE-MARK-MASQ
check "a flushed KUBE-MARK-MASQ is repaired too" wait_until 6 tables_are "$good"

if ((CHECK_FAILED > 0)); then tail -n 30 "$work/kpx.log" | sed 's/^/kpx: /'; fi
check_summary
