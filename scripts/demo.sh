#!/usr/bin/env bash
# kpx's main job on its embedded default, with real traffic: builds kpx, makes a private network
# (a node namespace, a client namespace, one namespace per pod), runs kpx --mode=iptables on the
# manifests in examples/manifests, sends requests through the Services it programs, changes a
# manifest while kpx runs, and tears everything down. Run as root on Debian bookworm.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
scripts/install-deps.sh run
# Only what the demo runs: kpx and the two traffic tools (the test suite is test.sh's job).
BUILD_TARGETS=${BUILD_TARGETS:-kpx kpx-echo-server kpx-probe} scripts/build.sh >/dev/null
build=$root/${BUILD_DIR:-build}
kpx=$build/cmd/kpx
probe=$build/tests/tools/kpx-probe

# shellcheck source=scripts/lib/demo-topology.sh
source scripts/lib/demo-topology.sh
manifests=$(mktemp -d)
kpx_pid=
cleanup() {
  if [[ -n $kpx_pid ]]; then kill -TERM "$kpx_pid" 2>/dev/null || true; wait "$kpx_pid" 2>/dev/null || true; fi
  if grep -qw "$TOPO_NODE" < <(ip netns list); then
    ip netns exec "$TOPO_NODE" "$kpx" --cleanup >/dev/null 2>&1 || true
  fi
  topo_down
  rm -rf "$manifests"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run_in() { local ns=$1; shift; printf '$ %s\n' "$*"; ip netns exec "$ns" "$@" || true; }

cp examples/manifests/* "$manifests/"
step "network namespaces: node, client and six pods running kpx-echo-server"
topo_up "$build/tests/tools/kpx-echo-server"
ip netns list | grep "$TOPO_PREFIX" | sed 's/^/  /'

step "kpx --mode=iptables --source=$manifests (inside the node namespace)"
ip netns exec "$TOPO_NODE" "$kpx" --mode=iptables --source="$manifests" \
  --hostname-override=kpx-node --cluster-cidr=10.99.0.0/16 --min-sync-period=100ms \
  --healthz-bind-address=10.99.0.2:10256 --metrics-bind-address=127.0.0.1:10249 \
  >"$manifests.log" 2>&1 &
kpx_pid=$!
for _ in $(seq 50); do
  grep -q 'KUBE-SVC' < <(ip netns exec "$TOPO_NODE" iptables-save -t nat 2>/dev/null) && break
  sleep 0.1
done
ip netns exec "$TOPO_NODE" iptables-save -t nat | grep -E '^-A KUBE-SERVICES' | sed 's/^/  /'

step "ClusterIP demo/web (10.96.0.10:80) from the client: three backends share the load"
run_in "$TOPO_CLIENT" "$probe" tcp 10.96.0.10 80 --count 6
step "the same from the node itself (OUTPUT path)"
run_in "$TOPO_NODE" "$probe" tcp 10.96.0.10 80 --count 3
step "NodePort demo/api 10.99.0.2:30080, externalTrafficPolicy Local: only the local pod, client IP kept"
run_in "$TOPO_CLIENT" "$probe" tcp 10.99.0.2 30080 --count 3
step "UDP demo/dns (10.96.0.53:53)"
run_in "$TOPO_CLIENT" "$probe" udp 10.96.0.53 53

step "remove web's endpoints from the manifest while kpx runs: connections are refused at once"
drop_web_endpoints() {
  # Drop every endpoint of the web slice (write-and-rename, as editors do).
  awk '/^kind: EndpointSlice/{slice=1} slice && /^endpoints:/{print "endpoints: []"; skip=1; next}
       skip && /^[a-z]/{skip=0} !skip{print}' "$manifests/web.yaml" >"$manifests/.web.tmp"
  mv "$manifests/.web.tmp" "$manifests/web.yaml"
}
drop_web_endpoints
sleep 1
run_in "$TOPO_CLIENT" "$probe" tcp 10.96.0.10 80 --timeout-ms 1000
step "health and metrics"
run_in "$TOPO_CLIENT" curl -s --max-time 2 http://10.99.0.2:10256/healthz
echo
ip netns exec "$TOPO_NODE" curl -s --max-time 2 http://127.0.0.1:10249/metrics |
  grep -E '^kubeproxy_sync_proxy_rules_(duration_seconds_count|last_timestamp_seconds|iptables_total)' | sed 's/^/  /' || true
printf '  kpx log: %s\n' "$(grep -c . "$manifests.log") lines"; tail -n 3 "$manifests.log" | sed 's/^/  /'

step "SIGTERM leaves the rules in place; kpx --cleanup removes them"
kill -TERM "$kpx_pid"; wait "$kpx_pid" || true; kpx_pid=
printf '  KUBE- chains after SIGTERM: %s\n' "$(ip netns exec "$TOPO_NODE" iptables-save -t nat | grep -c '^:KUBE-')"
ip netns exec "$TOPO_NODE" "$kpx" --cleanup 2>/dev/null
printf '  KUBE- chains after --cleanup: %s\n' "$(ip netns exec "$TOPO_NODE" iptables-save -t nat | grep -c '^:KUBE-' || true)"
rm -f "$manifests.log"
step "done: namespaces removed"
