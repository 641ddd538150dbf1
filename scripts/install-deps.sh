#!/usr/bin/env bash
# Installs every Debian package kpx needs to build and test. Idempotent: packages already present
# are left alone and apt's lists are refreshed only when something is missing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build clang-format ccache
  libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libiptc-dev libip4tc-dev libip6tc-dev
  libcpprest-dev rapidjson-dev libgoogle-glog-dev libgflags-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev libssl-dev libnftnl-dev libmnl-dev
  iptables ipset iproute2 conntrack procps curl openssl
  # the ASan/UBSan + libFuzzer build (scripts/fuzz.sh, scripts/test.sh)
  clang libclang-rt-14-dev
  haproxy
  # bench/run: plots, and nft monitor to count the kernel objects an incremental sync writes
  gnuplot-nox nftables
)

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
