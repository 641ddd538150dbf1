#!/usr/bin/env bash
# Installs what kpx needs, builds it and runs the whole test suite (unit, integration in network
# namespaces, and the IPVS tests in a qemu VM). Run as root on Debian bookworm.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Debian's own kernel for the IPVS tests in qemu (this host kernel has no IPVS); cached.
scripts/vm/prepare-kernel.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
# Integration tests create network namespaces and VMs: run them one at a time on a small machine.
ctest --output-on-failure --timeout 900 "$@"
