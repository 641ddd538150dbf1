#!/usr/bin/env bash
# The kubeadm swap: kubeadm's kube-proxy DaemonSet with only the image's binary replaced by kpx.
# kpx runs with exactly the DaemonSet's command line (--config=/var/lib/kube-proxy/config.conf
# --hostname-override=$(NODE_NAME), the variable expanded as the kubelet does) and exactly the
# files the DaemonSet mounts: the ConfigMap's config.conf and kubeconfig.conf at
# /var/lib/kube-proxy, the service account's token and CA at
# /var/run/secrets/kubernetes.io/serviceaccount, in a private mount namespace (tmpfs over /var/lib
# and /run, so the host sees nothing). The API server is kpx-fake-apiserver serving the example
# manifests; the check is real TCP from a client namespace through web's ClusterIP.
# Usage: kpx_kubeadm_swap_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/kpx_test.sh
source "$here/../lib/kpx_test.sh" "$1" kpxk$$ topology
data=$here/testdata
mkdir "$work/lib" "$work/sa"

# A ConfigMap data key's block ("  KEY: |-" and the lines indented below it), unindented.
configmap_key() {
  awk -v key="  $1: |-" '
    $0 == key {on = 1; next}
    on && /^  [^ ]/ {on = 0}
    on {sub(/^    /, ""); print}' "$data/kubeadm-kube-proxy-configmap.yaml"
}
# The container's command, one word per line.
daemonset_command() {
  awk '
    /^        command:/ {on = 1; next}
    on && /^        - / {sub(/^        - /, ""); print; next}
    on {exit}' "$data/kubeadm-kube-proxy-daemonset.yaml"
}

topo_up "$build/tests/tools/kpx-echo-server"
start_fake_api "$TOPO_NODE" --manifests "$work/m"
check_eq "kpx-fake-apiserver is ready" ready "$ready"
if [[ $ready != ready ]]; then
  tail -n 20 "$work/api.log"
  check_summary
  exit
fi

# The mounted files: the ConfigMap's two keys, with the control-plane endpoint kubeadm fills in
# pointing at the fake server, and the service account's token and CA.
configmap_key config.conf >"$work/lib/config.conf"
configmap_key kubeconfig.conf | sed "s|server: https://127.0.0.1:6443|server: https://127.0.0.1:$port|" \
  >"$work/lib/kubeconfig.conf"
sed -n 's/^ *token: //p' "$work/api/kubeconfig" | tr -d '\n' >"$work/sa/token"
cp "$work/api/ca.crt" "$work/sa/ca.crt"
check "config.conf came out of the ConfigMap" grep -q '^kind: KubeProxyConfiguration' "$work/lib/config.conf"
check "kubeconfig.conf uses tokenFile" grep -q 'tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token' "$work/lib/kubeconfig.conf"
check "the token is there" test -s "$work/sa/token"

mapfile -t command < <(daemonset_command)
check_eq "the DaemonSet's command" \
  "/usr/local/bin/kube-proxy --config=/var/lib/kube-proxy/config.conf --hostname-override=\$(NODE_NAME)" \
  "${command[*]}"
command[0]=$kpx                            # the image's binary
for i in "${!command[@]}"; do              # the kubelet expands $(NODE_NAME)
  command[i]=${command[i]//\$(NODE_NAME)/kpx-node}
done

# Not through in_node: a backgrounded shell function is a subshell, and $! would be its pid,
# not kpx's (the exit handler's KILL then left kpx running). ip netns exec, unshare (without
# --fork) and bash's exec all keep one pid: kpx's.
ip netns exec "$TOPO_NODE" unshare -m --propagation private bash -c '
  set -e
  mount -t tmpfs kpx-lib /var/lib && mkdir /var/lib/kube-proxy
  cp "$1"/lib/config.conf "$1"/lib/kubeconfig.conf /var/lib/kube-proxy/
  mount -t tmpfs kpx-run /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount
  cp "$1"/sa/token "$1"/sa/ca.crt /run/secrets/kubernetes.io/serviceaccount/
  shift
  exec "$@"' _ "$work" "${command[@]}" >"$work/kpx.log" 2>&1 7>&- 8>&- &
kpx_pid=$!

synced() {
  local body
  body=$(in_client curl -s --max-time 2 -w ' %{http_code}' http://10.99.0.2:10256/healthz) || return 1
  [[ $body == *' 200' && $body != *'"lastUpdated": "0001-'* ]]
}
check "kpx syncs from the API server with kubeadm's files" wait_until 30 synced
check_eq "a client reaches web's ClusterIP through kpx's rules" 0 \
  "$(in_client "$probe" tcp 10.96.0.10 80 --count 5 --timeout-ms 2000 >/dev/null; echo $?)"
check "/metrics answers on kube-proxy's default 127.0.0.1:10249" \
  in_node curl -sf --max-time 2 -o /dev/null http://127.0.0.1:10249/metrics
check "kube-proxy's nfacct metric is exported" bash -c \
  "ip netns exec $TOPO_NODE curl -s --max-time 2 http://127.0.0.1:10249/metrics | grep -q '^kubeproxy_iptables_ct_state_invalid_dropped_packets_total '"
check "kube-proxy's nfacct INVALID drop rule is installed" bash -c \
  "ip netns exec $TOPO_NODE iptables-save -t filter | grep -qE -- '--nfacct-name +ct_state_invalid_dropped_pkts -j DROP'"
# kube-proxy's default -999 where the kernel lets root lower it (some sandboxes refuse any
# negative value: then kpx, like kube-proxy, logs the failure and runs on).
if sh -c 'echo -999 >/proc/self/oom_score_adj' 2>/dev/null; then
  check_eq "oom_score_adj is kube-proxy's default" -999 "$(cat "/proc/$kpx_pid/oom_score_adj" 2>/dev/null)"
else
  check "oom_score_adj -999 refused here: logged, kpx runs on" \
    grep -q 'cannot apply oom_score_adj -999' "$work/kpx.log"
fi
check "kubeadm's config.conf loads without an unknown field" \
  bash -c "! grep -q 'unknown field' '$work/kpx.log'"
check "the host saw no mount" bash -c "! grep -q kpx-lib /proc/self/mountinfo"
if ((CHECK_FAILED > 0)); then
  tail -n 30 "$work/kpx.log" | sed 's/^/kpx: /'
fi
check_summary
