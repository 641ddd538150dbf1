# shellcheck shell=bash
# Minimal assertions for shell integration tests. Each check prints PASS/FAIL with its name; the
# test ends with check_summary, which prints "N passed, M failed" and sets the exit status.
CHECK_PASSED=0
CHECK_FAILED=0

# check NAME COMMAND...: passes when COMMAND exits 0.
check() {
  local name=$1
  shift
  if "$@"; then
    CHECK_PASSED=$((CHECK_PASSED + 1))
    printf 'PASS %s\n' "$name"
  else
    CHECK_FAILED=$((CHECK_FAILED + 1))
    printf 'FAIL %s\n' "$name"
  fi
}

# check_eq NAME WANT GOT
check_eq() {
  local name=$1 want=$2 got=$3
  if [[ "$want" == "$got" ]]; then
    CHECK_PASSED=$((CHECK_PASSED + 1))
    printf 'PASS %s\n' "$name"
  else
    CHECK_FAILED=$((CHECK_FAILED + 1))
    printf 'FAIL %s\n  want: %s\n  got:  %s\n' "$name" "$want" "$got"
  fi
}

# wait_until SECONDS COMMAND...: polls COMMAND every 100 ms; returns its last status.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
}

check_summary() {
  printf '%d passed, %d failed\n' "$CHECK_PASSED" "$CHECK_FAILED"
  ((CHECK_FAILED == 0 && CHECK_PASSED > 0))
}
