#!/usr/bin/env bash
# Builds kpx's container image (deploy/Dockerfile) and tests it for real, as root on Debian
# bookworm, without a Docker engine:
#   1. base images debian:bookworm and debian:bookworm-slim made locally (debootstrap minbase +
#      podman import; cached in $KPX_IMAGE_CACHE), since none can be pulled here;
#   2. buildah bud --isolation=chroot --pull=never --network=host -f deploy/Dockerfile;
#   3. for each iptables backend the host may already use (nft, legacy): a private network (the
#      demo's namespaces), a marker chain in that backend as a kubelet would leave, then kpx run
#      FROM THE IMAGE (buildah run --isolation=chroot under ip netns exec: it sees only the node
#      namespace's network) on examples/manifests; real TCP through the ClusterIP 10.96.0.10:80
#      from a client namespace must be answered, kpx's chains must be in that backend and not in
#      the other, and kpx --cleanup from the image must remove them.
# Prints the image size. Not part of scripts/test.sh (the image build compiles kpx from scratch
# inside the builder, ~10 minutes on 2 cores); run it on its own: sudo scripts/image-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=${KPX_IMAGE_CACHE:-/var/cache/kpx-image}
image=localhost/kpx:test
log() { echo "image-test: $*" >&2; }

scripts/install-deps.sh >/dev/null
need=()
for p in buildah podman debootstrap; do command -v "$p" >/dev/null || need+=("$p"); done
if ((${#need[@]} > 0)); then
  log "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The echo servers and the probe run on the host side of the test network.
scripts/build.sh >/dev/null
echo_server=$root/build/tests/tools/kpx-echo-server
probe=$root/build/tests/tools/kpx-probe

# 1. Base images, made once.
# The slim one as Debian's official image makes it (debuerreotype's "slimify"): no package
# lists or caches, and dpkg told to skip docs, man pages and translations in later installs too.
if ! podman image exists docker.io/library/debian:bookworm ||
  ! podman image exists localhost/kpx-base:slim-v2; then
  if [[ ! -f $cache/rootfs/.done ]]; then
    log "debootstrap --variant=minbase bookworm (once, cached in $cache)"
    rm -rf "$cache/rootfs"
    mkdir -p "$cache"
    debootstrap --variant=minbase bookworm "$cache/rootfs" http://deb.debian.org/debian \
      >"$cache/debootstrap.log" 2>&1 || { tail -5 "$cache/debootstrap.log"; exit 1; }
    touch "$cache/rootfs/.done"
  fi
  tar -C "$cache/rootfs" --exclude=./.done -c . |
    podman import --change 'CMD ["/bin/bash"]' - docker.io/library/debian:bookworm >/dev/null
  slim=$(mktemp -d)
  cp -a "$cache/rootfs/." "$slim/"
  rm -f "$slim/.done"
  cat >"$slim/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
  find "$slim/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
  rm -rf "$slim"/usr/share/{man,info,locale,lintian}/* "$slim"/var/lib/apt/lists/* \
    "$slim"/var/cache/apt/* "$slim"/var/log/*
  tar -C "$slim" -c . |
    podman import --change 'CMD ["/bin/bash"]' - docker.io/library/debian:bookworm-slim >/dev/null
  rm -rf "$slim"
  # Marks this way of making the slim base, so an older one is replaced.
  podman tag docker.io/library/debian:bookworm-slim localhost/kpx-base:slim-v2
fi
base_size=$(podman image inspect docker.io/library/debian:bookworm-slim --format '{{.Size}}')

# 2. The image.
start=$SECONDS
log "buildah bud -f deploy/Dockerfile"
buildah bud --isolation=chroot --pull=never --network=host --layers=false -q \
  -f deploy/Dockerfile -t "$image" . >/dev/null
log "built in $((SECONDS - start)) s"
size=$(podman image inspect "$image" --format '{{.Size}}')
log "image size: $((size / 1024 / 1024)) MiB ($size bytes); its base debian:bookworm-slim: $((base_size / 1024 / 1024)) MiB"

ctr=
manifests=
kpx_pid=
passed=0
failed=0
# shellcheck source=scripts/lib/demo-topology.sh
source scripts/lib/demo-topology.sh
cleanup() {
  stop_kpx
  topo_down 2>/dev/null || true
  [[ -n $ctr ]] && buildah rm "$ctr" >/dev/null 2>&1
  [[ -n $manifests ]] && rm -rf "$manifests"
  return 0
}
trap cleanup EXIT
stop_kpx() {
  [[ -n $kpx_pid ]] || return 0
  kill -TERM "$kpx_pid" 2>/dev/null || true
  wait "$kpx_pid" 2>/dev/null || true
  kpx_pid=
}
check() {
  local what=$1
  shift
  if "$@"; then
    log "ok: $what"
    passed=$((passed + 1))
  else
    log "FAILED: $what"
    failed=$((failed + 1))
  fi
}
# The capabilities kpx needs (the DaemonSet runs privileged; these two are the least that works):
# chroot isolation grants neither by default, and nf_tables answers EACCES without NET_ADMIN.
# Always called in a subshell, which it replaces: buildah then gets our signals itself and passes
# them to kpx (a signal to a backgrounded shell function would stop only that subshell and leave
# kpx running).
in_image() {
  exec ip netns exec "$TOPO_NODE" buildah run --isolation=chroot --cap-add=CAP_NET_ADMIN \
    --cap-add=CAP_NET_RAW -v "$manifests:/manifests:ro" "$ctr" -- "$@"
}
answered_by_web() {
  local out i
  for i in $(seq 100); do
    out=$(ip netns exec "$TOPO_CLIENT" "$probe" tcp 10.96.0.10 80 --timeout-ms 500 2>/dev/null || true)
    [[ $out == *web* ]] && return 0
    sleep 0.2
  done
  echo "last answer: $out" >&2
  return 1
}
chains_in() { ip netns exec "$TOPO_NODE" "iptables-$1-save" -t nat 2>/dev/null | grep -c '^:KUBE-SVC-' || true; }

ctr=$(buildah from --pull-never "$image")
manifests=$(mktemp -d)
cp examples/manifests/* "$manifests/"
for backend in nft legacy; do
  other=$([[ $backend == nft ]] && echo legacy || echo nft)
  TOPO_PREFIX=kpxi$$${backend:0:1}
  TOPO_NODE="${TOPO_PREFIX}-node"
  TOPO_CLIENT="${TOPO_PREFIX}-client"
  topo_up "$echo_server"
  # What a node using this backend already holds: kubelet's canary chain.
  ip netns exec "$TOPO_NODE" "iptables-$backend" -t mangle -N KUBE-KUBELET-CANARY
  (in_image /usr/local/bin/kpx --source=/manifests --hostname-override=kpx-node \
    --cluster-cidr=10.99.0.0/16 --min-sync-period=100ms \
    --healthz-bind-address=127.0.0.1:10256 --metrics-bind-address=127.0.0.1:10249 \
    >"$manifests/kpx-$backend.log" 2>&1) &
  kpx_pid=$!
  check "$backend host: ClusterIP 10.96.0.10:80 answered through kpx from the image" answered_by_web
  check "$backend host: kpx's chains are in iptables-$backend" test "$(chains_in "$backend")" -gt 0
  check "$backend host: and not in iptables-$other" test "$(chains_in "$other")" -eq 0
  stop_kpx
  (in_image /usr/local/bin/kpx --cleanup >>"$manifests/kpx-$backend.log" 2>&1) || true
  check "$backend host: kpx --cleanup from the image removes its chains" test "$(chains_in "$backend")" -eq 0
  if ((failed > 0)); then sed 's/^/  kpx: /' "$manifests/kpx-$backend.log" | tail -20 >&2; fi
  topo_down
done
log "image size: $((size / 1024 / 1024)) MiB (base $((base_size / 1024 / 1024)) MiB)"
echo "image-test: $passed passed, $failed failed"
((failed == 0))
