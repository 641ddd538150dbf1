# shellcheck shell=bash
# The benchmark's measurements, shared by the host run (bench/run) and the qemu guest
# (bench/lib/guest.sh). Sourced; the caller sets:
#   KPX CONNBENCH GEN   binaries (CHURN: kpx-bench-churn, for b_churn; XTFLOOR, optional:
#                       kpx-xt-floor, the x_tables floor of the legacy/libiptc rows)
#   BWORK               scratch directory (manifests); BLOGS: where kpx logs go
#   BKERNEL             "host" or "vm": the first CSV column
#   DUR_MS              traffic per measurement (ms); CONN_CAP: connections per measurement, at most
#   EDITS               timed incremental syncs per control-plane run
#   SYNC_TIMEOUT, EDIT_TIMEOUT (optional): seconds to wait for the first sync / for the sync after
#                       an edit before the run is recorded as skipped
#   b_emit FILE ROW     where a CSV row goes (a file on the host, the console in the guest)
#
# Everything runs in network namespaces named $BPREFIX-*; b_cleanup (call it from an EXIT trap)
# stops exactly the processes started here, by PID, and deletes exactly those namespaces.
#
#   client 10.98.0.1 --veth-- node 10.98.0.2 (kpx runs here; Node InternalIP 10.98.0.2)
#                                  --veth-- be1 10.128.0.11:8080 (kpx-connbench serve)
#                                  ...
#                                  --veth-- be4 10.128.0.14:8080
#
# Services: ClusterIPs 10.100.0.1 ... 10.100.0.N (a /16), port 80 -> 8080. The client sits outside
# --cluster-cidr (10.128.0.0/10), as in the demo, so its traffic is masqueraded in every mode.

BPREFIX=${BPREFIX:-kpxb$$}
SYNC_TIMEOUT=${SYNC_TIMEOUT:-900}
EDIT_TIMEOUT=${EDIT_TIMEOUT:-120}
BNODE="$BPREFIX-node"
BCLIENT="$BPREFIX-client"
BBACKENDS=(10.128.0.11 10.128.0.12 10.128.0.13 10.128.0.14)
BPIDS=()    # background processes we started (backends, monitors)
KPX_PID=""  # the running kpx, if any
BNAMESPACES=()

b_log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# b_ip4 BASE OFFSET: BASE + OFFSET as a dotted quad (BASE a.b.c.d).
b_ip4() {
  local a b c d n
  IFS=. read -r a b c d <<<"$1"
  n=$(((a << 24) + (b << 16) + (c << 8) + d + $2))
  printf '%d.%d.%d.%d' $(((n >> 24) & 255)) $(((n >> 16) & 255)) $(((n >> 8) & 255)) $((n & 255))
}

b_ns_add() {
  ip netns add "$1"
  BNAMESPACES+=("$1")
  ip -n "$1" link set lo up
}

# b_node_up: just the node namespace (the control plane needs no traffic).
b_node_up() {
  b_ns_add "$BNODE"
  ip netns exec "$BNODE" sysctl -qw net.ipv4.ip_forward=1
  # kpx's ClusterIP rules need a node address; a dummy-free way: the client link, left down.
  ip link add "${BPREFIX}c0" netns "$BNODE" type veth peer name "${BPREFIX}n0" netns "$BNODE"
  ip -n "$BNODE" addr add 10.98.0.2/24 dev "${BPREFIX}n0"
  ip -n "$BNODE" link set "${BPREFIX}n0" up
}

# b_topo_up: node, client and the backends with their servers.
b_topo_up() {
  local i ns ip
  b_ns_add "$BNODE"
  b_ns_add "$BCLIENT"
  ip netns exec "$BNODE" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$BNODE" sysctl -qw net.ipv4.conf.all.send_redirects=0
  ip netns exec "$BNODE" sysctl -qw net.ipv4.conf.default.send_redirects=0
  ip link add "${BPREFIX}c0" netns "$BCLIENT" type veth peer name "${BPREFIX}n0" netns "$BNODE"
  ip -n "$BCLIENT" addr add 10.98.0.1/24 dev "${BPREFIX}c0"
  ip -n "$BCLIENT" link set "${BPREFIX}c0" up
  ip -n "$BCLIENT" route add default via 10.98.0.2
  # Many short connections from one client: use every port, reuse TIME_WAIT ones.
  ip netns exec "$BCLIENT" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
  ip netns exec "$BCLIENT" sysctl -qw net.ipv4.tcp_tw_reuse=1
  ip -n "$BNODE" addr add 10.98.0.2/24 dev "${BPREFIX}n0"
  ip -n "$BNODE" link set "${BPREFIX}n0" up
  ip -n "$BNODE" route add default via 10.98.0.1
  for i in "${!BBACKENDS[@]}"; do
    ip=${BBACKENDS[$i]}
    ns="$BPREFIX-be$((i + 1))"
    b_ns_add "$ns"
    ip link add "${BPREFIX}p$i" netns "$ns" type veth peer name "${BPREFIX}h$i" netns "$BNODE"
    ip -n "$ns" link set "${BPREFIX}p$i" name eth0
    ip -n "$ns" addr add "$ip/32" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add 10.98.0.2 dev eth0
    ip -n "$ns" route add default via 10.98.0.2 dev eth0
    ip -n "$BNODE" link set "${BPREFIX}h$i" up
    ip -n "$BNODE" route add "$ip/32" dev "${BPREFIX}h$i"
    ip netns exec "$ns" "$CONNBENCH" serve --port 8080 >/dev/null 2>&1 &
    BPIDS+=($!)
  done
}

b_stop_pids() {
  local pid
  for pid in "${BPIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${BPIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  BPIDS=()
}

b_stop_kpx() {
  [[ -n $KPX_PID ]] || return 0
  kill -TERM "$KPX_PID" 2>/dev/null || true
  # A kpx that does not stop within 20 s is killed (by its PID).
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$KPX_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$KPX_PID" 2>/dev/null || true
  wait "$KPX_PID" 2>/dev/null || true
  KPX_PID=""
}

b_topo_down() {
  local ns
  b_stop_kpx
  b_stop_pids
  for ns in "${BNAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  BNAMESPACES=()
}

b_cleanup() { b_topo_down; }

# --backed-memory (B_BACKED_MEMORY=1). b_hold_memory: where the guest kernel hands free pages
# back to the host after min_free_ms, that delay is raised for the run, so that what one kpx
# frees is still backed when the next one starts (B_MEMORY_STATE says what was done, for the
# report); b_release_memory puts it back. Nothing is touched ahead: 1 GiB faulted in and freed
# by dd in 4 KiB pages made the next first sync slower (1.2-1.4 s), its huge pages then
# needing compaction.
B_REPORTING_KNOB=/sys/module/page_reporting/parameters/min_free_ms
B_MEMORY_STATE="as the machine gives it"
b_hold_memory() {
  [[ ${B_BACKED_MEMORY:-0} == 1 ]] || return 0
  local was
  # 300 s: the knob takes no more than that here (600 000 is refused).
  if [[ -w $B_REPORTING_KNOB ]] && was=$(cat "$B_REPORTING_KNOB") &&
    echo 300000 2>/dev/null >"$B_REPORTING_KNOB"; then
    B_REPORTING_WAS=$was
    B_MEMORY_STATE="backed: free page reporting held off (min_free_ms $was -> 300000)"
  else
    B_MEMORY_STATE="as the machine gives it (--backed-memory: no page_reporting min_free_ms knob here)"
  fi
  b_log "memory: $B_MEMORY_STATE"
}
b_release_memory() {
  [[ -n ${B_REPORTING_WAS:-} ]] || return 0
  echo "$B_REPORTING_WAS" >"$B_REPORTING_KNOB" || true
  B_REPORTING_WAS=
}

# b_start_kpx MODE BACKEND DISPATCH MANIFEST_DIR LOG: kpx in the node namespace (log level
# B_KPX_V, default 2).
b_start_kpx() {
  local mode=$1 backend=$2 dispatch=$3 dir=$4 log=$5
  # Not through a function or subshell: $! must be kpx itself (ip netns exec execs it).
  ip netns exec "$BNODE" "$KPX" --mode="$mode" --iptables-backend="$backend" \
    --iptables-dispatch="$dispatch" --source="$dir" --hostname-override=kpx-node \
    --cluster-cidr=10.128.0.0/10 --min-sync-period=0s --sync-period=1h \
    --ipvs-min-sync-period=0s --ipvs-sync-period=1h \
    --healthz-bind-address=10.98.0.2:10256 --metrics-bind-address=127.0.0.1:10249 -v="${B_KPX_V:-2}" \
    >"$log" 2>&1 &
  KPX_PID=$!
}

# b_synced: /healthz answers 200 and reports a sync (lastUpdated is Go's zero time until then).
b_synced() {
  local body
  body=$(ip netns exec "$BNODE" curl -s --max-time 5 -w ' %{http_code}' \
    http://10.98.0.2:10256/healthz 2>/dev/null) || return 1
  [[ $body == *' 200' && $body != *'"lastUpdated": "0001-'* ]]
}

# b_wait_synced SECONDS LOG: 0 once synced; 1 on timeout, when kpx exited, or after its third
# failed sync (it retries forever; the reason is in the log). At -v=2 and up kpx logs every
# sync it finishes, and /healthz is asked only once the log shows one: a curl through `ip netns
# exec` is a fork and two execs on one of the two cores the first sync being measured runs on
# (its render helper, the table populating thread), and asked every 50 ms they made its render
# and plan phases take 1.2-1.9x as long. The log is read every 0.1 s, the curl every 0.25 s
# below -v=2. startup_s is thus up to 0.1-0.25 s late; first_sync_ms comes from kpx's metrics.
b_wait_synced() {
  local deadline=$((SECONDS + $1)) logged=0
  ((${B_KPX_V:-2} >= 2)) && logged=1
  while :; do
    if ((!logged)) || grep -q ' sync of .* took ' "$2" 2>/dev/null; then
      b_synced && return 0
    fi
    kill -0 "$KPX_PID" 2>/dev/null || return 1
    (($(grep -c 'sync failed' "$2" 2>/dev/null || true) < 3)) || return 1
    ((SECONDS < deadline)) || return 1
    if ((logged)); then sleep 0.1; else sleep 0.25; fi
  done
}

b_metrics() { ip netns exec "$BNODE" curl -s --max-time 10 http://127.0.0.1:10249/metrics; }

# b_metric_value NAME < metrics: the sample's value (exact name incl. labels), empty if absent.
b_metric_value() { awk -v n="$1" '$1 == n {print $2; exit}'; }

# b_last_error LOG: the log's last line without glog's prefix, fit for a CSV field.
b_last_error() {
  tail -n 1 "$1" | sed 's/^[IWEF][0-9]\{4\} [0-9:.]* *[0-9]* [^]]*] //' | tr ',\n' '; ' | cut -c1-300
}

b_rss_mib() { awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$KPX_PID/status" 2>/dev/null; }
# b_rss_now_mib: kpx's resident set now (VmRSS), e.g. steady after its syncs.
b_rss_now_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' "/proc/$KPX_PID/status" 2>/dev/null; }

# b_cpu_ticks: kpx's CPU time so far (user + system, every thread) in clock ticks. The comm field
# may hold spaces, so the fields are counted after its closing parenthesis.
b_cpu_ticks() { sed 's/^.*) //' "/proc/$KPX_PID/stat" 2>/dev/null | awk '{print $12 + $13}'; }
B_CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# b_partial_syncs LOG: partial syncs kpx has logged (-v=2: "<mode> partial sync of ... took").
# Waiting on the log rather than on /metrics keeps the polling out of kpx's CPU time.
b_partial_syncs() { grep -c ' partial sync of ' "$1" 2>/dev/null || true; }

# b_mode_label MODE DISPATCH: the name a row carries ("iptables-linear", "ipvs", ...).
b_mode_label() {
  if [[ $1 == iptables ]]; then printf 'iptables-%s' "$2"; else printf '%s' "$1"; fi
}

# b_gen_dataplane N DIR / b_gen_controlplane N DIR EDIT_DIR
# The data plane's services also go to DIR.ipvsadm as `ipvsadm -R` input (the IPVS floor).
b_gen_dataplane() {
  mkdir -p "$2"
  "$GEN" --out "$2" --services "$1" --endpoints 3 \
    --backends "$(IFS=,; echo "${BBACKENDS[*]}")" --node-ip 10.98.0.2 --ipvsadm "$2.ipvsadm"
}
# The control plane's endpoints: BENCH_LOCAL_ENDPOINTS (default 110, kubelet's default maxPods)
# on the measured node, the rest on peer nodes, as in a real cluster of that size.
b_gen_controlplane() {
  mkdir -p "$2" "$3"
  "$GEN" --out "$2" --services "$1" --endpoints 10 --node-ip 10.98.0.2 --edit-dir "$3" \
    --local-endpoints "${BENCH_LOCAL_ENDPOINTS:-110}"
}

# b_start_synced WHAT SKIP_CSV SKIP_ROW MODE BACKEND DISPATCH DIR LOG: starts kpx (b_start_kpx's
# arguments) and waits for its first sync. When none comes: logs kpx's last lines under WHAT,
# writes SKIP_ROW and kpx's last error to SKIP_CSV, tears the topology down and returns 1.
b_start_synced() {
  local what=$1 skip_csv=$2 skip_row=$3 log=$8
  b_start_kpx "$4" "$5" "$6" "$7" "$log"
  b_wait_synced "$SYNC_TIMEOUT" "$log" && return 0
  b_log "$what: kpx did not sync; last log lines:"
  tail -n 5 "$log" >&2
  b_emit "$skip_csv" "$skip_row,$(b_last_error "$log")"
  b_topo_down
  return 1
}

# b_dataplane MODE BACKEND DISPATCH N MANIFEST_DIR
# Rows: dataplane_latency.csv, dataplane_throughput.csv (see bench/run for the columns).
b_dataplane() {
  local mode=$1 backend=$2 dispatch=$3 n=$4 dir=$5 label log t0 sync_s
  label=$(b_mode_label "$mode" "$dispatch")
  log="$BLOGS/kpx-$BKERNEL-dp-$label-$n.log"
  b_topo_up
  t0=$EPOCHREALTIME
  b_start_synced "$label N=$n" dataplane_skipped.csv "$BKERNEL,$label,$n" \
    "$mode" "$backend" "$dispatch" "$dir" "$log" || return 1
  sync_s=$(awk -v t0="$t0" -v t1="$EPOCHREALTIME" 'BEGIN {printf "%.2f", t1 - t0}')
  b_log "$label N=$n: synced in ${sync_s}s, measuring"
  local c0 c1
  c0=$(b_cpu_ticks)
  b_dp_measure "$label" "$n"
  c1=$(b_cpu_ticks)
  # kpx shares the guest's one CPU with the client and the backends: CPU it spends while the
  # traffic runs (it should be idle) shows up as latency.
  b_log "$label N=$n: kpx used $(((c1 - c0) * 1000 / B_CLK_TCK)) ms of CPU while measured"
  if [[ $mode == ipvs ]]; then
    # The rules the measured connections went through, with their packet counts.
    ip netns exec "$BNODE" iptables-save -c | grep -E '^\[[1-9]' | head -n 40 >&2 || true
  fi
  b_topo_down
}

# The one nat rule the masquerade floor (ipvs-floor-masq, ipvs-ab's "masq") has: IPVS traffic
# masqueraded, the least a node needs for a client outside the cluster.
B_IPVS_MASQ_RULE="-A POSTROUTING -m ipvs --ipvs --vdir ORIGINAL -j MASQUERADE"

# b_dataplane_ipvs_floor N IPVSADM_FILE [masq]: the data plane rows of mode "ipvs-floor": the
# same virtual servers and real servers as kpx's IPVS mode programs (kpx-bench-gen --ipvsadm),
# loaded with `ipvsadm -R` alone into a fresh topology: no kpx, no iptables rules, no ipsets, the
# IPVS sysctls left at the kernel's defaults. What IPVS itself costs at N services, beside which
# kpx's ipvs rows are read. The service addresses sit on a dummy device left down, as kpx's
# kube-ipvs0. With "masq", mode "ipvs-floor-masq": the same plus what any kube-proxy-style IPVS
# node needs for a client outside the cluster, to tell kpx's own overhead from the kernel's:
# kpx's IPVS sysctls (vs/conntrack=1 and friends, so conntrack follows IPVS connections) and one
# nat rule masquerading IPVS traffic.
b_dataplane_ipvs_floor() {
  local n=$1 rules=$2 masq=${3:-} t0 load_s label=ipvs-floor
  [[ $masq != masq ]] || label=ipvs-floor-masq
  b_topo_up
  if [[ $masq == masq ]]; then
    ip netns exec "$BNODE" sysctl -qw net.ipv4.vs.conntrack=1 net.ipv4.vs.conn_reuse_mode=0 \
      net.ipv4.vs.expire_nodest_conn=1 net.ipv4.vs.expire_quiescent_template=1
    # shellcheck disable=SC2086 # the rule's words
    if ! ip netns exec "$BNODE" iptables -t nat $B_IPVS_MASQ_RULE; then
      b_emit dataplane_skipped.csv "$BKERNEL,$label,$n,the masquerade rule (xt_ipvs) failed"
      b_topo_down
      return 1
    fi
  fi
  t0=$EPOCHREALTIME
  ip -n "$BNODE" link add "${BPREFIX}ipvs0" type dummy
  awk -v dev="${BPREFIX}ipvs0" '$1 == "-A" {sub(/:[0-9]+$/, "", $3); print "addr add " $3 "/32 dev " dev}' \
    "$rules" >"$BWORK/floor-addrs.batch"
  if ! ip -n "$BNODE" -batch "$BWORK/floor-addrs.batch" ||
    ! ip netns exec "$BNODE" ipvsadm -R <"$rules"; then
    b_emit dataplane_skipped.csv "$BKERNEL,$label,$n,ipvsadm -R or the service addresses failed"
    b_topo_down
    return 1
  fi
  load_s=$(awk -v t0="$t0" -v t1="$EPOCHREALTIME" 'BEGIN {printf "%.2f", t1 - t0}')
  b_log "$label N=$n: $(ip netns exec "$BNODE" ipvsadm -Ln | grep -c '^TCP') virtual servers loaded by ipvsadm -R in ${load_s}s, measuring"
  b_dp_measure "$label" "$n"
  b_topo_down
}

# b_dataplane_ipvs_ab N MANIFEST_DIR: kpx's IPVS mode against the masquerade floor on the very
# same IPVS state, in alternating rounds (dataplane_ab.csv). Separate topologies and VM phases a
# minute apart differ by more than the 5 % being judged (TCG on a shared host: a floor's p50
# moved 1.5x between two runs), so here kpx syncs once and only the iptables rules are swapped
# underneath it, AB_ROUNDS (default 11) times each for AB_MS (default half of DUR_MS; short
# rounds let the median of the rounds' ratios pass over the host's bursts): "kpx" (its rules as
# it wrote them), "kpx-plain" (the same with plain MASQUERADE instead of --random-fully, which
# kube-proxy also uses), and "masq" ($B_IPVS_MASQ_RULE alone). Services, virtual servers, ipsets, sysctls and the running kpx stay as they are; only
# the random target is measured (the first and last services behave alike).
b_dataplane_ipvs_ab() {
  local n=$1 dir=$2 log round variant row rounds=${AB_ROUNDS:-11} ms=${AB_MS:-$((DUR_MS / 2))}
  local variants=(kpx kpx-plain masq) i
  log="$BLOGS/kpx-$BKERNEL-dp-ipvs-ab-$n.log"
  b_topo_up
  b_start_synced "ipvs-ab N=$n" dataplane_skipped.csv "$BKERNEL,ipvs-ab,$n" \
    ipvs legacy linear "$dir" "$log" || return 1
  ip netns exec "$BNODE" iptables-save -t nat >"$BWORK/ab-kpx.rules"
  ip netns exec "$BNODE" iptables-save -t filter >>"$BWORK/ab-kpx.rules"
  sed 's/ --random-fully//' "$BWORK/ab-kpx.rules" >"$BWORK/ab-kpx-plain.rules"
  printf '%s\n' '*nat' ':PREROUTING ACCEPT [0:0]' ':INPUT ACCEPT [0:0]' ':OUTPUT ACCEPT [0:0]' \
    ':POSTROUTING ACCEPT [0:0]' "$B_IPVS_MASQ_RULE" \
    'COMMIT' '*filter' ':INPUT ACCEPT [0:0]' ':FORWARD ACCEPT [0:0]' ':OUTPUT ACCEPT [0:0]' \
    'COMMIT' >"$BWORK/ab-masq.rules"
  b_log "ipvs-ab N=$n: kpx synced; $rounds rounds of kpx / kpx-plain / masq rules"
  b_dp_warm_up "$n" 200 50
  for ((round = 1; round <= rounds; round++)); do
    # Each round starts with another variant, so none always follows the same one.
    for i in 0 1 2; do
      variant=${variants[$(((round + i) % 3))]}
      if ! ip netns exec "$BNODE" iptables-restore <"$BWORK/ab-$variant.rules"; then
        b_emit dataplane_skipped.csv "$BKERNEL,ipvs-ab-$variant,$n,iptables-restore of its rules failed"
        b_topo_down
        return 1
      fi
      # A short warm-up after each swap: the first connections pay the new rules' first use.
      b_dp_warm_up "$n" 100 20
      row=$(ip netns exec "$BCLIENT" "$CONNBENCH" conn --range 10.100.0.1 "$n" --port 80 \
        --duration-ms "$ms" --max-conns "$CONN_CAP" --timeout-ms 2000) || true
      [[ -n $row ]] || row="0,0,0,0,0,0,0,0"
      b_emit dataplane_ab.csv "$BKERNEL,$n,$round,$variant,$row"
    done
  done
  b_topo_down
}

# b_dp_warm_up N MS CONNS: unmeasured connections to the N services, for MS ms or CONNS.
b_dp_warm_up() {
  ip netns exec "$BCLIENT" "$CONNBENCH" conn --range 10.100.0.1 "$1" --port 80 \
    --duration-ms "$2" --max-conns "$3" >/dev/null 2>&1 || true
}

# b_dp_measure LABEL N: the data plane rows for whatever holds the node's rules now (kpx, or a
# ruleset loaded by hand); the topology is up.
b_dp_measure() {
  local label=$1 n=$2 target dst row
  # Warm-up: ARP, route caches and the backends' first accepts are not what we measure.
  b_dp_warm_up "$n" 200 50
  for target in early late random; do
    case $target in
      early) dst=(--dst 10.100.0.1) ;;
      late) dst=(--dst "$(b_ip4 10.100.0.0 "$n")") ;;
      random) dst=(--range 10.100.0.1 "$n") ;;
    esac
    row=$(ip netns exec "$BCLIENT" "$CONNBENCH" conn "${dst[@]}" --port 80 \
      --duration-ms "$DUR_MS" --max-conns "$CONN_CAP" --timeout-ms 2000) || true
    [[ -n $row ]] || row="0,0,0,0,0,0,0,0"
    b_emit dataplane_latency.csv "$BKERNEL,$label,$n,$target,$row"
  done
  row=$(ip netns exec "$BCLIENT" "$CONNBENCH" rr --dst "$(b_ip4 10.100.0.0 "$n")" --port 80 \
    --conns 1 --duration-ms "$DUR_MS" --timeout-ms 2000) || true
  [[ -n $row ]] || row="1,0,0,0,0,0,0"
  b_emit dataplane_throughput.csv "$BKERNEL,$label,$n,$row"
}

# b_count_nft_events FILE: kernel objects (rules, chains) an nft monitor saw added or removed.
b_count_nft_events() { grep -cE '^(add|delete|flush|replace|insert) ' "$1" || true; }

# b_table_rules: rules in the node's nat and filter tables, both families (what a legacy or
# libiptc commit hands the kernel: the whole table, whatever changed).
b_table_rules() {
  local total=0 cmd c
  for cmd in iptables-legacy-save ip6tables-legacy-save; do
    command -v "$cmd" >/dev/null || cmd=${cmd/-legacy/}
    c=$(ip netns exec "$BNODE" "$cmd" 2>/dev/null |
      awk '/^\*/ {t = $1} /^-A/ && (t == "*nat" || t == "*filter") {n++} END {print n + 0}')
    total=$((total + c))
  done
  echo "$total"
}

# b_edit_and_wait DIR EDIT_DIR I [LOG]: puts edit I's EndpointSlice (edit-slice.b for even I, .a
# for odd) into DIR with one rename (one inotify event for a complete file) and waits for kpx's
# next partial sync. Sets B_EDIT_MS to that sync's duration, from the partial-sync histogram's sum
# and count. With kpx's LOG (-v=2), the wait watches the log for the sync's line instead of
# polling /metrics, which keeps the polling out of kpx's CPU, and also sets B_EDIT_WALL_MS (from
# the rename until the line appears; polled every 20 ms) and B_EDIT_CPU_MS (kpx's process CPU over
# that span, /proc ticks). Returns 1 when no sync came within EDIT_TIMEOUT seconds or kpx exited.
b_edit_and_wait() {
  local dir=$1 edit_dir=$2 i=$3 log=${4:-} m c0 s0 c1 s1 deadline l0 k0 w0
  B_EDIT_WALL_MS=""
  B_EDIT_CPU_MS=""
  m=$(b_metrics)
  c0=$(b_metric_value kubeproxy_sync_partial_proxy_rules_duration_seconds_count <<<"$m")
  s0=$(b_metric_value kubeproxy_sync_partial_proxy_rules_duration_seconds_sum <<<"$m")
  if ((i % 2 == 0)); then cp "$edit_dir/edit-slice.b" "$dir/.edit.tmp"; else cp "$edit_dir/edit-slice.a" "$dir/.edit.tmp"; fi
  [[ -z $log ]] || l0=$(b_partial_syncs "$log")
  k0=$(b_cpu_ticks)
  w0=$EPOCHREALTIME
  mv "$dir/.edit.tmp" "$dir/edit-slice.json"
  deadline=$((SECONDS + EDIT_TIMEOUT))
  while :; do
    if [[ -n $log ]]; then
      if (($(b_partial_syncs "$log") > l0)); then
        B_EDIT_CPU_MS=$(awk -v a="$k0" -v b="$(b_cpu_ticks)" -v hz="$B_CLK_TCK" 'BEGIN {printf "%.0f", 1000 * (b - a) / hz}')
        B_EDIT_WALL_MS=$(awk -v a="$w0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", 1000 * (b - a)}')
        m=$(b_metrics)
        c1=$(b_metric_value kubeproxy_sync_partial_proxy_rules_duration_seconds_count <<<"$m")
        break
      fi
    else
      m=$(b_metrics)
      c1=$(b_metric_value kubeproxy_sync_partial_proxy_rules_duration_seconds_count <<<"$m")
      [[ ${c1:-0} != "${c0:-0}" ]] && break
    fi
    if ((SECONDS > deadline)) || ! kill -0 "$KPX_PID" 2>/dev/null; then return 1; fi
    if [[ -n $log ]]; then sleep 0.02; else sleep 0.01; fi
  done
  s1=$(b_metric_value kubeproxy_sync_partial_proxy_rules_duration_seconds_sum <<<"$m")
  B_EDIT_MS=$(awk -v a="$s0" -v b="$s1" -v x="$c0" -v y="$c1" 'BEGIN {if (y > x) printf "%.3f", 1000 * (b - a) / (y - x)}')
}

# An awk function for the programs below: med(a, n), the median of a[1..n] (sorts a in place).
B_AWK_MED='
  function med(a, n,   i, j, x) {
    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return a[int((n + 1) / 2)]
  }'

# b_own_cpu LOG: kpx's own CPU per partial sync, from its -v=2 lines: the sync thread's CPU
# ("<mode> partial sync of ... took T ms, CPU C ms", CLOCK_THREAD_CPUTIME_ID, so to the
# microsecond, unlike /proc's 10 ms ticks), and that less the whole-table hand-off the iptables
# modes make inside it (each family's "restore R ms (CPU H ms)": x_tables takes whole tables, so
# that part is O(rules) in any mode of iptables, the kernel's replace included). Prints
# "syncs,sync_cpu_p50,own_cpu_p50,own_cpu_max" (ms; median of the partial syncs after the last
# full one), nothing without a partial sync.
b_own_cpu() {
  awk "$B_AWK_MED"'
    / (full|partial) sync, .* restore [0-9.e+-]+ ms \(CPU [0-9.e+-]+ ms\)/ {
      for (i = 1; i < NF; i++) if ($i == "(CPU") h += $(i + 1)
    }
    / full sync of .* took / { k = 0; h = 0 }
    / partial sync of .* took [0-9.e+-]+ ms, CPU [0-9.e+-]+ ms/ {
      for (i = 1; i < NF; i++) if ($i == "CPU") c = $(i + 1)
      k++; cs[k] = c; os[k] = c - h; h = 0
    }
    END {
      if (!k) exit
      mx = os[1]; for (i = 2; i <= k; i++) if (os[i] > mx) mx = os[i]
      printf "%d,%.3f,%.3f,%.3f", k, med(cs, k), med(os, k), mx
    }' "$1"
}

# b_emit_own_cpu MODE RUNNER N LOG: one row of own_cpu.csv
#   kernel,mode,runner,n,syncs,sync_cpu_ms,own_cpu_ms,own_cpu_max_ms
b_emit_own_cpu() {
  local row
  row=$(b_own_cpu "$4")
  [[ -n $row ]] || return 0
  b_log "$1/$2 N=$3: kpx's own CPU per partial sync (syncs, sync thread median, without the table hand-off median / max, ms): $row"
  b_emit own_cpu.csv "$BKERNEL,$1,$2,$3,$row"
}

# b_controlplane MODE BACKEND DISPATCH N MANIFEST_DIR EDIT_DIR
# One row of controlplane.csv:
#   kernel,mode,runner,n,endpoints,first_sync_ms,startup_s,incr_sync_ms,incr_sync_max_ms,
#   written_per_change,written_unit,rules_total,peak_rss_mib,incr_cpu_ms,rss_mib,edit_to_sync_ms,
#   xt_floor_ms,xt_table_bytes,xt_own_replace_ms,xt_sync_over_own,xt_floor_counters_ms,
#   xt_own_counters_ms,xt_sync_over_own_calls,xt_first_replace_ms,xt_first_over_replace
# incr_sync_ms: kpx's partial-sync histogram (its Apply); edit_to_sync_ms: wall time from the
# rename of the edited file until kpx logs the sync (median; polled every 20 ms, so up to that
# much late; includes inotify, the file's parse and the runner); incr_cpu_ms: kpx's process
# CPU from the edit until the sync is logged (median; /proc ticks, usually 10 ms, so "0" means
# under one tick), re-reading the edited file included; rss_mib: VmRSS after the last edit;
# xt_floor_ms (legacy and libiptc rows, with XTFLOOR): the kernel's own replace of the IPv4 filter
# and nat tables kpx left, read and written back unchanged (kpx-xt-floor, median of 3), and their
# size in bytes: what every whole-table commit costs at least. xt_own_replace_ms and
# xt_sync_over_own (libiptc rows): per partial sync, the kernel's replace time (SO_SET_REPLACE
# alone, as kpx-xt-floor times it) inside that very sync, from kpx's -v=2 "x_tables" lines, and the sync's time over it
# (medians): the floor measured where the sync ran, so the kernel's run-to-run variance in the
# replace (which a separate floor process does not share) cancels out. xt_floor_counters_ms:
# the separate floor's SET_ADD_COUNTERS call, which hands the old counters to the new table (a
# commit that keeps the counters of the rules it keeps, as iptables-restore and libiptc do,
# makes it right after the replace; kpx makes it when a kept rule has counted a packet);
# xt_own_counters_ms and xt_sync_over_own_calls: that call for kpx's partial syncs (median, 0
# when none was made; since 2026-12-05 the libiptc runner makes it on a thread of its own after
# the sync returned, holding the xtables lock until done) and the sync's time over the kernel
# calls made inside it (median; the replace alone when the counters went over afterwards).
# xt_first_replace_ms and xt_first_over_replace (libiptc rows): the same for the first full sync,
# whose replace turns the node's nearly empty tables into the full ones (the floor of a first
# sync: issue 14 asks for at most 2x), and that sync's time (its -v=2 line) over it.
b_controlplane() {
  local mode=$1 backend=$2 dispatch=$3 n=$4 dir=$5 edit_dir=$6
  local label runner log t0 startup first m c0 i times=() written unit total rss mon
  local cpus=() rss_now walls=()
  label=$(b_mode_label "$mode" "$dispatch")
  runner=$backend
  [[ $mode == iptables ]] || runner=-
  log="$BLOGS/kpx-$BKERNEL-cp-$label-$runner-$n.log"
  cp "$edit_dir/edit-slice.a" "$dir/edit-slice.json"
  b_node_up
  t0=$EPOCHREALTIME
  b_start_synced "$label/$runner N=$n" controlplane_skipped.csv "$BKERNEL,$label,$runner,$n" \
    "$mode" "$backend" "$dispatch" "$dir" "$log" || return 1
  startup=$(awk -v t0="$t0" -v t1="$EPOCHREALTIME" 'BEGIN {printf "%.2f", t1 - t0}')
  m=$(b_metrics)
  # The first sync is a full one; its duration is the full-sync histogram's sum.
  first=$(b_metric_value kubeproxy_sync_full_proxy_rules_duration_seconds_sum <<<"$m")
  c0=$(b_metric_value kubeproxy_sync_full_proxy_rules_duration_seconds_count <<<"$m")
  first=$(awk -v s="${first:-0}" -v c="${c0:-1}" 'BEGIN {printf "%.1f", (c > 0 ? 1000 * s / c : 0)}')
  if [[ $mode == iptables ]]; then
    total=$(b_metric_value 'kubeproxy_sync_proxy_rules_iptables_total{table="nat"}' <<<"$m")
  else
    total=$(awk '/virtual servers/ {for (i = 1; i < NF; i++) if ($(i + 1) == "virtual") v = $i} END {print v}' "$log")
  fi
  b_log "$label/$runner N=$n: first full sync ${first} ms (kpx up and synced in ${startup}s)"
  # Timed edits; the last one also counts what reached the kernel.
  for ((i = 0; i <= EDITS; i++)); do
    mon=""
    if ((i == EDITS)) && [[ $mode != ipvs ]] && [[ $backend == nft ]] && command -v nft >/dev/null; then
      ip netns exec "$BNODE" nft monitor >"$BWORK/nft-monitor.txt" 2>/dev/null &
      mon=$!
      BPIDS+=("$mon")
      # nft monitor lists the ruleset before it listens; give it time on a large, busy one.
      sleep 2
    fi
    if ! b_edit_and_wait "$dir" "$edit_dir" "$i" "$log"; then
      b_log "$label/$runner N=$n: no partial sync within ${EDIT_TIMEOUT}s of an edit; last log lines:"
      tail -n 5 "$log" >&2
      b_emit controlplane_skipped.csv "$BKERNEL,$label,$runner,$n,no incremental sync within ${EDIT_TIMEOUT}s of an edit (first full sync $first ms)"
      b_topo_down
      return 1
    fi
    if ((i < EDITS)); then
      times+=("$B_EDIT_MS")
      cpus+=("$B_EDIT_CPU_MS")
      walls+=("$B_EDIT_WALL_MS")
    fi
    if [[ -n $mon ]]; then
      sleep 0.3
      kill "$mon" 2>/dev/null || true
      wait "$mon" 2>/dev/null || true
    fi
    sleep 0.1
  done
  if [[ $mode == ipvs ]]; then
    written=$(awk '/ipvs: sync partial/ {for (i = 1; i < NF; i++) if ($(i + 1) ~ /^operations/) v = $i} END {print v + 0}' "$log")
    unit="ipvs operations"
  elif [[ $backend == nft ]] && [[ -s $BWORK/nft-monitor.txt ]]; then
    written=$(b_count_nft_events "$BWORK/nft-monitor.txt")
    unit="nft objects"
  elif [[ $backend == nft ]]; then
    written=""
    unit="nft objects (monitor saw none)"
  elif [[ $mode == iptables ]]; then
    written=$(b_table_rules)
    unit="rules (whole table)"
  else
    written=""
    unit="-"
  fi
  rss=$(b_rss_mib)
  rss_now=$(b_rss_now_mib)
  local xt="" xt_ms="" xt_bytes="" xt_counters_ms=""
  if [[ -n ${XTFLOOR:-} && $mode != ipvs && ($backend == legacy || $backend == libiptc) ]]; then
    # entries,bytes,get_ms,replace_ms,counters_ms
    if xt=$(ip netns exec "$BNODE" "$XTFLOOR" --repeat 3); then
      xt_bytes=$(cut -d, -f2 <<<"$xt")
      xt_ms=$(cut -d, -f4 <<<"$xt")
      xt_counters_ms=$(cut -d, -f5 <<<"$xt")
      b_log "$label/$runner N=$n: x_tables floor: filter+nat replaced unchanged in ${xt_ms} ms, their counters handed over in ${xt_counters_ms} ms ($xt_bytes bytes; reading them took $(cut -d, -f3 <<<"$xt") ms)"
    fi
  fi
  local own="" own_ms="" own_ratio="" own_counters_ms="" own_calls_ratio="" first_own=""
  if [[ $backend == libiptc && $mode != ipvs ]]; then
    # "x_tables T: ... replace R ms, counters C ms" lines (or "counters deferred", whose call's
    # "x_tables T: counters handed over in C ms" line comes from the runner's thread, before or
    # after the sync's), then "iptables partial sync ... took S ms".
    own=$(awk "$B_AWK_MED"'
      /x_tables [a-z]+: .* replace [0-9.]+ ms, counters / {
        for (i = 1; i < NF; i++) {
          if ($i == "replace") r += $(i + 1)
          if ($i == "counters" && $(i + 1) ~ /^[0-9.]+$/) { c += $(i + 1); if ($(i + 1) > 0) { n++; cs[n] = $(i + 1) } }
        }
      }
      /x_tables [a-z]+: counters handed over in [0-9.]+ ms/ {
        for (i = 1; i < NF; i++) if ($i == "in") { n++; cs[n] = $(i + 1) }
      }
      /iptables full sync of/ { r = 0; c = 0; n = 0 }
      /iptables partial sync of .* took [0-9.]+ ms/ {
        for (i = 1; i < NF; i++) if ($i == "took") t = $(i + 1)
        if (r > 0) { k++; rs[k] = r; q[k] = t / r; q2[k] = t / (r + c) }
        r = 0; c = 0
      }
      END { if (k) printf "%.1f,%.3f,%.1f,%.3f", med(rs, k), med(q, k), (n ? med(cs, n) : 0), med(q2, k) }' "$log")
    own_ms=$(cut -d, -f1 <<<"$own")
    own_ratio=$(cut -d, -f2 <<<"$own")
    own_counters_ms=$(cut -d, -f3 <<<"$own")
    own_calls_ratio=$(cut -d, -f4 <<<"$own")
    [[ -z $own ]] || b_log "$label/$runner N=$n: within its own syncs: kernel replace median ${own_ms} ms, sync / that x${own_ratio}; counters call median ${own_counters_ms} ms (made after the sync returned), sync / the kernel calls made inside it x${own_calls_ratio} (medians)"
    first_own=$(awk '
      /x_tables [a-z]+: .* replace [0-9.]+ ms, counters / {
        for (i = 1; i < NF; i++) if ($i == "replace") r += $(i + 1)
      }
      /iptables full sync of .* took [0-9.]+ ms/ {
        for (i = 1; i < NF; i++) if ($i == "took") t = $(i + 1)
        if (r > 0) printf "%.1f,%.3f", r, t / r
        exit
      }' "$log")
    [[ -z $first_own ]] || b_log "$label/$runner N=$n: first full sync: kernel replace inside it $(cut -d, -f1 <<<"$first_own") ms, sync / that x$(cut -d, -f2 <<<"$first_own")"
  fi
  local med max cpu wall
  med=$(printf '%s\n' "${times[@]}" | sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}')
  max=$(printf '%s\n' "${times[@]}" | sort -g | tail -n 1)
  cpu=$(printf '%s\n' "${cpus[@]}" | sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}')
  wall=$(printf '%s\n' "${walls[@]}" | sort -g | awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}')
  b_log "$label/$runner N=$n: incremental sync median ${med:-?} ms (max ${max:-?}), edit to sync logged ${wall:-?} ms, kpx CPU ${cpu:-?} ms per change, written ${written:-?} $unit, RSS ${rss_now} MiB (peak ${rss})"
  b_emit_own_cpu "$label" "$runner" "$n" "$log"
  b_emit controlplane.csv "$BKERNEL,$label,$runner,$n,10,$first,$startup,${med:-},${max:-},${written:-},$unit,${total:-},$rss,${cpu:-},${rss_now:-},${wall:-},$xt_ms,$xt_bytes,${own_ms:-},${own_ratio:-},${xt_counters_ms:-},${own_counters_ms:-},${own_calls_ratio:-},$(cut -d, -f1 <<<"$first_own"),$(cut -d, -f2 <<<"$first_own")"
  b_topo_down
}

# b_hist_quantile NAME Q < metrics: the Q-quantile of histogram NAME from its cumulative buckets,
# interpolated linearly inside the bucket as Prometheus' histogram_quantile does (so a figure
# inside the first bucket only says "below its bound"), in ms; empty without observations.
b_hist_quantile() {
  awk -v n="$1_bucket" -v q="$2" '
    index($1, n "{le=\"") == 1 {
      le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le)
      b[++k] = (le == "+Inf" ? -1 : le + 0); c[k] = $2 + 0
    }
    END {
      if (k == 0 || c[k] == 0) exit
      rank = q * c[k]; lo = 0; prev = 0
      for (i = 1; i <= k; i++) {
        if (c[i] >= rank) {
          if (b[i] < 0) { printf "%.1f", 1000 * lo; exit }
          printf "%.1f", 1000 * (lo + (b[i] - lo) * (c[i] > prev ? (rank - prev) / (c[i] - prev) : 1))
          exit
        }
        lo = b[i]; prev = c[i]
      }
    }'
}

# b_hist_bound NAME Q < metrics: the upper bound (ms) of the bucket holding the Q-quantile.
b_hist_bound() {
  awk -v n="$1_bucket" -v q="$2" '
    index($1, n "{le=\"") == 1 {
      le = $1; sub(/.*le="/, "", le); sub(/".*/, "", le); b[++k] = le; c[k] = $2 + 0
    }
    END {
      if (k == 0 || c[k] == 0) exit
      for (i = 1; i <= k; i++) if (c[i] >= q * c[k]) { print (b[i] == "+Inf" ? "+Inf" : 1000 * b[i]); exit }
    }'
}

# b_churn MODE BACKEND DISPATCH N MANIFEST_DIR EDIT_DIR RATE SECONDS
# One row of churn.csv: kpx under RATE endpoint changes per second for SECONDS (kpx-bench-churn,
# each change stamped with a fresh last-change-trigger-time), then
# kubeproxy_network_programming_duration_seconds from kpx's /metrics:
#   kernel,mode,runner,n,endpoints,rate_per_s,seconds,changes,churn_s,late_max_ms,observed,
#   mean_ms,p50_ms,p99_ms,p99_bucket_le_ms,syncs,sync_mean_ms,cpu_ms_per_change,rss_mib,
#   peak_rss_mib,log_p50_ms,log_p99_ms,log_max_ms
# mean: the histogram's sum / count (exact); p50/p99: from its buckets (bucket-derived); log_*:
# the same observations from kpx's -v=4 log line per change (exact; nearest-rank quantiles).
b_churn() {
  local mode=$1 backend=$2 dispatch=$3 n=$4 dir=$5 edit_dir=$6 rate=$7 secs=$8
  local label runner log m row k0 k1 s0 c0 s1 c1 cnt sum p50 p99 le99 syncs smean cpu i last
  local npd=kubeproxy_network_programming_duration_seconds
  local psync=kubeproxy_sync_partial_proxy_rules_duration_seconds
  label=$(b_mode_label "$mode" "$dispatch")
  runner=$backend
  [[ $mode == iptables ]] || runner=-
  log="$BLOGS/kpx-$BKERNEL-churn-$label-$runner-$n.log"
  cp "$edit_dir/edit-slice.a" "$dir/edit-slice.json"
  b_node_up
  # -v=4: kpx logs each change's network programming latency exactly (kube-proxy's V(4) line).
  B_KPX_V=4 b_start_synced "churn $label/$runner N=$n" controlplane_skipped.csv \
    "$BKERNEL,$label (churn),$runner,$n" "$mode" "$backend" "$dispatch" "$dir" "$log" || return 1
  m=$(b_metrics)
  c0=$(b_metric_value "${psync}_count" <<<"$m")
  s0=$(b_metric_value "${psync}_sum" <<<"$m")
  k0=$(b_cpu_ticks)
  b_log "churn $label/$runner N=$n: $rate changes/s for ${secs}s"
  if ! row=$("$CHURN" --dir "$dir" --edit-dir "$edit_dir" --rate "$rate" --seconds "$secs"); then
    b_emit controlplane_skipped.csv "$BKERNEL,$label (churn),$runner,$n,kpx-bench-churn failed"
    b_topo_down
    return 1
  fi
  # Until the last change is applied: no endpoint change pending and no sync for a second.
  last=-1
  for ((i = 0; i < EDIT_TIMEOUT * 10; i++)); do
    sleep 0.1
    m=$(b_metrics)
    c1=$(b_metric_value "${psync}_count" <<<"$m")
    if [[ $(b_metric_value kubeproxy_sync_proxy_rules_endpoint_changes_pending <<<"$m") == 0 ]] &&
      [[ $c1 == "$last" ]] && ((i % 10 == 9)); then
      break
    fi
    ((i % 10 == 9)) && last=$c1
  done
  k1=$(b_cpu_ticks)
  s1=$(b_metric_value "${psync}_sum" <<<"$m")
  cnt=$(b_metric_value "${npd}_count" <<<"$m")
  sum=$(b_metric_value "${npd}_sum" <<<"$m")
  p50=$(b_hist_quantile "$npd" 0.5 <<<"$m")
  p99=$(b_hist_quantile "$npd" 0.99 <<<"$m")
  le99=$(b_hist_bound "$npd" 0.99 <<<"$m")
  syncs=$((${c1:-0} - ${c0:-0}))
  smean=$(awk -v a="$s0" -v b="$s1" -v s="$syncs" 'BEGIN {if (s > 0) printf "%.1f", 1000 * (b - a) / s}')
  cpu=$(awk -v a="$k0" -v b="$k1" -v hz="$B_CLK_TCK" -v c="${row%%,*}" 'BEGIN {if (c > 0) printf "%.2f", 1000 * (b - a) / hz / c}')
  local mean exact
  mean=$(awk -v s="$sum" -v c="$cnt" 'BEGIN {if (c > 0) printf "%.1f", 1000 * s / c}')
  # The same observations, exactly, from kpx's log: p50/p99/max in ms.
  exact=$(sed -n 's/.* network programming of [^ ]* took \([-0-9.e+]*\) s$/\1/p' "$log" | sort -g |
    awk '{v[NR] = $1} END {if (NR) printf "%.1f,%.1f,%.1f", 1000 * v[int((NR + 1) / 2)], 1000 * v[int(0.99 * NR + 0.999)], 1000 * v[NR]; else printf ",,"}')
  b_log "churn $label/$runner N=$n: ${row%%,*} changes written, ${cnt:-0} observed; network programming mean ${mean:-?} ms, p50 ${p50:-?} ms, p99 ${p99:-?} ms (bucket le ${le99:-?} ms), exact p50,p99,max ${exact} ms; $syncs partial syncs of ${smean:-?} ms mean; kpx CPU ${cpu:-?} ms per change"
  b_emit churn.csv "$BKERNEL,$label,$runner,$n,10,$rate,$secs,$row,${cnt:-0},${mean:-},${p50:-},${p99:-},${le99:-},$syncs,${smean:-},${cpu:-},$(b_rss_now_mib),$(b_rss_mib),$exact"
  b_topo_down
}
