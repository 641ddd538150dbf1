#!/usr/bin/env bash
# Installs the Debian packages kpx needs. Idempotent: packages already present are left alone and
# apt's lists are refreshed (once) only when something is missing.
#   scripts/install-deps.sh          everything: build, run, test (what test.sh and demo.sh use)
#   scripts/install-deps.sh build    only what building kpx needs (the container image's builder)
set -euo pipefail
group=${1:-all}

build_packages=(
  build-essential cmake pkg-config ninja-build ccache
  libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libiptc-dev libip4tc-dev libip6tc-dev
  libcpprest-dev rapidjson-dev libgoogle-glog-dev libgflags-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev libssl-dev
)
test_packages=(
  clang-format
  iptables ipset iproute2 conntrack procps curl openssl
  # the ASan/UBSan + libFuzzer build (scripts/fuzz.sh, scripts/test.sh)
  clang libclang-rt-14-dev
  haproxy
  # bench/run: plots, and nft monitor to count the kernel objects an incremental sync writes
  gnuplot-nox nftables
)
case $group in
  build) packages=("${build_packages[@]}") ;;
  all) packages=("${build_packages[@]}" "${test_packages[@]}") ;;
  *) echo "install-deps: unknown group '$group' (build or all)" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "install-deps: all ${#packages[@]} packages present"
