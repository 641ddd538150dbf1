#!/usr/bin/env bash
# The kpx binary end to end, in private network namespaces (the demo topology): health, livez and
# metrics over HTTP; the instance lock; SIGTERM leaves rules serving; a restart re-adopts them
# with no failed client connection; --cleanup restores the tables exactly as they were.
# Usage: kpx_lifecycle_test.sh BUILD_DIR [iptables-backend] [mode]
# (mode ipvs runs inside the qemu VM, whose kernel has IPVS: see tests/cmd/CMakeLists.txt)
set -uo pipefail
backend=${2:-auto}
mode=${3:-iptables}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/kpx_test.sh
source "$here/../lib/kpx_test.sh" "$1" kpxl$$ topology
# SIGTERM leaves the rules serving; the test checks that, and ends kpx the same way.
kpx_stop_signal=TERM
# Rules and user chains as the kernel holds them, without counters: what "left as it was"
# compares. (Built-in chains appear once a table is first used, which kpx cannot undo.)
tables() {
  # The userspace mode's listeners get new ports from the kernel when kpx restarts.
  in_node iptables-save 2>/dev/null |
    awk '/^\*/ {t = $0} /^-A|^:[^ ]+ - / {sub(/ \[[0-9]*:[0-9]*\]/, ""); print t " " $0}' |
    if [[ $mode == userspace ]]; then sed 's/--to-ports [0-9]*/--to-ports PORT/'; else cat; fi
  if [[ $mode == ipvs ]]; then in_node ipvsadm -Sn; fi
}
start_kpx() {
  # Not through in_node: $! must be kpx itself (ip netns exec execs it), not a subshell.
  ip netns exec "$TOPO_NODE" "$kpx" --mode="$mode" --iptables-backend="$backend" --source="$work/m" \
    --hostname-override=kpx-node --cluster-cidr=10.99.0.0/16 --min-sync-period=100ms \
    --sync-period=3s --ipvs-sync-period=3s --healthz-bind-address=10.99.0.2:10256 --metrics-bind-address=127.0.0.1:10249 \
    >>"$work/kpx.log" 2>&1 &
  kpx_pid=$!
}
healthz_code() { in_client curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://10.99.0.2:10256/$1"; }
# Healthy and done with a first sync (lastUpdated is Go's zero time until then).
healthy() {
  local body
  body=$(in_client curl -s --max-time 2 -w ' %{http_code}' http://10.99.0.2:10256/healthz) || return 1
  [[ $body == *' 200' && $body != *'"lastUpdated": "0001-'* ]]
}

bad=$("$kpx" --mode=bogus 2>&1; echo "exit=$?")
check "an unknown mode is a clear error" grep -q 'mode: unknown proxy mode "bogus"' <<<"$bad"
check "an unknown mode exits 2" grep -q "exit=2" <<<"$bad"
# Unknown fields are dropped with a warning, as kube-proxy's lenient decoding does (unit-tested);
# a wrong type for a field kube-proxy defines stops the start.
printf 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nipvs: {scheduler: [rr]}\n' >"$work/bad.conf"
bad=$("$kpx" --config="$work/bad.conf" 2>&1; echo "exit=$?")
check "a config field of the wrong type is named, exit 2" grep -qz 'ipvs.scheduler: expected a scalar value.*exit=2' <<<"$bad"

topo_up "$build/tests/tools/kpx-echo-server"
# Someone else's rules, which kpx must neither touch nor remove.
in_node iptables-restore --noflush <<'RULES'
*filter
:SITE-POLICY - [0:0]
-A INPUT -p tcp --dport 22 -j ACCEPT
-A SITE-POLICY -s 192.0.2.0/24 -j DROP
COMMIT
*nat
:SITE-NAT - [0:0]
-A POSTROUTING -o lo -j RETURN
COMMIT
RULES
before=$(tables)

start_kpx
check "kpx becomes healthy and programs rules" wait_until 20 healthy
check_eq "/livez answers 200" 200 "$(healthz_code livez)"
body=$(in_client curl -s --max-time 2 http://10.99.0.2:10256/healthz)
check "/healthz body has kube-proxy's fields" grep -qE '^\{"lastUpdated": "20[^"]*","currentTime": "20[^"]*"' <<<"$body"
# kpx starts itself again with glibc's huge-page heap (cmd/huge_page_heap.h): in place, so the
# PID the namespace started is still kpx. (What glibc does with the tunable shows once the heap
# grows by megabytes, which this small cluster does not: bench/memory measures that.)
check "kpx re-executed itself with glibc.malloc.hugetlb=1" \
  grep -qzE '^GLIBC_TUNABLES=(.*:)?glibc.malloc.hugetlb=1(:.*)?$' "/proc/$kpx_pid/environ"

metrics=$(in_node curl -s --max-time 2 http://127.0.0.1:10249/metrics)
for m in "kubeproxy_sync_proxy_rules_duration_seconds histogram" \
         "kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge" \
         "kubeproxy_network_programming_duration_seconds histogram" \
         "kubeproxy_sync_proxy_rules_service_changes_total counter" \
         "kubeproxy_sync_proxy_rules_endpoint_changes_total counter" \
         "kubeproxy_proxy_healthz_total counter" \
         "kpx_objects_rejected_total counter"; do
  check "metric ${m% *} has TYPE ${m#* }" grep -qx "# TYPE $m" <<<"$metrics"
done
syncs=$(awk '$1 == "kubeproxy_sync_proxy_rules_duration_seconds_count" {print $2}' <<<"$metrics")
check "at least one sync was measured" test "${syncs:-0}" -ge 1
if [[ $mode == iptables ]]; then
  for m in "kubeproxy_sync_proxy_rules_iptables_total gauge" \
           "kubeproxy_sync_proxy_rules_iptables_restore_failures_total counter"; do
    check "metric ${m% *} has TYPE ${m#* }" grep -qx "# TYPE $m" <<<"$metrics"
  done
  nat_rules=$(awk '$1 == "kubeproxy_sync_proxy_rules_iptables_total{table=\"nat\"}" {print $2}' <<<"$metrics")
  check "the nat rule count is reported" test "${nat_rules:-0}" -gt 10
elif [[ $mode == ipvs ]]; then
  check "IPVS virtual servers exist for the ClusterIPs" bash -c "ip netns exec $TOPO_NODE ipvsadm -Ln | grep -q '10.96.0.10:80'"
else
  check "portal rules redirect the ClusterIPs" bash -c "ip netns exec $TOPO_NODE iptables-save -t nat | grep -q 'KPX-PORTALS-CONTAINER .*-d 10.96.0.10/32 .*REDIRECT'"
fi
check "every sample line parses as name{labels} value" \
  awk '!/^#/ && !/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfNa]+$/ {bad=1} END {exit bad}' <<<"$metrics"
check_eq "metrics are not served on the node address" 000 \
  "$(in_client curl -s -o /dev/null -w '%{http_code}' --max-time 1 http://10.99.0.2:10249/metrics)"

check_eq "ClusterIP answers" 0 "$(in_client "$probe" tcp 10.96.0.10 80 --count 5 >/dev/null; echo $?)"
# The userspace proxy opens its own connection to the backend, which then sees the node's
# address; the kernel modes keep the client's for externalTrafficPolicy Local.
if [[ $mode == userspace ]]; then local_reply='api1 [0-9.]*:[0-9]*'; else local_reply='api1 10.98.0.1:[0-9]*'; fi
check "NodePort with externalTrafficPolicy Local answers from the local pod only" \
  bash -c "ip netns exec $TOPO_CLIENT $probe tcp 10.99.0.2 30080 --count 3 | grep -qvx '$local_reply' && exit 1 || exit 0"
check "LoadBalancer IP answers from the allowed source range, local pod only" \
  bash -c "ip netns exec $TOPO_CLIENT $probe tcp 10.99.0.100 443 --count 3 | grep -qvx '$local_reply' && exit 1 || exit 0"
check "LoadBalancer IP drops clients outside loadBalancerSourceRanges" \
  bash -c "ip netns exec $TOPO_CLIENT $probe tcp 10.99.0.100 443 --source 10.97.0.1 --timeout-ms 700 | grep -qx 'ERROR timeout'"
check "the same client reaches the NodePort, which has no source ranges" \
  bash -c "ip netns exec $TOPO_CLIENT $probe tcp 10.99.0.2 30443 --source 10.97.0.1 | grep -q '^api1 '"
hc=$(in_client curl -s -D - --max-time 2 http://10.99.0.2:32100/anything)
check "health-check node port reports one local endpoint" grep -q '"localEndpoints": 1, "serviceProxyHealthy": true' <<<"$hc"
check "health-check node port answers 200" grep -q '^HTTP/1.1 200' <<<"$hc"
check "health-check node port sets the endpoint weight header" grep -qi '^X-Load-Balancing-Endpoint-Weight: 1' <<<"$hc"
check_eq "UDP service answers" 0 "$(in_client "$probe" udp 10.96.0.53 53 >/dev/null; echo $?)"

if [[ $mode != userspace ]]; then
  # kpx does not set route_localnet unless asked, so NodePorts are not reachable on 127.0.0.1
  # (a localhost-bound service must not become reachable from the network).
  check "NodePorts are not served on 127.0.0.1 by default" \
    bash -c "! ip netns exec $TOPO_NODE $probe tcp 127.0.0.1 30080 --timeout-ms 700 >/dev/null"
  check_eq "route_localnet stays off" 0 "$(in_node cat /proc/sys/net/ipv4/conf/all/route_localnet)"
fi
if [[ $mode == ipvs ]]; then
  # Someone removes a virtual server and a service address: the next periodic sync (3 s) repairs.
  ipvs_good=$(in_node ipvsadm -Sn)
  in_node ipvsadm -D -t 10.96.0.10:80
  in_node ip addr del 10.96.0.10/32 dev kube-ipvs0
  ipvs_is() { [[ "$(in_node ipvsadm -Sn)" == "$1" ]] && in_node ip addr show kube-ipvs0 | grep -q 10.96.0.10/32; }
  check "a deleted virtual server and dummy address are repaired within a sync period" \
    wait_until 10 ipvs_is "$ipvs_good"
  check_eq "the repaired ClusterIP answers" 0 "$(in_client "$probe" tcp 10.96.0.10 80 --count 3 >/dev/null; echo $?)"
fi

# Bounded: a second kpx that is not refused would otherwise run until the suite's timeout.
# (The full path: the VM's busybox timeout would run its own "ip" applet.)
second=$(timeout 10 "$(command -v ip)" netns exec "$TOPO_NODE" "$kpx" --mode=iptables --source="$work/m" --healthz-bind-address= --metrics-bind-address= 2>&1; echo "exit=$?")
check "a second kpx in the same namespace refuses to start" grep -q "another kpx is already running" <<<"$second"
check "the second kpx exits non-zero" grep -q "exit=1" <<<"$second"

# A client loops through the ClusterIP while kpx stops and starts again.
in_client "$probe" tcp 10.96.0.10 80 --count 150 --interval-ms 20 --timeout-ms 2000 --summary >"$work/loop.out" 2>&1 &
loop=$!
sleep 0.5
rules_before_restart=$(tables)
kill -TERM "$kpx_pid"
wait "$kpx_pid"
check_eq "SIGTERM exits cleanly" 0 $?
kpx_pid=
check_eq "rules stay in place after SIGTERM" "$rules_before_restart" "$(tables)"
sleep 0.5
start_kpx
check "restarted kpx becomes healthy" wait_until 20 healthy
sleep 0.5
check_eq "restart re-adopts the rules unchanged" "$rules_before_restart" "$(tables)"
wait "$loop"
if [[ $mode == userspace ]]; then
  # Inherent to the userspace mode: while no kpx runs, nothing listens behind the portals.
  check "connections succeed again after the restart" grep -q '^ok=[1-9]' "$work/loop.out"
else
  check_eq "no client connection failed across the restart" "ok=150 failed=0" "$(tail -n1 "$work/loop.out")"
fi

kill -TERM "$kpx_pid"
wait "$kpx_pid"
kpx_pid=
in_node "$kpx" --cleanup >>"$work/kpx.log" 2>&1
check_eq "--cleanup exits 0" 0 $?
check_eq "--cleanup leaves the tables as they were" "$before" "$(tables)"

if ((CHECK_FAILED > 0)); then sed 's/^/kpx: /' "$work/kpx.log" | tail -n 40; fi
check_summary
