#!/usr/bin/env bash
# Configures and builds kpx into BUILD_DIR (default: build). Extra arguments go to cmake;
# BUILD_TARGETS limits the build to some targets.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# Paths inside the checkout hash the same from any clone, so stages and checkouts share ccache.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
# The project's own builds treat warnings as errors (a plain cmake configure does not).
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DKPX_WERROR=ON "$@"
else
  cmake -S . -B "$build_dir" -DKPX_WERROR=ON "$@" >/dev/null
fi
# BUILD_TARGETS: only these targets (e.g. "kpx"); default everything.
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" -j "$jobs" "${targets[@]}"
