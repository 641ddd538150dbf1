#!/usr/bin/env bash
# The dependency rules of the tree (README "Layout"), checked on the sources' includes:
#   - a mode (proxier/<mode>/) never includes another mode; what modes share lives in
#     proxier/netfilter/ (or proxier/core/);
#   - base/ includes nothing of the project but base/;
#   - k8s-watch/ never includes proxier/ or cmd/; proxier/ never includes cmd/ or k8s-watch/ beyond
#     the plain object structs in k8s-watch/objects/.
# Prints every offending include and fails if there is one.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
modes=(iptables ipvs userspace nftables)
bad=0
offend() { echo "layout: $1: $2"; bad=$((bad + 1)); }
# Prints "file:include" for every project include in the given directories.
includes() {
  grep -rHoE '^#include "[^"]+"' --include='*.h' --include='*.cc' "$@" 2>/dev/null |
    sed -E 's/:#include "([^"]+)"/:\1/'
}
checked=0
for m in "${modes[@]}"; do
  [[ -d proxier/$m ]] || continue
  while IFS=: read -r file inc; do
    checked=$((checked + 1))
    for other in "${modes[@]}"; do
      [[ $other == "$m" ]] && continue
      [[ $inc == proxier/$other/* ]] && offend "$file" "mode $m includes mode $other ($inc)"
    done
  done < <(includes "proxier/$m")
done
while IFS=: read -r file inc; do
  checked=$((checked + 1))
  [[ $inc == base/* ]] || offend "$file" "base/ includes $inc"
done < <(includes base)
while IFS=: read -r file inc; do
  checked=$((checked + 1))
  [[ $inc == proxier/* || $inc == cmd/* ]] && offend "$file" "k8s-watch/ includes $inc"
done < <(includes k8s-watch)
while IFS=: read -r file inc; do
  checked=$((checked + 1))
  [[ $inc == cmd/* ]] && offend "$file" "proxier/ includes $inc"
  [[ $inc == k8s-watch/* && $inc != k8s-watch/objects/* ]] && offend "$file" "proxier/ includes $inc"
done < <(includes proxier)
# A check that reads nothing proves nothing.
((checked > 100)) || { echo "layout: only $checked includes read from $root"; exit 1; }
echo "layout: $checked includes checked, $bad violations"
((bad == 0))
