# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are for the test that sources this file
# The start every shell test of the kpx binary shares: the root check, the assertions
# (check.sh), the binaries under test, a work directory holding the example manifests in $work/m,
# and one exit handler that stops what the test started and removes what it made, also when the
# test fails or is interrupted.
#
# Usage, after `set -uo pipefail`:  source "$root/tests/lib/kpx_test.sh" BUILD_DIR PREFIX NET
#   NET topology: the demo topology (scripts/lib/demo-topology.sh) with namespaces PREFIX-node and
#                 PREFIX-client; in_node and in_client run a command in them.
#   NET netns:    one namespace $ns named PREFIX with lo up; in_ns runs a command in it.
# A test records what it starts in kpx_pid, api_pid (start_fake_api) and bg_pids; anything else
# it must undo goes in a function named test_cleanup, which runs first.
if [[ $(id -u) != 0 ]]; then
  echo "needs root for network namespaces"
  exit 77
fi
build=$1
kpx_test_net=$3
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/check.sh
source "$root/tests/lib/check.sh"
kpx=$build/cmd/kpx
probe=$build/tests/tools/kpx-probe
fake=$build/tests/k8s-watch/client/kpx-fake-apiserver
work=$(mktemp -d)
kpx_pid=
api_pid=
bg_pids=()
# How the exit handler stops kpx: KILL, unless a test wants the rules left as SIGTERM leaves them.
kpx_stop_signal=KILL

# stop_pid SIGNAL PID: signals PID (if set) and reaps it.
stop_pid() {
  [[ -n ${2:-} ]] || return 0
  kill "-$1" "$2" 2>/dev/null
  wait "$2" 2>/dev/null
  return 0
}

kpx_test_exit() {
  if declare -F test_cleanup >/dev/null; then test_cleanup; fi
  stop_pid "$kpx_stop_signal" "$kpx_pid"
  local p
  for p in "${bg_pids[@]}"; do stop_pid TERM "$p"; done
  if [[ -n $api_pid ]]; then
    # Closing our ends of its pipes ends its input; were this script killed outright, that alone
    # would make it quit.
    exec 7>&- 8<&-
    stop_pid TERM "$api_pid"
  fi
  case $kpx_test_net in
    topology) topo_down ;;
    netns) ip netns del "$ns" 2>/dev/null ;;
  esac
  # A failed check is explained by what kpx logged; the work directory is about to go.
  if ((${CHECK_FAILED:-0} > 0)) && [[ -s $work/kpx.log ]]; then
    echo "--- last 60 lines of kpx's log ($CHECK_FAILED failed check(s)):"
    tail -n 60 "$work/kpx.log"
  fi
  rm -rf "$work"
}
trap kpx_test_exit EXIT

mkdir "$work/m"
cp "$root"/examples/manifests/*.yaml "$root"/examples/manifests/*.json "$work/m/"

case $kpx_test_net in
  topology)
    TOPO_PREFIX=$2
    # shellcheck source=scripts/lib/demo-topology.sh
    source "$root/scripts/lib/demo-topology.sh"
    in_node() { ip netns exec "$TOPO_NODE" "$@"; }
    in_client() { ip netns exec "$TOPO_CLIENT" "$@"; }
    ;;
  netns)
    ns=$2
    in_ns() { ip netns exec "$ns" "$@"; }
    ip netns add "$ns" || exit 1
    in_ns ip link set lo up
    ;;
  *)
    echo "kpx_test.sh: NET must be topology or netns, not '$kpx_test_net'" >&2
    exit 2
    ;;
esac

# start_fake_api NETNS ARGS...: kpx-fake-apiserver in NETNS serving $work/api, driven by lines
# on fd 7 and answering on fd 8; sets api_pid, then waits for its "ready PORT" line into
# `ready` and `port`.
start_fake_api() {
  local netns=$1
  shift
  mkdir -p "$work/api"
  mkfifo "$work/api.in" "$work/api.out"
  exec 7<>"$work/api.in" 8<>"$work/api.out"
  # The server must not hold our ends (it would never see the end of its input).
  ip netns exec "$netns" "$fake" --dir "$work/api" "$@" \
    <"$work/api.in" >"$work/api.out" 2>>"$work/api.log" 7>&- 8>&- &
  api_pid=$!
  ready=
  port=
  read -r -t 20 ready port <&8
}
