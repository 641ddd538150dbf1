#!/usr/bin/env bash
# API faults against the kpx binary, in private network namespaces: kpx watches
# kpx-fake-apiserver (HTTPS on 127.0.0.1 in the node namespace, driven through a FIFO) while a
# client loops through web's ClusterIP. One after another: the API server down for 10 s, every
# request answered 500, watches cut mid-event at random, 410 Gone in a loop, and a restart into a
# new resourceVersion epoch with compacted history; the cluster changes during each fault. After
# each: the rules were kept and served during the fault, kpx caught up by itself; at the end no
# client connection failed and the kernel state equals what a fresh kpx programs.
# Usage: kpx_api_faults_test.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/kpx_test.sh
source "$here/../lib/kpx_test.sh" "$1" kpxa$$ topology
loop_pid=
test_cleanup() { stop_pid TERM "$loop_pid"; }
now_ms() { date +%s%3N; }
tables() {
  in_node iptables-save 2>/dev/null |
    awk '/^\*/ {t = $0} /^-A|^:[^ ]+ - / {sub(/ \[[0-9]*:[0-9]*\]/, ""); print t " " $0}'
}

# The fake API server reads commands from one FIFO and answers each with one line on another.
# Both are opened read-write here, which never blocks, so a server that fails to start cannot
# hang the test; every reply is awaited with a timeout.
# A failed command counts as a failed check. The reply is left in $api_reply. Commands are
# answered at once; after one goes unanswered the server is taken for dead.
api_commands=0
api_reply=
api_dead=
api() {
  api_commands=$((api_commands + 1))
  api_reply="(no reply)"
  if [[ -z $api_dead ]]; then
    echo "$*" >&7
    read -r -t 10 api_reply <&8 || api_dead=1
  fi
  [[ $api_reply == ok* ]] && return 0
  CHECK_FAILED=$((CHECK_FAILED + 1))
  printf 'FAIL api %s: %s\n' "$*" "$api_reply"
  return 1
}
# Every wait draws on one budget, so that a kpx that never recovers cannot run the test into
# CTest's TIMEOUT (which would leave the namespaces behind).
deadline=$((SECONDS + 200))
budget() {
  local left=$((deadline - SECONDS))
  ((left < 1)) && left=1
  echo $((left < $1 ? left : $1))
}

# Object sets the faults move between. Web's slice with the endpoints matching KEEP (a regular
# expression), always keeping live backends; and an extra Service on web's pods.
web_slice() {
  awk -v keep="$1" '
    /^apiVersion: discovery/ {slice = 1}
    slice && /- addresses:/ {drop = ($0 !~ keep)}
    slice && /^ports:/ {drop = 0}
    slice && !drop {print}' "$root/examples/manifests/web.yaml" >"$work/$2"
}
web_slice '10[.]99[.]1[.]1[12]' web-a.yaml              # web1 web2
web_slice '10[.]99[.]1[.]12|10[.]99[.]2[.]11' web-b.yaml # web2 web3
web_slice '.' web-all.yaml                              # web1 web2 web3
cat >"$work/extra.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: extra, namespace: demo, labels: {app: extra}}
spec:
  type: ClusterIP
  clusterIP: 10.96.0.40
  clusterIPs: [10.96.0.40]
  ipFamilies: [IPv4]
  ports:
    - {name: http, protocol: TCP, port: 80, targetPort: 8080}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: extra-q8w3z
  namespace: demo
  labels:
    app: extra
    endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io
    kubernetes.io/service-name: extra
addressType: IPv4
endpoints:
  - addresses: ["10.99.1.11"]
    conditions: {ready: true, serving: true, terminating: false}
    nodeName: kpx-node
  - addresses: ["10.99.2.11"]
    conditions: {ready: true, serving: true, terminating: false}
    nodeName: kpx-peer
ports:
  - {name: http, protocol: TCP, port: 8080}
EOF
A=10.99.1.11:8080,10.99.1.12:8080
B=10.99.1.12:8080,10.99.2.11:8080
ALL=10.99.1.11:8080,10.99.1.12:8080,10.99.2.11:8080
EXTRA=10.99.1.11:8080,10.99.2.11:8080
add_extra() { api apply "$work/extra.yaml"; }
delete_extra() { api delete service demo extra && api delete endpointslice demo extra-q8w3z; }

# What the kernel says about web and extra: "web=<DNAT targets> extra=<DNAT targets>|none", and
# "extra=no-endpoints" while kpx still has rules for extra but no endpoints (its Service known,
# its slice gone): a kpx that has caught up on slices but not yet on Services is not caught up.
endpoints_of() {
  in_node iptables-save -t nat 2>/dev/null |
    sed -nE "s|^-A KUBE-SEP-[^ ]+ .*--comment \"?$1\"? .*-j DNAT .*--to-destination ([0-9.:]+).*|\1|p" |
    sort -u | paste -sd, -
}
state() {
  local extra
  extra=$(endpoints_of demo/extra:http)
  # Not "iptables-save | grep -q": under pipefail, grep leaving at its first match can fail the
  # pipeline with iptables-save's SIGPIPE, and a rule present read as absent (a false "none" let
  # a convergence check pass early).
  if [[ -z $extra ]] && grep -q 'demo/extra:http' < <(in_node iptables-save 2>/dev/null); then
    extra=no-endpoints
  fi
  printf 'web=%s extra=%s' "$(endpoints_of demo/web:http)" "${extra:-none}"
}
state_is() { [[ "$(state)" == "$1" ]]; }
# Waits for the state, reporting how long kpx took to catch up after the fault ended.
recovers_to() {
  local want=$1 start
  start=$(now_ms)
  if wait_until "$(budget 30)" state_is "$want"; then
    echo "  caught up in $(($(now_ms) - start)) ms"
    return 0
  fi
  echo "  want: $want"
  echo "  got:  $(state)"
  return 1
}
# During a fault: web's service chain is still there, the node answers /healthz, and a
# separate client connection through the ClusterIP succeeds.
web_chain_kept() {
  local nat
  nat=$(in_node iptables-save -t nat 2>/dev/null)
  grep -qE -- '-A KUBE-SERVICES .*demo/web:http cluster IP.* -j KUBE-SVC-' <<<"$nat"
}
# During a fault in which kpx cannot learn anything: the kernel state is exactly the last good
# one (BEFORE, from tables), and a new connection through web's ClusterIP works.
rules_kept() {
  local what=$1 before=$2
  check "$what: web's service chains are kept" web_chain_kept
  check_eq "$what: the rules are exactly the last good ones" "$before" "$(tables)"
  check_eq "$what: a new connection through web's ClusterIP works" 0 \
    "$(in_client "$probe" tcp 10.96.0.10 80 --count 3 --timeout-ms 2000 >/dev/null; echo $?)"
}
synced() {
  local body
  body=$(in_client curl -s --max-time 2 -w ' %{http_code}' http://10.99.0.2:10256/healthz) || return 1
  [[ $body == *' 200' && $body != *'"lastUpdated": "0001-'* ]]
}
start_kpx() {
  ip netns exec "$TOPO_NODE" "$kpx" --mode=iptables --kubeconfig="$work/api/kubeconfig" \
    --hostname-override=kpx-node --cluster-cidr=10.99.0.0/16 --min-sync-period=100ms \
    --healthz-bind-address=10.99.0.2:10256 --metrics-bind-address=127.0.0.1:10249 \
    >>"$work/kpx.log" 2>&1 7>&- 8>&- &
  kpx_pid=$!
}
# stop PID SIGNAL: signals a child and reaps it, with SIGKILL after 10 s as a backstop; returns
# its exit status.
exited() { [[ ! -e /proc/$1 ]] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
stop() {
  kill "-$2" "$1" 2>/dev/null
  wait_until 10 exited "$1" || { echo "$1 ignored SIG$2"; kill -KILL "$1"; }
  wait "$1"
}
metric() {
  in_node curl -s --max-time 2 http://127.0.0.1:10249/metrics |
    awk -v m="$1{source=\"api\"}" '$1 == m {print $2}'
}

topo_up "$build/tests/tools/kpx-echo-server"
start_fake_api "$TOPO_NODE" --manifests "$work/m"
# Nothing below makes sense without a server and a synced kpx.
give_up_on_failure() {
  ((CHECK_FAILED == 0)) && return
  [[ -e $work/kpx.log ]] && tail -n 20 "$work/kpx.log" | sed 's/^/kpx: /'
  tail -n 20 "$work/api.log" | sed 's/^/api: /'
  check_summary
  exit
}
check_eq "kpx-fake-apiserver is ready" ready "$ready"
echo "API server on 127.0.0.1:${port:-?} in $TOPO_NODE"
check "it wrote a kubeconfig" test -s "$work/api/kubeconfig"
give_up_on_failure
start_kpx
check "kpx syncs from the API server" wait_until 20 synced
check_eq "kpx programs web and not extra" "web=$ALL extra=none" "$(state)"
give_up_on_failure

# The client loops through web's ClusterIP for the whole test. Not through in_client: $! must be
# kpx-probe itself (ip netns exec execs it), which ends its loop on SIGINT.
ip netns exec "$TOPO_CLIENT" "$probe" tcp 10.96.0.10 80 --count 100000 --interval-ms 20 \
  --timeout-ms 3000 --summary >"$work/loop.out" 2>"$work/loop.err" 7>&- 8>&- &
loop_pid=$!
faults=0
RANDOM=$$
echo "random seed $$"

echo "--- (a) the API server is down for 10 s; web moves to web1+web2 and extra appears meanwhile"
before=$(tables)
api stop
faults=$((faults + 1))
sleep 2
check "(a) /healthz stays 200 while the API server is down" synced
api apply "$work/web-a.yaml"
add_extra
sleep 7
rules_kept "(a) API server down" "$before"
sleep 1
api start
check "(a) kpx catches up after the API server returns" recovers_to "web=$A extra=$EXTRA"
check_eq "(a) extra answers through its ClusterIP" 0 \
  "$(in_client "$probe" tcp 10.96.0.40 80 --count 3 --timeout-ms 2000 >/dev/null; echo $?)"

echo "--- (b) every request answered 500 for 5 s; web moves to web2+web3, extra is deleted"
restarts=$(metric kpx_watch_restarts_total)
before=$(tables)
api status 500
api endwatches # open watches end, so every reflector runs into the 500s
faults=$((faults + 1))
sleep 1
api apply "$work/web-b.yaml"
delete_extra
sleep 3
rules_kept "(b) 500s" "$before"
check "(b) kpx retried its watches" test "$(metric kpx_watch_restarts_total)" -gt "${restarts:-0}"
sleep 1
api status 0
check "(b) kpx catches up after the 500s stop" recovers_to "web=$B extra=none"

echo "--- (c) watches cut mid-event, 6 times at random intervals, each cutting a change"
# Each cut arms every open watch to be cut in the middle of its next event; the change that
# follows is that event for its kind. kpx must resume and get it again before the next cut.
cut_changes=("web-a.yaml:web=$A extra=none" "web-b.yaml:web=$B extra=none"
             "extra.yaml:web=$B extra=$EXTRA" "web-a.yaml:web=$A extra=$EXTRA"
             "web-b.yaml:web=$B extra=$EXTRA" "delete:web=$B extra=none")
for ((i = 0; i < ${#cut_changes[@]}; i++)); do
  api dropwatches
  faults=$((faults + 1))
  sleep "0.$((RANDOM % 8 + 2))"
  change=${cut_changes[i]%%:*}
  if [[ $change == delete ]]; then delete_extra; else api apply "$work/$change"; fi
  check "(c) cut $((i + 1)): web's service chains are kept" web_chain_kept
  check "(c) cut $((i + 1)): kpx resumes and gets the change that was cut" \
    recovers_to "${cut_changes[i]#*:}"
done
api stats
cuts=$(grep -oE ' cut=[0-9]+' <<<"$api_reply")
echo "  watch connections cut mid-event: ${cuts#*=}"
check "(c) every change was cut on its way to kpx" test "${cuts#*=}" -ge ${#cut_changes[@]}

echo "--- (d) every watch answered 410 Gone for 5 s; web back to all three, extra added"
relists=$(metric kpx_relists_total)
api gone on
faults=$((faults + 1))
sleep 1
api apply "$work/web-all.yaml"
add_extra
sleep 3
check "(d) web's service chains are kept during the 410 loop" web_chain_kept
check_eq "(d) a new connection through web's ClusterIP works during the 410 loop" 0 \
  "$(in_client "$probe" tcp 10.96.0.10 80 --count 3 --timeout-ms 2000 >/dev/null; echo $?)"
sleep 1
relists_in_loop=$(($(metric kpx_relists_total) - ${relists:-0}))
echo "  relists during the 5 s 410 loop: $relists_in_loop"
check "(d) kpx relisted during the 410 loop" test "$relists_in_loop" -ge 1
api gone off
check "(d) kpx converges after the 410 loop" recovers_to "web=$ALL extra=$EXTRA"

echo "--- (e) restart into a new resourceVersion epoch with compacted history"
before=$(tables)
api stop
faults=$((faults + 1))
api apply "$work/web-a.yaml"
delete_extra
api advance 1000000
api compact
sleep 3
rules_kept "(e) API server restarting" "$before"
relists=$(metric kpx_relists_total)
api start
check "(e) kpx relists and catches up" recovers_to "web=$A extra=none"
check "(e) kpx relisted after the epoch change" test "$(metric kpx_relists_total)" -gt "${relists:-0}"
# The new epoch's watches work: one more change arrives as an event.
api apply "$work/web-b.yaml"
check "(e) a change after the restart arrives" recovers_to "web=$B extra=none"

sleep 1
stop "$loop_pid" INT
loop_pid=
result=$(tail -n1 "$work/loop.out")
sed 's/^/client: /' "$work/loop.err"
check "client connections were made throughout" awk -F'[= ]' '{exit !($2 > 1000)}' <<<"$result"
check "no client connection failed during $faults API faults" grep -q ' failed=0$' <<<"$result"
restarts=$(metric kpx_watch_restarts_total)
relists=$(metric kpx_relists_total)
converged=$(tables)

# A fresh kpx against the same API server must program exactly the same state.
stop "$kpx_pid" TERM
kpx_pid=
in_node "$kpx" --cleanup >>"$work/kpx.log" 2>&1
check_eq "--cleanup removes web's rules" "web= extra=none" "$(state)"
start_kpx
check "a fresh kpx syncs" wait_until "$(budget 20)" synced
check_eq "the state after the faults equals a fresh kpx's" "$converged" "$(tables)"

api stats
echo "API server: ${api_reply#ok }"
echo "faults injected: $faults (API server down 10 s, 500s 5 s, 6 watch cuts, 410 loop 5 s, epoch restart); api commands: $api_commands"
echo "client loop: $result"
echo "kpx watch restarts: ${restarts:-?}, relists: ${relists:-?}"
if ((CHECK_FAILED > 0)); then
  tail -n 40 "$work/kpx.log" | sed 's/^/kpx: /'
  tail -n 20 "$work/api.log" | sed 's/^/api: /'
fi
check_summary
