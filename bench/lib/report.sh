#!/usr/bin/env bash
# Draws the plots and writes results.md from the CSV files bench/run left in OUT.
# Usage: report.sh OUT COMMAND_LINE QUICK(0|1) ELAPSED_S LOAD_BEFORE VM_STATUS [MEMORY_STATE]
set -euo pipefail
out=$1
cmdline=$2
quick=$3
elapsed=$4
load_before=$5
vm_status=$6
memory_state=${7:-as the machine gives it}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

lat=$out/dataplane_latency.csv
thr=$out/dataplane_throughput.csv
cp=$out/controlplane.csv
churn=$out/churn.csv

# series CSV KEYCOLS VALUECOL FILTER DIR: one data file per distinct key ("N value" sorted by N)
# in DIR, named after the key. KEYCOLS: comma-separated column numbers, joined with ":" in the
# name. N is the column named "n" in the header.
series() {
  local csv=$1 keys=$2 col=$3 filter=$4 dir=$5
  mkdir -p "$dir"
  awk -F, -v keys="$keys" -v col="$col" -v dir="$dir" "
    NR == 1 { for (i = 1; i <= NF; i++) if (\$i == \"n\") ncol = i; next }
    ($filter) && \$$col != \"\" {
      n = split(keys, k, \",\"); key = \$k[1]; for (i = 2; i <= n; i++) key = key \":\" \$k[i]
      print \$ncol + 0, \$col > (dir \"/\" key)
    }" "$csv"
  local f
  for f in "$dir"/*; do [[ -e $f ]] && sort -n -o "$f" "$f"; done
  return 0
}

# plot PNG TITLE YLABEL DIR [EXTRA_GNUPLOT]: every file of DIR as one line, x = N (log scale).
plot() {
  local png=$1 title=$2 ylabel=$3 dir=$4 extra=${5:-} f cmds=""
  {
    echo "set terminal pngcairo size 900,560 font ',10'"
    echo "set output '$png'"
    echo "set title \"$title\""
    echo "set xlabel 'services (N)'"
    echo "set ylabel \"$ylabel\""
    echo "set logscale x"
    echo "set xrange [5:40000]"
    echo "set grid"
    echo "set key outside right top"
    echo "$extra"
    local parts=()
    for f in "$dir"/*; do
      [[ -s $f ]] && parts+=("'$f' using 1:2 with linespoints title '$(basename "$f")'")
    done
    cmds=$(IFS=,; echo "${parts[*]}")
    if [[ -z $cmds ]]; then
      echo "set xrange [1:100000]"
      echo "set yrange [0:1]"
      echo "set label 'no data in this run' at 100,0.5"
      echo "plot NaN notitle"
    else
      echo "plot $cmds"
    fi
  } >"$tmp/plot.gp"
  gnuplot "$tmp/plot.gp" 2>"$tmp/gnuplot.err" || { cat "$tmp/gnuplot.err" >&2; return 1; }
}

# Data plane: connect() p50 and p99 to the last service, per mode, one plot per kernel.
for k in host vm; do
  series "$lat" 2 9 "\$1 == \"$k\" && \$4 == \"late\" && \$5 > 0" "$tmp/lat-$k-p50"
  series "$lat" 2 10 "\$1 == \"$k\" && \$4 == \"late\" && \$5 > 0" "$tmp/lat-$k-p99"
  for f in "$tmp/lat-$k-p50"/*; do [[ -e $f ]] && mv "$f" "$f p50"; done
  for f in "$tmp/lat-$k-p99"/*; do [[ -e $f ]] && mv "$f" "$tmp/lat-$k-p50/$(basename "$f") p99"; done
  kname=$([[ $k == host ]] && echo "host kernel $(uname -r)" || echo "qemu TCG VM, Debian kernel")
  plot "$out/dataplane_latency_$k.png" \
    "Connection setup (connect) latency to the last service vs N, $kname" "microseconds" \
    "$tmp/lat-$k-p50" "set logscale y"
done
series "$lat" 1,2 8 "\$4 == \"late\" && \$5 > 0" "$tmp/rate"
plot "$out/dataplane_connrate.png" "New connections per second to the last service (one client)" \
  "connections/s" "$tmp/rate" "set logscale y"
series "$thr" 1,2 8 "\$5 > 0" "$tmp/rr"
plot "$out/dataplane_throughput.png" "Requests per second on one established connection" \
  "requests/s" "$tmp/rr" "set logscale y"

# Control plane.
series "$cp" 1,2,3 6 "1" "$tmp/full"
plot "$out/controlplane_full_sync.png" "First full sync vs N (10 endpoints per service)" \
  "milliseconds" "$tmp/full" "set logscale y"
series "$cp" 1,2,3 8 "1" "$tmp/incr"
plot "$out/controlplane_incremental_sync.png" \
  "Incremental sync after one endpoint change vs N (median)" "milliseconds" "$tmp/incr" \
  "set logscale y; set arrow from graph 0, first 50 to graph 1, first 50 nohead dt 2 lc rgb 'red'; set label 'target 50 ms' at graph 0.02, first 60 tc rgb 'red'"
series "$cp" 1,2,3 13 "1" "$tmp/rss"
plot "$out/controlplane_rss.png" "kpx peak RSS (VmHWM) vs N (10 endpoints per service)" "MiB" \
  "$tmp/rss" "set logscale y; set arrow from graph 0, first 64 to graph 1, first 64 nohead dt 2 lc rgb 'red'; set label 'target 64 MiB' at graph 0.02, first 70 tc rgb 'red'"

# --- results.md ------------------------------------------------------------------------------
# val CSV FILTER COL: the first matching row's column (empty if none).
val() { awk -F, "NR > 1 && ($2) {print \$$3; exit}" "$1"; }
maxn() { awk -F, "NR > 1 && ($2) && \$3 + 0 > m {m = \$3 + 0} END {if (m) print m}" "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a / b}'; }

targets() {
  local k n r10 rn ratio_ipvs verdict
  echo "| target | measured | verdict |"
  echo "| --- | --- | --- |"
  # 1. IPVS latency flat.
  n=$(maxn "$lat" "\$1 == \"vm\" && \$2 == \"ipvs\" && \$4 == \"random\" && \$5 > 0")
  r10=$(val "$lat" "\$1 == \"vm\" && \$2 == \"ipvs\" && \$3 == 10 && \$4 == \"random\" && \$5 > 0" 9)
  rn=$(val "$lat" "\$1 == \"vm\" && \$2 == \"ipvs\" && \$3 == ${n:-0} && \$4 == \"random\" && \$5 > 0" 9)
  ratio_ipvs=$(ratio "$rn" "$r10")
  if [[ -z $ratio_ipvs ]]; then
    verdict="not measured"
  elif [[ $n != 20000 ]]; then
    verdict="not measured at 20 000 (largest N $n)"
  else
    verdict=$(awk -v r="$ratio_ipvs" 'BEGIN {print (r <= 1.10 ? "met" : "NOT met")}')
  fi
  echo "| IPVS connect latency at 20 000 services within 10% of at 10 (VM, random service, p50) | ${r10:-?} µs at 10, ${rn:-?} µs at ${n:-?}: x${ratio_ipvs:-?} | $verdict |"
  # 1a. IPVS one-endpoint sync end to end (VM) within 1.2x of its value at 100 (issue 14).
  awk -F, 'NR > 1 && $1 == "vm" && $2 == "ipvs" && $8 != "" {v[$4] = $8; if ($4 + 0 > m) m = $4 + 0}
    END {
      if (!(100 in v) || m <= 100) { print "| IPVS one-endpoint sync end to end within 1.2x of its value at 100 services (VM, x 10 endpoints) | not measured (needs N=100 and a larger N) | not measured |"; exit }
      w = 0; for (k in v) if (k + 0 > 100 && v[k] / v[100] > w) { w = v[k] / v[100]; at = k }
      printf "| IPVS one-endpoint sync end to end within 1.2x of its value at 100 services (VM, x 10 endpoints) | %s ms at 100, %s ms at %s (largest N %d): worst x%.2f at N=%s | %s |\n", v[100], v[m], m, m, w, at, (w <= 1.2 ? "met" : "NOT met")
    }' "$cp"
  # 1b. kpx's IPVS data plane within 1.05x of ipvsadm alone, at every N (issue 14).
  awk -F, 'NR > 1 && $1 == "vm" && ($2 == "ipvs" || $2 == "ipvs-floor") && $5 > 0 {
      p[$2, $3, $4] = $9; if ($2 == "ipvs-floor") ns[$3] = 1
    }
    END {
      for (k in ns) for (t = 1; t <= 3; t++) {
        tg = (t == 1 ? "early" : t == 2 ? "late" : "random")
        a = p["ipvs", k, tg]; b = p["ipvs-floor", k, tg]
        if (a > 0 && b > 0) { seen = 1; if (a / b > worst) { worst = a / b; at = k " (" tg " svc)" } }
      }
      if (!seen) { print "| kpx IPVS connect latency within 1.05x of the same services loaded by ipvsadm alone, every N (VM, p50) | not measured | not measured |"; exit }
      printf "| kpx IPVS connect latency within 1.05x of the same services loaded by ipvsadm alone, every N (VM, p50) | worst x%.2f at N=%s (table below) | %s |\n", worst, at, (worst <= 1.05 ? "met" : "NOT met")
    }' "$lat"
  # 1c. network programming latency p99 under churn (issue 14: reported; <= 100 ms for ipvs).
  if [[ -f $churn ]] && (($(wc -l <"$churn") > 1)); then
    awk -F, 'NR > 1 {
        who = who sep $1 " " $2 ($3 == "-" ? "" : "/" $3) " N=" $4 ": p99 " ($22 == "" ? "?" : $22) " ms (buckets: " ($14 == "" ? "?" : $14) " ms, le " $15 ")"; sep = "; "
        if ($2 == "ipvs") { ipvs = 1; if ($22 == "" || $22 + 0 > 100) bad = 1 }
      }
      END {
        verdict = !ipvs ? "ipvs not measured" : bad ? "NOT met (ipvs)" : "met (ipvs)"
        print "| kubeproxy_network_programming_duration_seconds p99 under 20 changes/s, <= 100 ms for ipvs (exact, from kpx'"'"'s per-change log; bucket-derived beside it) | " who " | " verdict " |"
      }' "$churn"
  else
    echo "| kubeproxy_network_programming_duration_seconds p99 under 20 changes/s, <= 100 ms for ipvs | not measured | not measured |"
  fi
  # 2. prefix-tree within 2x where linear is far worse.
  for k in host vm; do
    n=$(maxn "$lat" "\$1 == \"$k\" && \$2 == \"iptables-prefix-tree\" && \$4 == \"late\" && \$5 > 0")
    r10=$(val "$lat" "\$1 == \"$k\" && \$2 == \"iptables-prefix-tree\" && \$3 == 10 && \$4 == \"late\" && \$5 > 0" 9)
    rn=$(val "$lat" "\$1 == \"$k\" && \$2 == \"iptables-prefix-tree\" && \$3 == ${n:-0} && \$4 == \"late\" && \$5 > 0" 9)
    local pr lr l10 ln
    pr=$(ratio "$rn" "$r10")
    l10=$(val "$lat" "\$1 == \"$k\" && \$2 == \"iptables-linear\" && \$3 == 10 && \$4 == \"late\" && \$5 > 0" 9)
    ln=$(val "$lat" "\$1 == \"$k\" && \$2 == \"iptables-linear\" && \$3 == ${n:-0} && \$4 == \"late\" && \$5 > 0" 9)
    lr=$(ratio "$ln" "$l10")
    if [[ -z $pr ]]; then
      verdict="not measured"
    elif [[ $n != 20000 ]]; then
      verdict="$(awk -v r="$pr" 'BEGIN {print (r <= 2 ? "met" : "NOT met")}') at N=$n only (not 20 000)"
    else
      verdict=$(awk -v r="$pr" 'BEGIN {print (r <= 2 ? "met" : "NOT met")}')
    fi
    echo "| iptables prefix-tree connect latency within 2x of its latency at 10 services ($k, last service, p50) | prefix-tree ${r10:-?} → ${rn:-?} µs at N=${n:-?} (x${pr:-?}); linear ${l10:-?} → ${ln:-?} µs (x${lr:-?}) | $verdict |"
  done
  # 3-5. control plane at 10 000.
  awk -F, -v quick="$quick" '
    NR > 1 && $4 == 10000 {
      seen = 1
      who = $1 " " $2 "/" $3
      if ($8 != "") { incr = incr sep1 who " " $8 " ms"; sep1 = "; "; if ($8 + 0 >= 50) incr_bad = 1 } else { incr = incr sep1 who " ?"; sep1 = "; "; incr_bad = 1 }
      if ($2 ~ /^iptables/) { full = full sep2 who " " $6 " ms"; sep2 = "; "; if ($6 + 0 >= 1000 || $6 == "") full_bad = 1; full_seen = 1 }
      rss = rss sep3 who " " $13; sep3 = "; "; if ($13 + 0 >= 64 || $13 == "") rss_bad = 1
    }
    END {
      if (!seen) {
        print "| incremental sync at 10 000 services under 50 ms, every mode | not measured (no N=10 000 run) | not measured |"
        print "| full iptables sync of 10 000 services x 10 endpoints under 1 s | not measured | not measured |"
        print "| kpx peak RSS at 10 000 x 10 under 64 MiB | not measured | not measured |"
        exit
      }
      print "| incremental sync at 10 000 services under 50 ms, every mode | " incr " | " (incr_bad ? "NOT met" : "met") " |"
      print "| full iptables sync of 10 000 services x 10 endpoints under 1 s | " full " | " (!full_seen ? "not measured" : full_bad ? "NOT met" : "met") " |"
      print "| kpx peak RSS at 10 000 x 10 under 64 MiB | " rss " MiB | " (rss_bad ? "NOT met" : "met") " |"
    }' "$cp"
}

dataplane_table() {
  echo "| kernel | mode | N | conn/s (last svc) | connect p50/p99 µs: first svc | last svc | random svc | connect+request p50/p99 µs (last svc) | req/s established | errors |"
  echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F, '
    FNR == 1 { file++; next }
    file == 1 { k = $1 "," $2 "," $3; rr[k] = $8 }
    file == 2 {
      k = $1 "," $2 "," $3
      if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      p[k, $4] = $9 "/" $10; err[k] += $6
      if ($4 == "late") { rate[k] = $8; txn[k] = $11 "/" $12 }
    }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]; split(k, f, ",")
        printf "| %s | %s | %d | %.0f | %s | %s | %s | %s | %.0f | %d |\n", f[1], f[2], f[3], rate[k], p[k, "early"], p[k, "late"], p[k, "random"], txn[k], rr[k], err[k]
      }
    }' "$thr" "$lat"
}

# kpx's IPVS mode against the same services loaded by ipvsadm alone (VM): connect p50 per target
# and their ratio; the issue's target is within 1.05x at every N.
ipvs_floor_table() {
  echo "| N | connect p50 µs kpx ipvs / floor / floor+masq: first svc | last svc | random svc | kpx / floor (worst of the three) | kpx / floor+masq (worst) | p99 µs kpx / floor / floor+masq (random svc) |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F, 'NR > 1 && $1 == "vm" && ($2 == "ipvs" || $2 ~ /^ipvs-floor/) && $5 > 0 {
      k = $3; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      p50[$2, k, $4] = $9; p99[$2, k, $4] = $10
    }
    function v(x) { return x == "" ? "-" : x }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]; w1 = 0; w2 = 0; line = "| " k
        for (t = 1; t <= 3; t++) {
          tg = (t == 1 ? "early" : t == 2 ? "late" : "random")
          a = p50["ipvs", k, tg]; b = p50["ipvs-floor", k, tg]; c = p50["ipvs-floor-masq", k, tg]
          line = line " | " v(a) " / " v(b) " / " v(c)
          if (a > 0 && b > 0 && a / b > w1) w1 = a / b
          if (a > 0 && c > 0 && a / c > w2) w2 = a / c
        }
        r = v(p99["ipvs", k, "random"]) " / " v(p99["ipvs-floor", k, "random"]) " / " v(p99["ipvs-floor-masq", k, "random"])
        printf "%s | %s | %s | %s |\n", line, (w1 > 0 ? sprintf("x%.2f", w1) : "-"), (w2 > 0 ? sprintf("x%.2f", w2) : "-"), r
      }
    }' "$lat"
}

# kpx's rules against the masquerade floor's on one IPVS state, alternating rounds (VM).
ipvs_ab_table() {
  echo "| N | rounds | connect p50 µs, median of the rounds: kpx / kpx-plain / masq | kpx / masq (median of the rounds' ratios; min - max) | kpx-plain / masq (median; min - max) | conns per round (kpx) |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F, 'NR > 1 && $5 > 0 {
      k = $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      p[k, $3, $4] = $9; if ($3 > rounds[k]) rounds[k] = $3
      if ($4 == "kpx") { c[k] += $5; cn[k]++ }
    }
    function med(a, m,   i, j, x) {
      for (i = 2; i <= m; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    function col(k, v,   r, m, a) {
      m = 0; for (r = 1; r <= rounds[k]; r++) if (p[k, r, v] > 0) a[++m] = p[k, r, v]
      return m ? sprintf("%.0f", med(a, m)) : "-"
    }
    function ratio(k, v,   r, m, a, lo, hi) {
      m = 0; lo = 1e9; hi = 0
      for (r = 1; r <= rounds[k]; r++) if (p[k, r, v] > 0 && p[k, r, "masq"] > 0) {
        a[++m] = p[k, r, v] / p[k, r, "masq"]; if (a[m] < lo) lo = a[m]; if (a[m] > hi) hi = a[m]
      }
      return m ? sprintf("x%.3f (x%.2f - x%.2f)", med(a, m), lo, hi) : "-"
    }
    END {
      for (i = 1; i <= n; i++) {
        k = order[i]
        printf "| %s | %d | %s / %s / %s | %s | %s | %.0f |\n", k, rounds[k], col(k, "kpx"), col(k, "kpx-plain"), col(k, "masq"), ratio(k, "kpx"), ratio(k, "kpx-plain"), (cn[k] ? c[k] / cn[k] : 0)
      }
    }' "$out/dataplane_ab.csv"
}

controlplane_table() {
  echo "| kernel | mode | runner | N | first full sync ms | kpx start to synced s | incremental sync ms (median / max) | kpx CPU ms per change | written per change | rules (nat) / virtual servers | RSS / peak MiB |"
  echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
  awk -F, 'NR > 1 {printf "| %s | %s | %s | %d | %s | %s | %s / %s | %s | %s %s | %s | %s / %s |\n", $1, $2, $3, $4, $6, $7, $8, $9, ($14 == "" ? "-" : $14), $10, $11, $12, ($15 == "" ? "-" : $15), $13}' "$cp"
}

# kpx's own CPU per one-endpoint sync, against its value at N = 1 000 of the same mode and runner
# (issue 14: at most 5 ms, and at most 1.5x that value; iptables without the table hand-off).
own_cpu_table() {
  echo "| kernel | mode | runner | N x 10 | partial syncs | sync thread CPU ms (median) | kpx's own CPU ms (median / max) | own x its value at N=1000 |"
  echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
  awk -F, 'NR > 1 {r[++k] = $0; if ($4 == 1000) base[$1 "," $2 "," $3] = $7}
    END {
      for (i = 1; i <= k; i++) {
        split(r[i], f, ",")
        b = base[f[1] "," f[2] "," f[3]]
        printf "| %s | %s | %s | %d | %d | %.3f | %.3f / %.3f | %s |\n", f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], (b > 0 ? sprintf("x%.2f", f[7] / b) : "-")
      }
    }' "$out/own_cpu.csv"
}

# Whole-table runners against the kernel's own replace of the same tables (issue 14: libiptc
# within 1.2x of it).
xt_floor_table() {
  echo "| kernel | mode | runner | N x 10 | incremental sync ms (median) | x_tables floor ms (filter+nat replaced unchanged) | sync / floor | floor's counters hand-over ms | kernel replace inside kpx's own syncs ms (median) | sync / that (median) | counters call for kpx's syncs ms (median; libiptc: after the sync returned) | sync / the kernel calls inside it (median) | table MiB |"
  echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F, 'NR > 1 && $17 != "" {printf "| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.1f |\n", $1, $2, $3, $4, $8, $17, ($17 > 0 && $8 != "" ? sprintf("x%.2f", $8 / $17) : "-"), ($21 == "" ? "-" : $21), ($19 == "" ? "-" : $19), ($20 == "" ? "-" : "x" $20), ($22 == "" ? "-" : $22), ($23 == "" ? "-" : "x" $23), $18 / 1048576}' "$cp"
}

# The libiptc runner's first full sync against the kernel's replace inside it (issue 14: <= 2x).
xt_first_sync_table() {
  echo "| kernel | mode | runner | N x 10 | first full sync ms | kernel replace inside it ms | sync / that |"
  echo "| --- | --- | --- | ---: | ---: | ---: | ---: |"
  awk -F, 'NR > 1 && $24 != "" {printf "| %s | %s | %s | %d | %s | %s | x%s |\n", $1, $2, $3, $4, $6, $24, $25}' "$cp"
}

# IPVS one-endpoint sync end to end in the VM, against its value at N = 100 (issue 14: <= 1.2x).
ipvs_sync_table() {
  echo "| N x 10 | incremental sync ms (median / max) | x its value at N=100 | edit to sync logged ms | x its value at N=100 | kpx CPU ms per change | IPVS operations per change | RSS / peak MiB |"
  echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F, 'NR > 1 && $1 == "vm" && $2 == "ipvs" {n[++k] = $4; row[$4] = $0; if ($4 == 100) { base = $8; wbase = $16 }}
    END {
      for (i = 1; i <= k; i++) {
        split(row[n[i]], f, ",")
        printf "| %d | %s / %s | %s | %s | %s | %s | %s | %s / %s |\n", f[4], f[8], f[9], (base > 0 && f[8] != "" ? sprintf("x%.2f", f[8] / base) : "-"), (f[16] == "" ? "-" : f[16]), (wbase > 0 && f[16] != "" ? sprintf("x%.2f", f[16] / wbase) : "-"), (f[14] == "" ? "-" : f[14]), f[10], (f[15] == "" ? "-" : f[15]), f[13]
      }
    }' "$cp"
}

nft=$out/nftables_controlplane.csv

# The nftables section: kpx's nftables mode beside kube-proxy's layout through nft -f.
nftables_section() {
  echo "## nftables mode vs kube-proxy's nftables layout"
  echo
  echo "kpx-nftables: \`kpx --mode=nftables\` (libnftnl/libmnl in process). kube-proxy layout: the"
  echo "ruleset kube-proxy 1.35/1.36 writes for the same Services (per service and per endpoint"
  echo "chains, numgen vmaps; generated by \`kpx-bench-kpnft\`), loaded with \`nft -f\` as kube-proxy"
  echo "does. First sync: kpx's first full sync / \`nft -f\` of the whole ruleset into an empty"
  echo "namespace. One change: one endpoint of one service replaced; kpx from sync start to the"
  echo "kernel's ACK, kube-proxy layout the \`nft -f\` of its incremental transaction (process wall"
  echo "time). Floor: a minimal libnftnl loop (\`kpx-nft-floor --resizable-hint\`) committing as many"
  echo "elements as kpx holds into one map declared with their number, commit time only (since"
  echo "2026-12-03 23:10; before, into an undeclared map). kpx's compute is CPU time (the wall time moves with the machine's"
  echo "load); kernel is its commits' wall time."
  echo
  echo "| impl | N x 10 | first sync ms | of which: compute CPU ms / kernel ms | elements | kernel floor ms | one change p50 / p99 ms (changes) | RSS / peak MiB |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  awk -F, 'NR > 1 {printf "| %s | %d | %s | %s / %s | %s | %s | %s / %s (%s) | %s / %s |\n", $2, $3, $5, ($6 == "" ? "-" : $6), ($7 == "" ? "-" : $7), ($8 == "" ? "-" : $8), ($9 == "" ? "-" : $9), $11, $12, $10, ($13 == "" ? "-" : $13), $14}' "$nft"
  echo
  echo "Connect latency (p50/p99 µs, one client, new connection each):"
  echo
  echo "| impl | N | connect p50/p99 µs: first svc | last svc | random svc | conn/s (last svc) |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  awk -F, 'NR > 1 && ($2 == "nftables" || $2 ~ /^kube-proxy-nft/) {
      k = $2 "," $3
      if (!(k in seen)) { seen[k] = 1; order[++n] = k }
      p[k, $4] = $9 "/" $10
      if ($4 == "late") rate[k] = $8
    }
    END {
      for (i = 1; i <= n; i++) {
        split(order[i], f, ",")
        printf "| %s | %d | %s | %s | %s | %.0f |\n", f[1], f[2], p[order[i], "early"], p[order[i], "late"], p[order[i], "random"], rate[order[i]]
      }
    }' "$lat"
}

skipped() {
  local f
  for f in "$out/dataplane_skipped.csv" "$out/controlplane_skipped.csv"; do
    awk -F, 'NR > 1 {$1 = $1; print "- " $0}' OFS=' ' "$f"
  done
}

{
  echo "# kpx benchmark results"
  echo
  echo "Produced by \`$cmdline\` on $(date -u '+%Y-%m-%d %H:%M UTC') in ${elapsed} s."
  echo "Host: $(nproc) CPUs, kernel $(uname -r), load average before the run $load_before, after $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "VM part (qemu TCG, one vCPU, Debian's kernel with IPVS): $vm_status."
  echo "Host memory: $memory_state."
  if ((quick)); then
    echo
    echo "**Quick run** (smoke test): small N and short measurements; the numbers show that"
    echo "everything runs, not what kpx can do. Targets at 10 000 / 20 000 services are not measured."
  fi
  echo
  echo "How to read it: \"connect\" is the TCP handshake as the client sees it (the SYN is what walks"
  echo "the NAT rules or IPVS); \"connect+request\" adds one 64-byte request/response (through a"
  echo "userspace proxy that includes the proxy's own upstream connect). One client, one connection at"
  echo "a time, each closed with a reset. The machine is shared (2 cores), so absolute numbers move by"
  echo "tens of percent between runs; compare modes within one kernel, and ratios across N. VM"
  echo "numbers are ~10-50x slower than native (TCG emulation): compare shapes and ratios there."
  echo
  echo "## Targets"
  echo
  targets
  echo
  echo "## Data plane"
  echo
  dataplane_table
  echo
  if grep -q '^vm,ipvs-floor,' "$lat"; then
    echo "### IPVS: kpx against the kernel's floor (VM)"
    echo
    echo "ipvs-floor: the same virtual servers and real servers loaded with \`ipvsadm -R\` alone in the"
    echo "same VM boot (no kpx, no iptables rules or ipsets, IPVS sysctls at the kernel's defaults)."
    echo "ipvs-floor-masq: the same plus kpx's IPVS sysctls (vs/conntrack=1 and friends) and one nat"
    echo "rule masquerading IPVS traffic, what any kube-proxy-style IPVS node needs for this client"
    echo "(outside the cluster CIDR): kpx / floor+masq is kpx's own overhead, floor+masq / floor the"
    echo "kernel's for conntrack and NAT. Debian 6.1's IPVS service table has 256 fixed buckets"
    echo "(IP_VS_SVC_TAB_BITS 8), so the lookup grows with N for all of them."
    echo
    ipvs_floor_table
    echo
  fi
  if [[ -f $out/dataplane_ab.csv ]] && (($(wc -l <"$out/dataplane_ab.csv") > 1)); then
    echo "### IPVS: kpx's rules against the masquerade floor, alternating on one IPVS state (VM)"
    echo
    echo "kpx syncs once; then its iptables rules (kpx), the same with plain MASQUERADE instead of"
    echo "--random-fully (kpx-plain), and one nat rule masquerading IPVS traffic (masq) are restored in"
    echo "turn under the same virtual servers, ipsets, sysctls and running kpx, one measurement of the"
    echo "random service each per round. Paired rounds cancel the host's drift, which between"
    echo "separate phases exceeds the 5 % being judged."
    echo
    ipvs_ab_table
    echo
  fi
  echo "## Control plane (10 endpoints per service, one endpoint changed per incremental sync)"
  echo
  echo "\"written per change\": what one incremental sync hands the kernel. nft: objects (rules and"
  echo "chains) added/deleted as \`nft monitor\` sees them; legacy and libiptc: every rule of the nat"
  echo "and filter tables, because those backends replace whole tables; ipvs: IPVS operations (kpx's"
  echo "log), ipset/iptables changes not included. RSS is kpx's own (VmHWM); exec runners' child"
  echo "processes are not in it."
  echo
  controlplane_table
  if awk -F, 'NR > 1 && $17 != "" {f = 1} END {exit !f}' "$cp"; then
    echo
    echo "### Whole-table runners against the kernel's floor"
    echo
    echo "\`kpx-xt-floor\` reads the IPv4 filter and nat tables kpx left (IPT_SO_GET_ENTRIES) and hands"
    echo "them back unchanged (IPT_SO_SET_REPLACE), in kpx's namespace after its edits: the kernel's own"
    echo "cost of the whole-table replace every legacy or libiptc commit makes (median of 3, replace"
    echo "calls only). Issue 14's target for libiptc: the incremental sync within 1.2x of it."
    echo
    xt_floor_table
    if awk -F, 'NR > 1 && $24 != "" {found = 1} END {exit !found}' "$cp"; then
      echo
      echo "The first full sync (libiptc) turns the node's nearly empty tables into the full ones; its"
      echo "floor is the kernel's replace inside that very sync (from kpx's -v=2 lines). Issue 14's"
      echo "target: within 2x of it."
      echo
      xt_first_sync_table
    fi
  fi
  if [[ -f $out/own_cpu.csv ]] && (($(wc -l <"$out/own_cpu.csv") > 1)); then
    echo
    echo "### kpx's own CPU per one-endpoint sync"
    echo
    echo "From kpx's -v=2 lines: the sync thread's CPU time per partial sync (CLOCK_THREAD_CPUTIME_ID:"
    echo "user and system, to the microsecond; the kernel's work on kpx's syscalls included). For the"
    echo "iptables modes kpx's own part leaves out each family's restore, the whole-table hand-off that"
    echo "x_tables forces (the runner's encoding and the kernel's replace for libiptc; writing the text"
    echo "and waiting for the child for legacy); in the other modes it is the whole sync. Issue 14's"
    echo "target: at most 5 ms at 10 000 x 10, and at most 1.5x the value at 1 000."
    echo
    own_cpu_table
  fi
  if grep -q '^vm,ipvs,' "$cp"; then
    echo
    echo "### IPVS one-endpoint sync end to end (VM)"
    echo
    echo "Incremental sync: kpx's partial-sync histogram (its Apply, the measure of the other control-plane"
    echo "rows). Edit to sync logged: wall time from renaming the edited slice file over the old one"
    echo "until kpx logs the sync (polled every 20 ms; inotify, parsing the file and the runner"
    echo "included). Both against their value at N=100 (issue 14's target: at most 1.2x; the verdict"
    echo "uses the histogram). kpx CPU: its process CPU over the same span (/proc ticks of 10 ms)."
    echo
    ipvs_sync_table
  fi
  if [[ -f $churn ]] && (($(wc -l <"$churn") > 1)); then
    echo
    echo "## Network programming latency under endpoint churn"
    echo
    echo "\`kpx-bench-churn\` rewrites one EndpointSlice (one endpoint flipping) at a fixed rate, each"
    echo "version stamped with a fresh \`endpoints.kubernetes.io/last-change-trigger-time\` as the"
    echo "EndpointSlice controller stamps changes; kpx, like kube-proxy, observes"
    echo "\`kubeproxy_network_programming_duration_seconds\` from that stamp to the sync that applied"
    echo "the change. Mean: the histogram's sum / count. p50 / p99 from the buckets: **bucket-derived**"
    echo "(linear inside the bucket, as Prometheus' histogram_quantile); kube-proxy's buckets start at"
    echo "0.25 s, so a figure inside the first bucket only says \"under 250 ms\" (the bound is shown)."
    echo "Exact: the same observations from kpx's -v=4 line per change (kube-proxy logs the same at"
    echo "V(4)), nearest-rank. Late: how far the writer fell behind its schedule (the machine is"
    echo "shared). CPU: kpx's process CPU over the churn divided by the changes."
    echo
    echo "| kernel | mode | runner | N x 10 | changes/s x s (written, late max ms) | observed | mean ms | exact p50 / p99 / max ms | bucket-derived p50 / p99 ms (p99 bucket le ms) | partial syncs (mean ms) | kpx CPU ms per change | RSS / peak MiB |"
    echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    awk -F, 'NR > 1 {printf "| %s | %s | %s | %d | %s x %s (%s, %s) | %s | %s | %s / %s / %s | %s / %s (%s) | %s (%s) | %s | %s / %s |\n", $1, $2, $3, $4, $6, $7, $8, $10, $11, $12, $21, $22, $23, $13, $14, $15, $16, $17, $18, $19, $20}' "$churn"
  fi
  if [[ -f $nft ]] && (($(wc -l <"$nft") > 1)); then
    echo
    nftables_section
  fi
  if [[ $(skipped | wc -l) -gt 0 ]]; then
    echo
    echo "## Not measured"
    echo
    skipped
  fi
  echo
  echo "## Plots"
  echo
  for p in dataplane_latency_host dataplane_latency_vm dataplane_connrate dataplane_throughput \
    controlplane_full_sync controlplane_incremental_sync controlplane_rss; do
    echo "![$p]($p.png)"
  done
} >"$out/results.md"
