#!/usr/bin/env bash
# Builds kpx in every usual build type with the system compiler (gcc) and once with clang, each in
# its own directory (build-matrix/<name>), the way a user or packager configures it: plain cmake
# with only CMAKE_BUILD_TYPE (and the compiler). KPX_MATRIX_WERROR=ON (default) adds
# -DKPX_WERROR=ON, so any warning in any configuration fails. Prints one line per configuration
# and "N passed, M failed". Usage: scripts/build-matrix.sh [NAME...]   (default: all of them)
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null || exit 1
werror=${KPX_MATRIX_WERROR:-ON}
# As in build.sh: paths inside the checkout hash the same from any clone (shared ccache).
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
configs=(Debug Release RelWithDebInfo MinSizeRel clang)
(($# > 0)) && configs=("$@")
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
mkdir -p build-matrix
passed=0
failed=0
for name in "${configs[@]}"; do
  dir=build-matrix/$name
  args=(-DKPX_WERROR="$werror")
  case $name in
    clang) args+=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++) ;;
    *) args+=(-DCMAKE_BUILD_TYPE="$name") ;;
  esac
  start=$SECONDS
  if cmake -S . -B "$dir" "${generator[@]}" "${args[@]}" >"$dir.log" 2>&1 &&
    cmake --build "$dir" -j "${JOBS:-$(nproc)}" >>"$dir.log" 2>&1; then
    echo "build-matrix: $name: ok ($((SECONDS - start)) s)"
    passed=$((passed + 1))
  else
    echo "build-matrix: $name: FAILED ($((SECONDS - start)) s); last lines of $dir.log:"
    grep -E 'error|warning' "$dir.log" | head -10
    failed=$((failed + 1))
  fi
done
echo "build-matrix: $passed passed, $failed failed"
((failed == 0))
