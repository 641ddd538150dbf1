#!/usr/bin/env bash
# Smoke test of the qemu test VM (tests/vm/run-in-vm.sh):
#   1. IPVS + iptables-legacy + ipset + conntrack carry real TCP traffic inside the VM
#      (smoke-guest.sh);
#   2. the harness passes the guest command's exit status through;
#   3. the harness enforces its timeout (exit 124);
#   4. a guest that dies without reporting (kernel crash) fails with 125.
# Needs root (to prepare the kernel cache and packages); exits 77 (CTest SKIP_RETURN_CODE) with a
# message otherwise.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
skip=77

if ((EUID != 0)); then
  echo "SKIP: vm_smoke needs root (it installs qemu and fetches Debian's kernel); running as $(id -un)"
  exit "$skip"
fi

failures=0
check() { # check NAME EXPECTED_STATUS COMMAND...
  local name=$1 want=$2 got=0
  shift 2
  echo "=== vm_smoke: $name"
  "$@" || got=$?
  if ((got == want)); then
    echo "=== vm_smoke: $name: ok (status $got)"
  else
    echo "=== vm_smoke: $name: FAILED (status $got, expected $want)"
    failures=$((failures + 1))
  fi
}

run=("$here/run-in-vm.sh" --skip-exit-code "$skip")

check "ipvs and netfilter traffic" 0 \
  "${run[@]}" --timeout 240 --file "$here/smoke-guest.sh:/smoke-guest.sh" -- /bin/sh /smoke-guest.sh
# shellcheck disable=SC2016  # expanded by the guest shell
check "exit status passes through" 7 \
  "${run[@]}" --timeout 120 --env KPX_SMOKE_RC=7 -- sh -c 'exit "$KPX_SMOKE_RC"'
check "timeout is enforced" 124 \
  "${run[@]}" --timeout 8 -- sleep 600
check "a guest kernel crash is reported as a failed boot" 125 \
  "${run[@]}" --timeout 120 -- sh -c 'echo c >/proc/sysrq-trigger; sleep 60'

if ((failures > 0)); then
  echo "vm_smoke: $failures check(s) failed"
  exit 1
fi
echo "vm_smoke: all checks passed"
