#!/bin/sh
# Runs inside the test VM (see vm_smoke_test.sh): proves that the VM kernel and tools can carry
# what kpx's IPVS mode needs. Topology (all inside the VM):
#
#   netns client 10.0.0.2 --veth-- 10.0.0.1 [root ns] 10.0.1.1 --veth-- 10.0.1.2 netns backend
#                                   kube-ipvs0 (dummy): 10.96.0.10, 10.96.0.11        httpd :8080
#
#   10.96.0.10:80  IPVS virtual service (rr, masquerading) -> 10.0.1.2:8080
#   10.96.0.11:80  iptables-legacy DNAT (applied with iptables-restore --noflush) -> 10.0.1.2:8080
#   clients in ipset KPX-SMOKE-CLIENTS are masqueraded on the way out.
# Exits non-zero at the first failed check.
set -eu

step() { echo "smoke: [$(cut -d" " -f1 /proc/uptime)s] $*"; }
fail() {
  echo "smoke: FAIL: $*"
  exit 1
}

step "kernel modules"
[ -e /proc/net/ip_vs ] || fail "/proc/net/ip_vs missing: ip_vs not loaded"
for m in ip_vs ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_sh ip_vs_mh nf_conntrack nf_nat \
  nf_conntrack_netlink ip_tables iptable_nat iptable_filter xt_MASQUERADE xt_nat xt_set \
  xt_comment xt_mark xt_addrtype xt_conntrack xt_multiport xt_statistic ip_set \
  ip_set_hash_ipport ip_set_hash_ip dummy veth; do
  grep -q "^$m " /proc/modules || fail "module $m not loaded"
done
sysctl -w net.ipv4.vs.conntrack=1 >/dev/null || fail "net.ipv4.vs.conntrack not writable"
sysctl -w net.ipv4.ip_forward=1 >/dev/null

step "topology"
ip link add kube-ipvs0 type dummy
ip addr add 10.96.0.10/32 dev kube-ipvs0
ip addr add 10.96.0.11/32 dev kube-ipvs0
for ns in client backend; do ip netns add "$ns"; done
ip link add h0 type veth peer name c0
ip link set c0 netns client
ip addr add 10.0.0.1/24 dev h0
ip link set h0 up
ip netns exec client ip addr add 10.0.0.2/24 dev c0
ip netns exec client ip link set c0 up
ip netns exec client ip link set lo up
ip netns exec client ip route add default via 10.0.0.1
ip link add hb0 type veth peer name b0
ip link set b0 netns backend
ip addr add 10.0.1.1/24 dev hb0
ip link set hb0 up
ip netns exec backend ip addr add 10.0.1.2/24 dev b0
ip netns exec backend ip link set b0 up
ip netns exec backend ip link set lo up
ip netns exec backend ip route add default via 10.0.1.1

# http_get NETNS ADDR PORT: prints the last line of an HTTP answer (the body here). bash's
# /dev/tcp instead of busybox wget, which crashes on "connection refused" in Debian's
# busybox-static.
http_get() {
  # shellcheck disable=SC2016  # expanded by the inner bash
  ip netns exec "$1" timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET / HTTP/1.0\r\nHost: kpx\r\n\r\n" >&3
    cat <&3' "$2" "$3" 2>&1 | tr -d '\r' | tail -n 1 || true
}
fetch() { http_get client "$1" 80; } # fetch VIP: the answer seen from the client namespace

step "backend"
mkdir -p /tmp/www
echo kpx-backend-ok >/tmp/www/index.html
ip netns exec backend busybox httpd -p 10.0.1.2:8080 -h /tmp/www
ok=""
for _ in 1 2 3 4 5 6 7 8 9 10; do
  if [ "$(http_get backend 10.0.1.2 8080)" = kpx-backend-ok ]; then
    ok=1
    break
  fi
  sleep 0.3
done
if [ -z "$ok" ]; then
  ip netns exec backend netstat -ltn
  fail "backend httpd does not answer: $(http_get backend 10.0.1.2 8080)"
fi

step "ipset + iptables-legacy rules"
ipset create KPX-SMOKE-CLIENTS hash:ip
ipset add KPX-SMOKE-CLIENTS 10.0.0.2
ipset create KPX-SMOKE-PORTS hash:ip,port
ipset add KPX-SMOKE-PORTS 10.96.0.11,tcp:80
iptables-restore --noflush <<'EOF'
*nat
:KPX-SMOKE - [0:0]
-A PREROUTING -m comment --comment "kpx smoke" -j KPX-SMOKE
-A KPX-SMOKE -d 10.96.0.11/32 -p tcp -m tcp --dport 80 -m set --match-set KPX-SMOKE-PORTS dst,dst -j DNAT --to-destination 10.0.1.2:8080
-A POSTROUTING -m set --match-set KPX-SMOKE-CLIENTS src -j MARK --set-xmark 0x4000/0x4000
-A POSTROUTING -m mark --mark 0x4000/0x4000 -j MASQUERADE
COMMIT
*filter
:KPX-SMOKE-FWD - [0:0]
-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -m addrtype ! --dst-type LOCAL -m multiport -p tcp --dports 8080,8081 -j KPX-SMOKE-FWD
-A KPX-SMOKE-FWD -j ACCEPT
COMMIT
EOF
iptables-save -t nat | grep -q 'DNAT --to-destination 10.0.1.2:8080' || fail "DNAT rule not in iptables-save"

step "IPVS virtual service"
ipvsadm -A -t 10.96.0.10:80 -s rr
ipvsadm -a -t 10.96.0.10:80 -r 10.0.1.2:8080 -m
ipvsadm -Ln

step "traffic through IPVS (10.96.0.10)"
out=$(fetch 10.96.0.10)
[ "$out" = kpx-backend-ok ] || fail "via IPVS got '$out'"
ipvsadm -Ln --stats | grep -A1 '10.96.0.10:80' | tail -n 1 | grep -q '10.0.1.2:8080' ||
  fail "IPVS destination missing from the dump"
# The connection table is immediate (the --stats counters lag up to 2 s behind the estimator).
ipvsadm -Lnc | grep -q '10.96.0.10:80 *10.0.1.2:8080' || fail "no IPVS connection entry"

step "traffic through the iptables DNAT rule (10.96.0.11)"
out=$(fetch 10.96.0.11)
[ "$out" = kpx-backend-ok ] || fail "via DNAT got '$out'"
pkts=$(iptables -t nat -L KPX-SMOKE -n -v -x | awk '/DNAT/ { print $1 }')
[ "${pkts:-0}" -ge 1 ] || fail "DNAT rule counted no packet (${pkts:-none})"
conntrack -L -d 10.96.0.11 2>/dev/null | grep -q 'dport=80' || fail "no conntrack entry for the DNAT flow"
masq=$(iptables -t nat -L POSTROUTING -n -v -x | awk '/MASQUERADE/ { print $1 }')
[ "${masq:-0}" -ge 1 ] || fail "MASQUERADE rule counted no packet"

step "negative control: an address with no service does not answer"
out=$(fetch 10.96.0.12)
[ "$out" != kpx-backend-ok ] || fail "10.96.0.12 answered although nothing serves it"

step "PASS"
