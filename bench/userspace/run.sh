#!/usr/bin/env bash
# Compares kpx's userspace relay with HAProxy (mode tcp) on the same backend with the same client:
#   bulk: throughput of long streaming connections (MiB/s, backend -> client, 4 connections)
#   conn: rate of short connections (conn/s: connect, 1-byte request, 64-byte reply, close;
#         32 in flight)
# each with 1 and 2 proxy threads (kpx --workers, HAProxy nbthread). Every measurement runs in a
# fresh private network namespace on its loopback (no TIME_WAIT carried over, nothing shared with
# the host), with kpx-loadgen as backend and client. Results: DIR/results.csv (every run) and
# DIR/summary.md (medians and kpx/HAProxy ratios).
#
# Usage: bench/userspace/run.sh [--quick] [--out DIR] [--build DIR] [--haproxy-splice]
#   --quick           1 run of 2 s per cell instead of 3 runs of 5 s
#   --haproxy-splice  also measure HAProxy with "option splice-auto" (kernel splicing, like kpx)
# Needs root (network namespaces) and haproxy (scripts/install-deps.sh installs it).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$root/build
out=""
seconds=5
runs=3
variants=(kpx haproxy)
while (($# > 0)); do
  case $1 in
    --quick) seconds=2; runs=1 ;;
    --out) out=$2; shift ;;
    --build) build=$2; shift ;;
    --haproxy-splice) variants+=(haproxy-splice) ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
out=${out:-$build/bench-userspace}
[[ $(id -u) == 0 ]] || { echo "run.sh: needs root for network namespaces" >&2; exit 1; }
command -v haproxy >/dev/null || { echo "run.sh: haproxy missing (scripts/install-deps.sh)" >&2; exit 1; }
if [[ ! -f $build/build.ninja && ! -f $build/Makefile ]]; then
  cmake -S "$root" -B "$build" -G Ninja >/dev/null
fi
cmake --build "$build" --target kpx-loadgen kpx-relay-bench -j2 >/dev/null
loadgen=$build/bench/userspace/kpx-loadgen
relay=$build/bench/userspace/kpx-relay-bench
mkdir -p "$out"
work=$(mktemp -d)
ns=""
pids=()

cleanup() {
  local p
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  pids=()
  [[ -n $ns ]] && ip netns del "$ns" 2>/dev/null
  ns=""
}
trap 'cleanup; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM

# wait_for FILE PATTERN: until a line of FILE matches (5 s at most).
wait_for() {
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "run.sh: timed out waiting for '$2' in $1" >&2
  cat "$1" >&2
  return 1
}

# measure VARIANT TEST THREADS RUN -> prints the value
measure() {
  local variant=$1 test=$2 threads=$3 run=$4 port conns
  rm -f "$work/server" "$work/proxy" "$work/client"
  ns="kpxbench-$$-$run"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
  ip netns exec "$ns" "$loadgen" server --listen 127.0.0.1:9001 >"$work/server" 2>&1 &
  pids+=($!)
  wait_for "$work/server" ready
  case $variant in
    kpx)
      ip netns exec "$ns" "$relay" --workers "$threads" --backend 127.0.0.1:9001 >"$work/proxy" 2>&1 &
      pids+=($!)
      wait_for "$work/proxy" '^port '
      port=$(awk '/^port /{print $2}' "$work/proxy")
      ;;
    haproxy*)
      local splice=""
      [[ $variant == haproxy-splice ]] && splice="  option splice-auto"
      cat >"$work/haproxy.cfg" <<CFG
global
  nbthread $threads
  maxconn 4000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
$splice
frontend bench
  bind 127.0.0.1:9100
  default_backend servers
backend servers
  server s1 127.0.0.1:9001
CFG
      ip netns exec "$ns" haproxy -db -f "$work/haproxy.cfg" >"$work/proxy" 2>&1 &
      pids+=($!)
      port=9100
      local i
      for ((i = 0; i < 100; i++)); do
        ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && break
        sleep 0.05
      done
      ;;
  esac
  conns=4
  [[ $test == conn ]] && conns=32
  local proxy_pid=${pids[-1]} cpu0 cpu1 value
  kill -0 "$proxy_pid" 2>/dev/null || { echo "run.sh: $variant did not start:" >&2; cat "$work/proxy" >&2; return 1; }
  cpu0=$(cpu_ticks "$proxy_pid")
  ip netns exec "$ns" "$loadgen" "$test" --target "127.0.0.1:$port" --conns "$conns" \
    --seconds "$seconds" >"$work/client" 2>&1 || { cat "$work/client" >&2; return 1; }
  cpu1=$(cpu_ticks "$proxy_pid")
  cleanup
  value=$(awk '{print $2}' "$work/client")
  if awk '$3 == "errors" && $4 > 0 { exit 1 }' "$work/client"; then :; else
    echo "run.sh: $variant $test: client saw errors: $(cat "$work/client")" >&2
  fi
  # value, proxy CPU seconds per wall second, and value per proxy CPU second.
  awk -v v="$value" -v t=$((cpu1 - cpu0)) -v hz="$(getconf CLK_TCK)" -v s="$seconds" \
    'BEGIN { c = t / hz / s; printf "%s,%.3f,%.0f\n", v, c, (c > 0 ? v / c : 0) }'
}

# cpu_ticks PID: user+system clock ticks of the whole process (every thread).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

csv=$out/results.csv
load=$(cut -d" " -f1 /proc/loadavg)
echo "test,threads,proxy,run,value,unit,proxy_cpus,value_per_proxy_cpu_second" >"$csv"
for test in bulk conn; do
  unit=MiB/s
  [[ $test == conn ]] && unit=conn/s
  for threads in 1 2; do
    for ((run = 1; run <= runs; run++)); do
      # Alternate the order so neither proxy always runs on a warmer machine.
      order=("${variants[@]}")
      ((run % 2 == 0)) && mapfile -t order < <(printf '%s\n' "${variants[@]}" | tac)
      for variant in "${order[@]}"; do
        # Not in a subshell: the EXIT trap must see the namespace and processes measure made.
        measure "$variant" "$test" "$threads" "$run" >"$work/result"
        IFS=, read -r value cpus per_cpu <"$work/result"
        echo "$test,$threads,$variant,$run,$value,$unit,$cpus,$per_cpu" >>"$csv"
        echo "$test threads=$threads $variant run $run: $value $unit, proxy used $cpus CPUs ($per_cpu $unit per CPU)" >&2
      done
    done
  done
done

# Medians and ratios: COLUMN 5 is the rate, COLUMN 8 the rate per proxy CPU-second.
table() {
  local col=$1 header="| test | threads | kpx |" rule="|---|---|---|" v test threads
  for v in "${variants[@]:1}"; do header+=" $v | kpx/$v |"; rule+="---|---|"; done
  echo "$header"
  echo "$rule"
  for test in bulk conn; do
    for threads in 1 2; do
      awk -F, -v t="$test" -v n="$threads" -v vs="${variants[*]}" -v col="$col" '
        function median(arr, k,   i, j, tmp) {
          for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (arr[j] < arr[i]) { tmp = arr[i]; arr[i] = arr[j]; arr[j] = tmp }
          return (k % 2) ? arr[(k + 1) / 2] : (arr[k / 2] + arr[k / 2 + 1]) / 2
        }
        NR > 1 && $1 == t && $2 == n { c[$3]++; v[$3, c[$3]] = $col; unit = $6 }
        END {
          nn = split(vs, names, " ")
          for (x = 1; x <= nn; x++) { k = c[names[x]]; for (i = 1; i <= k; i++) a[i] = v[names[x], i]; m[names[x]] = median(a, k) }
          s = sprintf("| %s (%s) | %s | %.0f |", t, unit, n, m["kpx"])
          for (x = 2; x <= nn; x++) s = s sprintf(" %.0f | %.2f |", m[names[x]], m[names[x]] > 0 ? m["kpx"] / m[names[x]] : 0)
          print s
        }' "$csv"
    done
  done
}
{
  echo "# kpx userspace relay vs HAProxy $(haproxy -v | head -1 | awk '{print $3}')"
  echo
  echo "$(nproc) CPUs (load average before the run: $load), $runs run(s) of ${seconds}s per cell, medians."
  echo "Client (kpx-loadgen), backend (kpx-loadgen server) and proxy share the machine, so the"
  echo "rates also measure how much CPU the proxy leaves to them. bulk: 4 streaming connections,"
  echo "backend to client; conn: 32 short connections in flight (connect, 1-byte request, 64-byte"
  echo "reply, close)."
  echo
  echo "## Rate"
  echo
  table 5
  echo
  echo "## Rate per CPU-second the proxy itself used"
  echo
  echo "Robust against other load on the machine: how much work each proxy does per unit of CPU."
  echo
  table 8
} >"$out/summary.md"
cat "$out/summary.md"
