#!/usr/bin/env bash
# IPv6 end to end (issue 16) and independent status listeners, over real IPv6 in a private
# network namespace: kpx-fake-apiserver listens on https://[fd00::1]:PORT (what kubeadm writes for
# an IPv6 control plane) and kpx, in the same namespace, lists and watches it, programs the
# Services, and serves /healthz on [::]:10256 (IPv6 and IPv4, as kube-proxy's Go listener does)
# and /metrics on [::1]:10249. Then a healthz address that is taken: a clear error at start,
# /metrics serves regardless, the failure is counted, and healthz comes up once the port is free.
# Usage: kpx_ipv6_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/kpx_test.sh
source "$here/../lib/kpx_test.sh" "$1" kpx6$$ netns
holder_pid=
test_cleanup() { stop_pid TERM "$holder_pid"; }
exited() { [[ ! -e /proc/$1 ]] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

# nodad: usable at once, without duplicate address detection's delay.
in_ns ip -6 addr add fd00::1/128 dev lo nodad
start_fake_api "$ns" --manifests "$work/m" --host fd00::1
check_eq "kpx-fake-apiserver listens on IPv6" ready "$ready"
check "its kubeconfig names https://[fd00::1]:$port" \
  grep -q "server: https://\[fd00::1\]:$port" "$work/api/kubeconfig"

start_kpx() {
  ip netns exec "$ns" "$kpx" --mode=iptables --kubeconfig="$work/api/kubeconfig" \
    --hostname-override=kpx-node --cluster-cidr=10.99.0.0/16 --min-sync-period=100ms \
    --sync-period=2s --healthz-bind-address="$1" --metrics-bind-address="$2" \
    >>"$work/kpx.log" 2>&1 7>&- 8>&- &
  kpx_pid=$!
}
# One command to the fake API server; its one-line answer must start with "ok".
api() {
  local reply=
  echo "$*" >&7
  read -r -t 10 reply <&8
  [[ $reply == ok* ]]
}
stop_kpx() {
  kill -TERM "$kpx_pid" 2>/dev/null
  wait_until 10 exited "$kpx_pid" || kill -KILL "$kpx_pid"
  wait "$kpx_pid" 2>/dev/null
  kpx_pid=
}
get() { in_ns curl -s --max-time 2 -o /dev/null -w '%{http_code}' "$1"; }
synced() {
  local body
  body=$(in_ns curl -s --max-time 2 -w ' %{http_code}' "http://[::1]:10256/healthz") || return 1
  [[ $body == *' 200' && $body != *'"lastUpdated": "0001-'* ]]
}

start_kpx "[::]:10256" "[::1]:10249"
check "kpx syncs from the IPv6 API server" wait_until 30 synced
check "web's ClusterIP is programmed" \
  bash -c "ip netns exec $ns iptables-save | grep -q -- '-d 10.96.0.10/32 .* --dport 80'"
check_eq "/healthz on [::]:10256 over IPv6" 200 "$(get 'http://[::1]:10256/healthz')"
check_eq "/healthz on [::]:10256 over IPv4 too" 200 "$(get 'http://127.0.0.1:10256/healthz')"
check_eq "/metrics on [::1]:10249" 200 "$(get 'http://[::1]:10249/metrics')"
check_eq "/metrics is not on 127.0.0.1" 000 "$(get 'http://127.0.0.1:10249/metrics')"
check "no address-resolution error in kpx's log" bash -c "! grep -q 'Error resolving' $work/kpx.log"
# Issue 17 item 6: a source out of touch with its API server for longer than two sync periods
# (here 4 s) makes /healthz unhealthy; /livez stays up (a restart would not help).
check "the fake API server goes away" api stop
unhealthy() { [[ $(get 'http://[::1]:10256/healthz') == 503 ]]; }
check "/healthz turns 503 while the API server is gone" wait_until 30 unhealthy
check_eq "/livez stays 200" 200 "$(get 'http://[::1]:10256/livez')"
check "the fake API server comes back" api start
check "/healthz is 200 again once kpx is back in touch" wait_until 30 synced
stop_kpx

# A healthz port held by another process: kpx says so at start, /metrics still serves, the
# failure is counted, and healthz binds once the port is free (kube-proxy retries every 5 s).
ip netns exec "$ns" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past the TIME_WAIT of earlier connections
s.bind(("::", 10256)); s.listen(1)
print("held", flush=True)
time.sleep(600)' >"$work/holder.out" &
holder_pid=$!
check "another process holds [::]:10256" wait_until 10 grep -q held "$work/holder.out"
: >"$work/kpx.log"
start_kpx "[::]:10256" "[::1]:10249"
check "the bind failure is an error naming the address" \
  wait_until 20 grep -q 'cannot serve HTTP on \[::\]:10256: Address already in use' "$work/kpx.log"
metrics_up() { [[ $(get 'http://[::1]:10249/metrics') == 200 ]]; }
check "/metrics serves although healthz could not bind" wait_until 20 metrics_up
check "the failure is counted" bash -c \
  "ip netns exec $ns curl -s 'http://[::1]:10249/metrics' | grep -Eq '^kpx_http_bind_failures_total\{server=\"healthz\"\} [1-9]'"
kill "$holder_pid"; wait "$holder_pid" 2>/dev/null; holder_pid=
check "healthz binds once the port is free" wait_until 20 synced
stop_kpx

# An address that does not exist in the namespace: the same, for metrics.
: >"$work/kpx.log"
start_kpx "[::1]:10256" "[fd00::99]:10249"
check "an unassignable metrics address is an error naming it" \
  wait_until 20 grep -q 'cannot serve HTTP on \[fd00::99\]:10249: Cannot assign requested address' "$work/kpx.log"
check "healthz serves regardless" wait_until 20 synced
stop_kpx

if ((CHECK_FAILED > 0)); then
  tail -n 30 "$work/kpx.log" | sed 's/^/kpx: /'
  tail -n 10 "$work/api.log" | sed 's/^/api: /'
fi
check_summary
