#!/usr/bin/env bash
# Issue 17 items 1 and 2 against the kpx binary, in a private network namespace. kpx starts with
# the soft open-file limit containerd 2.x gives (1024) and must raise it. One client then holds
# 1 100 idle connections to /healthz, another sends a 1 GiB request body and a third a 64 MiB
# header; meanwhile /healthz keeps answering a prober at another address, kpx's memory stays
# flat, and the refusals are counted in /metrics.
# Usage: kpx_http_limits_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/kpx_test.sh
source "$here/../lib/kpx_test.sh" "$1" kpxh$$ netns
attack_pids=()
test_cleanup() {
  local p
  for p in "${attack_pids[@]}"; do stop_pid TERM "$p"; done
}

# containerd 2.x's soft limit under whatever hard limit this machine allows (raising a hard limit
# needs CAP_SYS_RESOURCE).
hard=$(ulimit -Hn)
ip netns exec "$ns" prlimit --nofile="1024:$hard" "$kpx" --mode=iptables --source="$work/m" \
  --hostname-override=kpx-node --cluster-cidr=10.99.0.0/16 --min-sync-period=100ms \
  --healthz-bind-address=0.0.0.0:10256 --metrics-bind-address=127.0.0.1:10249 \
  >>"$work/kpx.log" 2>&1 &
kpx_pid=$!
# The prober uses its own source address: per-client limits must not count it with the attacker.
probe() {
  in_ns curl -s --max-time 5 --interface 127.0.0.2 -o /dev/null -w '%{http_code}' \
    http://127.0.0.1:10256/healthz
}
healthy() { [[ $(probe) == 200 ]]; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$kpx_pid/status"; }
check "kpx serves /healthz" wait_until 30 healthy
check_eq "the soft open-file limit was raised to the hard limit" "$hard" \
  "$(awk '/^Max open files/ {print $4}' "/proc/$kpx_pid/limits")"
rss_before=$(rss_kib)

# 1 100 idle connections from 127.0.0.1, held open.
ip netns exec "$ns" python3 -c '
import socket, time
held = []
for _ in range(1100):
    try:
        s = socket.create_connection(("127.0.0.1", 10256), timeout=2)
        held.append(s)
    except OSError:
        pass
print("holding", len(held), flush=True)
time.sleep(600)' >"$work/idle.out" 2>&1 &
attack_pids+=($!)
check "the attacker opened its connections" wait_until 60 grep -q holding "$work/idle.out"
check_eq "/healthz answers another client during the idle flood" 200 "$(probe)"

# A 1 GiB body and a 64 MiB header, from 127.0.0.3.
ip netns exec "$ns" python3 -c '
import socket
def flood(head, total):
    s = socket.create_connection(("127.0.0.1", 10256), timeout=10,
                                 source_address=("127.0.0.3", 0))
    s.sendall(head)
    chunk = b"a" * (1 << 20)
    sent = 0
    try:
        while sent < total:
            s.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    print("sent", sent >> 20, "MiB before kpx closed", flush=True)
flood(b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n", 1 << 30)
flood(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ", 64 << 20)' >"$work/big.out" 2>&1 &
attack_pids+=($!)
wait "${attack_pids[1]}" 2>/dev/null
check_eq "/healthz answers after the body and header floods" 200 "$(probe)"
rss_after=$(rss_kib)
grew=$((rss_after - rss_before))
echo "kpx RSS ${rss_before} KiB -> ${rss_after} KiB; attacker: $(tr '\n' ' ' <"$work/big.out")"
check "kpx's memory stayed flat (grew ${grew} KiB, less than 64 MiB)" \
  test -n "$rss_before" -a -n "$rss_after" -a "$grew" -lt 65536
metrics=$(in_ns curl -s --max-time 5 http://127.0.0.1:10249/metrics)
refused() { awk -v m="$1{server=\"healthz\"}" '$1 == m {print $2}' <<<"$metrics"; }
check "the floods reached kpx" grep -q "sent" "$work/big.out"
check "over-limit connections are counted" test "$(refused kpx_http_connections_refused_total)" -gt 0 2>/dev/null
check "the oversized header is counted" test "$(refused kpx_http_requests_refused_total)" -gt 0 2>/dev/null
check "kpx is still running" kill -0 "$kpx_pid"

if ((CHECK_FAILED > 0)); then tail -n 30 "$work/kpx.log" | sed 's/^/kpx: /'; fi
check_summary
