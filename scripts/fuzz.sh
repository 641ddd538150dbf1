#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for a bounded time over its
# corpus in tests/fuzz/corpus/<target>. New interesting inputs go to a scratch directory (copy the
# ones worth keeping into the corpus by hand); a crash fails the run and leaves its input in
# $FUZZ_OUT. Prints per target: executions and findings.
#   FUZZ_SECONDS (default 30) per target, FUZZ_OUT (default build-fuzz/findings).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-30}
build=${FUZZ_BUILD_DIR:-build-fuzz}
out=${FUZZ_OUT:-$build/findings}
targets=(object_decoder_fuzzer manifest_fuzzer config_file_fuzzer kubeconfig_fuzzer
         watch_stream_fuzzer rules_fuzzer)

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O1 -DKPX_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j "${JOBS:-$(nproc)}" --target "${targets[@]}"
mkdir -p "$out"
failed=0
total_execs=0
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  log=$out/$t.log
  set +e
  "$build/tests/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$out/$t-" -print_final_stats=1 "$scratch" "$root/tests/fuzz/corpus/$t" \
    >"$log" 2>&1
  rc=$?
  set -e
  execs=$(awk '/stat::number_of_executed_units/ {print $NF}' "$log")
  new=$(find "$scratch" -type f | wc -l)
  rm -rf "$scratch"
  total_execs=$((total_execs + ${execs:-0}))
  if ((rc != 0)); then
    failed=$((failed + 1))
    echo "fuzz: $t FAILED (exit $rc) after ${execs:-?} executions; see $log"
    grep -E 'ERROR|SUMMARY|artifact' "$log" | head -5 || true
  else
    echo "fuzz: $t: ${execs:-?} executions in ${seconds}s, 0 findings, $new new corpus inputs"
  fi
done
echo "fuzz: $total_execs executions over ${#targets[@]} targets, $failed with findings"
((failed == 0))
