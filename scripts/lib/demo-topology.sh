# shellcheck shell=bash
# Builds the demo's network: one "node" namespace where kpx runs, a client namespace, and one
# namespace per pod of examples/manifests, each running kpx-echo-server. Everything is named with
# $TOPO_PREFIX so that several runs can coexist; topo_down removes exactly what topo_up made.
#
#   client 10.98.0.1 --veth-- node 10.98.0.2 + 10.99.0.2 (the Node's InternalIP), default route
#                                 via the client, as a real node has one upstream
#                                            --veth-- pod 10.99.1.11 (web, local)
#                                            --veth-- pod 10.99.1.12 (web, local)
#                                            --veth-- pod 10.99.2.11 (web, "kpx-peer")
#                                            --veth-- pod 10.99.1.21 (api, local)
#                                            --veth-- pod 10.99.2.21 (api, "kpx-peer")
#                                            --veth-- pod 10.99.1.53 (dns, udp+tcp 5353)
#
# The peer node's pods hang off the same namespace: routing does not care which node the
# manifests say they run on, and kpx's local/remote decisions come from the manifests alone.

TOPO_PREFIX=${TOPO_PREFIX:-kpxd$$}
TOPO_NODE="${TOPO_PREFIX}-node"
TOPO_CLIENT="${TOPO_PREFIX}-client"
TOPO_PODS=("web1:10.99.1.11:8080" "web2:10.99.1.12:8080" "web3:10.99.2.11:8080"
           "api1:10.99.1.21:8080" "api2:10.99.2.21:8080" "dns1:10.99.1.53:5353")
TOPO_PIDS=()

topo_ns() { printf '%s-%s' "$TOPO_PREFIX" "$1"; }

# topo_up ECHO_SERVER_BINARY
topo_up() {
  local echo_server=$1 i=0 entry name ip port ns
  ip netns add "$TOPO_NODE"
  ip netns add "$TOPO_CLIENT"
  ip -n "$TOPO_NODE" link set lo up
  ip -n "$TOPO_CLIENT" link set lo up
  ip netns exec "$TOPO_NODE" sysctl -qw net.ipv4.ip_forward=1
  # The node's upstream is the client's link, so forwarded packets leave where they came in; an
  # ICMP redirect there would also eat the per-host ICMP budget that REJECT replies need.
  ip netns exec "$TOPO_NODE" sysctl -qw net.ipv4.conf.all.send_redirects=0
  ip netns exec "$TOPO_NODE" sysctl -qw net.ipv4.conf.default.send_redirects=0
  ip link add "${TOPO_PREFIX}c0" netns "$TOPO_CLIENT" type veth peer name "${TOPO_PREFIX}n0" netns "$TOPO_NODE"
  # The client sits outside the cluster CIDR (10.99.0.0/16): its traffic is "external".
  ip -n "$TOPO_CLIENT" addr add 10.98.0.1/24 dev "${TOPO_PREFIX}c0"
  ip -n "$TOPO_CLIENT" link set "${TOPO_PREFIX}c0" up
  ip -n "$TOPO_CLIENT" route add default via 10.98.0.2
  # A second client address outside every loadBalancerSourceRanges of the manifests.
  ip -n "$TOPO_CLIENT" addr add 10.97.0.1/32 dev "${TOPO_PREFIX}c0"
  ip -n "$TOPO_NODE" addr add 10.98.0.2/24 dev "${TOPO_PREFIX}n0"
  ip -n "$TOPO_NODE" addr add 10.99.0.2/32 dev "${TOPO_PREFIX}n0"
  ip -n "$TOPO_NODE" link set "${TOPO_PREFIX}n0" up
  ip -n "$TOPO_NODE" route add default via 10.98.0.1
  ip -n "$TOPO_NODE" route add 10.97.0.1/32 via 10.98.0.1
  for entry in "${TOPO_PODS[@]}"; do
    IFS=: read -r name ip port <<<"$entry"
    i=$((i + 1))
    ns=$(topo_ns "$name")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "${TOPO_PREFIX}p$i" netns "$ns" type veth peer name "${TOPO_PREFIX}h$i" netns "$TOPO_NODE"
    ip -n "$ns" link set "${TOPO_PREFIX}p$i" name eth0
    ip -n "$ns" addr add "$ip/32" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add 10.99.0.2 dev eth0
    ip -n "$ns" route add default via 10.99.0.2 dev eth0
    ip -n "$TOPO_NODE" link set "${TOPO_PREFIX}h$i" up
    ip -n "$TOPO_NODE" route add "$ip/32" dev "${TOPO_PREFIX}h$i"
    local args=(--tcp "$port")
    [[ $name == dns* ]] && args+=(--udp "$port")
    ip netns exec "$ns" "$echo_server" "$name" "${args[@]}" >/dev/null 2>&1 &
    TOPO_PIDS+=($!)
  done
}

topo_down() {
  local pid entry name
  for pid in "${TOPO_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${TOPO_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  TOPO_PIDS=()
  for entry in "${TOPO_PODS[@]}"; do
    IFS=: read -r name _ <<<"$entry"
    ip netns del "$(topo_ns "$name")" 2>/dev/null || true
  done
  ip netns del "$TOPO_CLIENT" 2>/dev/null || true
  ip netns del "$TOPO_NODE" 2>/dev/null || true
}
