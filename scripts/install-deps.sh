#!/usr/bin/env bash
# Installs the Debian packages kpx needs. Idempotent: packages already present are left alone and
# apt's lists are refreshed (once) only when something is missing.
#   scripts/install-deps.sh          everything: build, run, test (what test.sh and demo.sh use)
#   scripts/install-deps.sh build    only what building kpx needs (the container image's builder)
#   scripts/install-deps.sh run      building kpx and running it on a node (demo.sh)
set -euo pipefail
group=${1:-all}

build_packages=(
  build-essential cmake pkg-config ninja-build ccache
  libnl-3-dev libnl-genl-3-dev libnl-route-3-dev libiptc-dev libip4tc-dev libip6tc-dev
  rapidjson-dev libgoogle-glog-dev libgflags-dev libgtest-dev libgmock-dev
  libyaml-cpp-dev libssl-dev libnetfilter-acct-dev libnftnl-dev libmnl-dev
  # kpx's own HTTP endpoints (proxier/server): bounded, IPv6, accept backoff
  libmicrohttpd-dev
  # the API client's transport (IPv6 servers, strict TLS names, proxies, keepalive)
  libcurl4-openssl-dev
)
# What kpx drives on a node, and what the demo's checks use.
run_packages=(iptables ipset iproute2 conntrack procps curl)
test_packages=(
  clang-format
  # kpx_ipv6 and kpx_http_limits hold ports and connections with small Python scripts
  python3
  openssl
  # the ASan/UBSan + libFuzzer build (scripts/fuzz.sh, scripts/test.sh)
  clang libclang-rt-14-dev
  haproxy
  # bench/run: plots, nft monitor to count the kernel objects an incremental sync writes, and GNU
  # time for the peak RSS of kube-proxy's layout loaded with nft -f (bash's `time` keyword has no %M)
  gnuplot-nox nftables time
)
case $group in
  build) packages=("${build_packages[@]}") ;;
  run) packages=("${build_packages[@]}" "${run_packages[@]}") ;;
  all) packages=("${build_packages[@]}" "${run_packages[@]}" "${test_packages[@]}") ;;
  *) echo "install-deps: unknown group '$group' (build, run or all)" >&2; exit 2 ;;
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
