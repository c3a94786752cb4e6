#!/usr/bin/env bash
# Rootful Podman 4.3 (Debian 12) as a Docker-API engine on unix:///run/podman/podman.sock, next to
# (never touching) the dockerd of the other suites, for the engines suite
# (packages/devsec/src/executors/engines.docker.spec.ts). Written from a helper's runs on the CI
# machine; each workaround below says what failed without it.
#
#   podman.sh start   # install if missing, write config, start service, load stand-in image
#   podman.sh stop    # stop containers, service, healthcheck ticker; remove our iptables rule
#   podman.sh status
#
# The socket is left as `podman system service` makes it (root, 0600): the sandbox's discovery
# must find it owner-only and run the proxy as its owner with every capability dropped.
#
# Clients:  export DOCKER_HOST=unix:///run/podman/podman.sock DOCKER_BUILDKIT=0
# (DOCKER_BUILDKIT=0 is required for `docker compose build`/`up --build`: podman 4.3 has no
#  BuildKit session API; with BuildKit compose tries to create a moby/buildkit container.)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
close_inherited_fds

STATE_DIR="${PODMAN_ENGINE_STATE:-/var/lib/devsec-engines/podman}"
SOCK=/run/podman/podman.sock
PIDFILE=/run/podman/podman-engine.pid
TICKPIDFILE=/run/podman/podman-engine-hc.pid
LOG="$STATE_DIR/service.log"
IMAGE_SHORT="node:24-trixie-slim"
IMAGE_FQ="docker.io/library/node:24-trixie-slim"
IMAGE_TAR="$STATE_DIR/node.tar"
HOST_DOCKER_SOCK=unix:///var/run/docker.sock      # only read from (docker save), never modified
SOCK_GROUP="${PODMAN_SOCK_GROUP:-}"                  # a group to give rw on the socket (mode 0660); none by default
HC_TICK="${PODMAN_HC_TICK:-2}"                       # seconds between healthcheck runs (no systemd timers)
PKGS=(podman runc conmon netavark aardvark-dns fuse-overlayfs uidmap slirp4netns catatonit)
FW_RULE=(FORWARD -i podman+ -o podman+ -m physdev --physdev-is-bridged
         -m comment --comment podman-engine-intra-bridge -j ACCEPT)

log() { echo "[podman] $*" >&2; }
ping_ok() { curl -fsS --max-time 2 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; }
alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_pkgs() {
  local missing=() p
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  command -v curl >/dev/null || missing+=(curl)
  command -v iptables >/dev/null || missing+=(iptables)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  local sim
  sim=$(apt-get -o DPkg::Lock::Timeout=300 -s install -y --no-install-recommends "${missing[@]}")
  if grep -q '^Remv ' <<<"$sim"; then
    log "refusing: apt would remove packages:"; grep '^Remv ' <<<"$sim" >&2; exit 1
  fi
  apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >"$STATE_DIR/apt-install.log" 2>&1 \
    || { tail -20 "$STATE_DIR/apt-install.log" >&2; exit 1; }
}

write_config() {
  mkdir -p /etc/containers
  local want
  want=$(podman_containers_conf scripts/engines/podman.sh)
  if [[ ! -f /etc/containers/containers.conf ]] || [[ "$(cat /etc/containers/containers.conf)" != "$want" ]]; then
    printf '%s\n' "$want" >/etc/containers/containers.conf
    log "wrote /etc/containers/containers.conf"
    if alive "$PIDFILE"; then log "config changed: restarting service"; stop_service; fi
  fi
}

firewall() {
  # dockerd sets FORWARD policy DROP and br_netfilter is loaded; netavark 1.4 adds no ACCEPT rule
  # for `internal: true` networks, so container<->container traffic on an internal network is
  # dropped. Allow bridged (same-bridge) traffic on podman bridges only; docker's rules untouched.
  iptables -C "${FW_RULE[@]}" 2>/dev/null || iptables -A "${FW_RULE[@]}"
}

start_service() {
  mkdir -p /run/podman "$STATE_DIR"
  if ping_ok; then log "service already answering on $SOCK"; return 0; fi
  alive "$PIDFILE" && { kill "$(cat "$PIDFILE")" 2>/dev/null || true; sleep 1; }
  rm -f "$SOCK"
  setsid podman system service --time=0 "unix://$SOCK" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local i
  for i in $(seq 1 60); do ping_ok && break; sleep 0.5; done
  ping_ok || { log "service did not answer /_ping; see $LOG"; tail -20 "$LOG" >&2; exit 1; }
  if [[ -n "$SOCK_GROUP" ]] && getent group "$SOCK_GROUP" >/dev/null; then
    chgrp "$SOCK_GROUP" "$SOCK" && chmod 0660 "$SOCK"
  fi
  log "service pid $(cat "$PIDFILE") on $SOCK ($(stat -c '%u:%g %a' "$SOCK"))"
}

start_hc_ticker() {
  # podman schedules healthchecks with systemd timers; without systemd they never run
  # (State.Health stays "starting" and `docker compose up --wait` hangs forever).
  alive "$TICKPIDFILE" && return 0
  setsid bash -c '
    while curl -fsS --max-time 2 --unix-socket '"$SOCK"' http://d/_ping >/dev/null 2>&1; do
      for c in $(podman ps -q --filter status=running 2>/dev/null); do
        podman healthcheck run "$c" >/dev/null 2>&1 || true
      done
      sleep '"$HC_TICK"'
    done' >>"$STATE_DIR/healthcheck-ticker.log" 2>&1 </dev/null &
  echo $! >"$TICKPIDFILE"
}

load_image() {
  podman image exists "$IMAGE_FQ" && return 0
  if [[ ! -s "$IMAGE_TAR" ]]; then
    log "saving $IMAGE_SHORT from the rootful docker engine"
    DOCKER_HOST="$HOST_DOCKER_SOCK" docker save "$IMAGE_SHORT" -o "$IMAGE_TAR.tmp"
    mv "$IMAGE_TAR.tmp" "$IMAGE_TAR"
  fi
  podman load -q -i "$IMAGE_TAR" >/dev/null
  # docker-save's RepoTag "node:24-trixie-slim" loads as localhost/node:...; retag to docker.io/library
  podman image exists "$IMAGE_FQ" || podman tag "localhost/$IMAGE_SHORT" "$IMAGE_FQ"
  podman image exists "localhost/$IMAGE_SHORT" && podman untag "localhost/$IMAGE_SHORT" "localhost/$IMAGE_SHORT" || true
  log "loaded $IMAGE_FQ"
}

stop_service() {
  if alive "$TICKPIDFILE"; then kill -- "-$(cat "$TICKPIDFILE")" 2>/dev/null || kill "$(cat "$TICKPIDFILE")" 2>/dev/null || true; fi
  rm -f "$TICKPIDFILE"
  if alive "$PIDFILE"; then
    local pid; pid=$(cat "$PIDFILE")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE" "$SOCK"
}

cmd_start() {
  mkdir -p "$STATE_DIR"
  install_pkgs
  write_config
  firewall
  start_service
  load_image
  start_hc_ticker
  echo "export DOCKER_HOST=unix://$SOCK DOCKER_BUILDKIT=0"
}

cmd_stop() {
  if command -v podman >/dev/null; then
    # containers live under conmon, not under the service: stop them so nothing is left running
    podman stop -a -t 10 >/dev/null 2>&1 || true
  fi
  stop_service
  while iptables -C "${FW_RULE[@]}" 2>/dev/null; do iptables -D "${FW_RULE[@]}"; done
  # conmon of finished `docker exec` sessions lingers for --exit-delay 300s; end the rootful ones
  local p
  for p in $(pgrep -x conmon || true); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -- '-b /var/lib/containers/storage/overlay-containers/' \
      && kill "$p" 2>/dev/null || true
  done
  sleep 0.5
  local left
  left=$(ps -eo pid=,stat=,comm=,args= | awk '$3 ~ /^(conmon|aardvark-dns|podman|catatonit)$/ && $2 !~ /Z/' || true)
  [[ -n "$left" ]] && { log "leftover processes:"; echo "$left" >&2; }
  log "stopped"
}

cmd_status() {
  if ping_ok; then echo "running: DOCKER_HOST=unix://$SOCK (pid $(cat "$PIDFILE" 2>/dev/null || echo '?'))"; else echo "stopped"; return 1; fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
