#!/usr/bin/env bash
# Rootless Docker (Debian 12, docker.io 20.10.24, no systemd), for the real-engine suite that runs
# the sandbox on it (packages/devsec/src/executors/engines.docker.spec.ts). Written from runs on the
# CI machine: there /dev/net/tun is 0600 (slirp4netns needs it usable, see ensure_kernel_bits), and
# the host is cgroup v1, so the engine accepts mem_limit, pids_limit and cpus without enforcing them.
#
#   rootless-docker.sh start    # idempotent: packages, user, subuid/subgid, daemon, images
#   rootless-docker.sh stop     # idempotent: stop daemon, verify no leftover processes/mounts
#   rootless-docker.sh status   # exit 0 if the rootless daemon answers /_ping
#   rootless-docker.sh env      # print "export DOCKER_HOST=..."
#
# Must run as root (it creates the user, /etc/subuid, /etc/subgid, /run/user/<uid>).
# The daemon itself runs as the unprivileged user $RL_USER.
# stdout of `start` is only the line `export DOCKER_HOST=...` (eval-able); all logs go to stderr.
#
# Tunables (environment):
#   RL_USER=devsec-rootless  RL_UID=1990
#   RL_IMAGES="node:24-trixie-slim"      images copied from the rootful engine if missing
#   RL_ROOTFUL_HOST=unix:///var/run/docker.sock
#   RL_STATE_DIR=/var/lib/devsec-engines/rootless-docker   (log + pid files)
#   RL_NET=slirp4netns | none
#       slirp4netns: containers get outbound network through slirp4netns; needs /dev/net/tun
#                    usable by the user (script does chmod 0666 /dev/net/tun if it is 0600).
#       none:        no chmod of /dev/net/tun; dockerd runs in an empty network namespace
#                    (bridge/internal networks and DNS between containers still work, no egress,
#                    no published ports).
#   RL_STORAGE_DRIVER=""  (default: dockerd picks overlay2; vfs is the slow fallback)
#   RL_START_TIMEOUT=60
#   RL_DOCKERD_EXTRA_ARGS=""  (extra dockerd flags)
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
close_inherited_fds

RL_USER=${RL_USER:-devsec-rootless}
RL_UID=${RL_UID:-1990}
RL_IMAGES=${RL_IMAGES:-node:24-trixie-slim}
RL_ROOTFUL_HOST=${RL_ROOTFUL_HOST:-unix:///var/run/docker.sock}
RL_STATE_DIR=${RL_STATE_DIR:-/var/lib/devsec-engines/rootless-docker}
RL_NET=${RL_NET:-slirp4netns}
RL_STORAGE_DRIVER=${RL_STORAGE_DRIVER:-}
RL_START_TIMEOUT=${RL_START_TIMEOUT:-60}
RL_DOCKERD_EXTRA_ARGS=${RL_DOCKERD_EXTRA_ARGS:-}

RUNDIR=/run/user/${RL_UID}
SOCK=${RUNDIR}/docker.sock
export_line="export DOCKER_HOST=unix://${SOCK}"
DOCKERD_ROOTLESS=/usr/share/docker.io/contrib/dockerd-rootless.sh
LOG=${RL_STATE_DIR}/dockerd.log
PGID_FILE=${RL_STATE_DIR}/session.pgid

log() { printf '[rootless-docker %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

rl_docker() { DOCKER_HOST="unix://${SOCK}" docker "$@"; }

ping_ok() {
  [ -S "$SOCK" ] || return 1
  [ "$(curl -fsS --max-time 2 --unix-socket "$SOCK" http://localhost/_ping 2>/dev/null || true)" = OK ]
}

user_pids() { ps -o pid= -u "$RL_UID" 2>/dev/null | tr -d ' ' | grep -v '^$' || true; }

ensure_packages() {
  local pkgs=(uidmap rootlesskit slirp4netns curl) missing=() p
  [ "$RL_STORAGE_DRIVER" = fuse-overlayfs ] && pkgs+=(fuse-overlayfs)
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ -x "$DOCKERD_ROOTLESS" ] || die "$DOCKERD_ROOTLESS missing (package docker.io)"
  command -v dockerd >/dev/null || die "dockerd missing (package docker.io)"
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
    || { apt-get update >&2 && apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
}

next_free_subid() { # $1 = /etc/subuid or /etc/subgid
  awk -F: 'BEGIN{m=100000} NF>=3 && $2+$3>m {m=$2+$3} END{print m}' "$1" 2>/dev/null || echo 100000
}

ensure_user() {
  if ! getent passwd "$RL_USER" >/dev/null; then
    if getent passwd "$RL_UID" >/dev/null; then die "uid $RL_UID already used by $(getent passwd "$RL_UID" | cut -d: -f1)"; fi
    log "creating user $RL_USER uid $RL_UID"
    useradd -m -u "$RL_UID" -U -s /bin/bash "$RL_USER"
  fi
  [ "$(id -u "$RL_USER")" = "$RL_UID" ] || die "user $RL_USER exists with uid $(id -u "$RL_USER") != $RL_UID"
  local f start
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    if ! grep -q "^${RL_USER}:" "$f" && ! grep -q "^${RL_UID}:" "$f"; then
      start=$(next_free_subid "$f")
      log "adding ${RL_USER}:${start}:65536 to $f"
      echo "${RL_USER}:${start}:65536" >>"$f"
    fi
  done
  install -d -m 0700 -o "$RL_USER" -g "$RL_USER" "$RUNDIR"
  chown "$RL_USER:$RL_USER" "$RUNDIR"; chmod 0700 "$RUNDIR"
  mkdir -p "$RL_STATE_DIR"
}

ensure_kernel_bits() {
  [ "$(cat /proc/sys/user/max_user_namespaces)" -gt 0 ] || die "user.max_user_namespaces is 0"
  if [ -e /proc/sys/kernel/unprivileged_userns_clone ] && [ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" != 1 ]; then
    die "kernel.unprivileged_userns_clone=0 (sysctl -w kernel.unprivileged_userns_clone=1)"
  fi
  if [ "$RL_NET" = slirp4netns ]; then
    [ -c /dev/net/tun ] || die "/dev/net/tun missing (use RL_NET=none)"
    # Debian/udev default is 0666; this VM has 0600 -> slirp4netns fails with
    # 'open: Permission denied ... ip tuntap add name tap0 mode tap: exit status 1'
    if [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
      log "chmod 0666 /dev/net/tun (was $(stat -c %a /dev/net/tun))"
      chmod 0666 /dev/net/tun
    fi
  fi
}

cleanup_stale() {
  local pids
  pids=$(user_pids)
  if [ -n "$pids" ]; then
    log "stale processes of uid $RL_UID without a working socket: $(echo $pids) -> killing"
    kill_user_pids
  fi
  rm -f "$SOCK" "$RUNDIR/docker.pid"
}

kill_user_pids() {
  kill_uid_processes "$RL_UID" || die "processes of uid $RL_UID survive SIGKILL"
}

start_daemon() {
  local args=() t0 t1 i
  [ -n "$RL_STORAGE_DRIVER" ] && args+=(--storage-driver "$RL_STORAGE_DRIVER")
  # shellcheck disable=SC2206
  [ -n "$RL_DOCKERD_EXTRA_ARGS" ] && args+=($RL_DOCKERD_EXTRA_ARGS)
  case "$RL_NET" in slirp4netns|none) ;; *) die "RL_NET must be slirp4netns or none" ;; esac
  : >>"$LOG"; chown "$RL_USER" "$LOG"
  log "starting rootless dockerd as $RL_USER (net=$RL_NET) log=$LOG"
  t0=$(date +%s%N)
  if [ "$RL_NET" = none ]; then
    # rootlesskit 1.1.0 has no --net=none: run it with --net=host (userns+mountns only) and give
    # dockerd a fresh, empty netns (unshare -n inside rootlesskit's userns); dockerd-rootless.sh
    # is entered directly in its "child" branch (_DOCKERD_ROOTLESS_CHILD=1).
    setsid runuser -u "$RL_USER" -- env -i HOME="/home/$RL_USER" USER="$RL_USER" LOGNAME="$RL_USER" \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR="$RUNDIR" \
      sh -c 'cd "$HOME" && exec rootlesskit --net=host --copy-up=/etc --copy-up=/run --propagation=rslave \
               env _DOCKERD_ROOTLESS_CHILD=1 unshare -n -- sh -c "ip link set lo up && exec \"\$0\" \"\$@\"" "$0" "$@"' \
      "$DOCKERD_ROOTLESS" "${args[@]}" >>"$LOG" 2>&1 </dev/null &
  else
    setsid runuser -u "$RL_USER" -- env -i HOME="/home/$RL_USER" USER="$RL_USER" LOGNAME="$RL_USER" \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin XDG_RUNTIME_DIR="$RUNDIR" \
      DOCKERD_ROOTLESS_ROOTLESSKIT_NET=slirp4netns DOCKERD_ROOTLESS_ROOTLESSKIT_MTU=65520 sh -c 'cd "$HOME" && exec "$0" "$@"' "$DOCKERD_ROOTLESS" "${args[@]}" >>"$LOG" 2>&1 </dev/null &
  fi
  echo $! >"$PGID_FILE"   # setsid'ed runuser: its pid == session id == process group id
  for i in $(seq 1 $((RL_START_TIMEOUT * 4))); do
    ping_ok && break
    if ! kill -0 "$(cat "$PGID_FILE")" 2>/dev/null && [ -z "$(user_pids)" ]; then
      tail -n 30 "$LOG" >&2; die "rootless dockerd exited during start (see $LOG)"
    fi
    sleep 0.25
  done
  ping_ok || { tail -n 30 "$LOG" >&2; die "rootless dockerd not answering after ${RL_START_TIMEOUT}s"; }
  t1=$(date +%s%N)
  log "daemon up in $(( (t1 - t0) / 1000000 )) ms"
}

load_images() {
  local img t0
  for img in $RL_IMAGES; do
    if rl_docker image inspect "$img" >/dev/null 2>&1; then continue; fi
    docker -H "$RL_ROOTFUL_HOST" image inspect "$img" >/dev/null 2>&1 \
      || die "image $img missing in rootful engine $RL_ROOTFUL_HOST (no registry reachable)"
    t0=$(date +%s)
    log "copying $img from rootful engine"
    docker -H "$RL_ROOTFUL_HOST" save "$img" | rl_docker load >&2
    log "loaded $img in $(( $(date +%s) - t0 ))s"
  done
}

cmd_start() {
  need_root
  local t0; t0=$(date +%s%N)
  ensure_packages
  ensure_user
  ensure_kernel_bits
  if ping_ok; then
    log "already running on $SOCK"
  else
    cleanup_stale
    start_daemon
  fi
  load_images
  local g sg start
  g=$(stat -c %g "$SOCK")
  start=$(awk -F: -v u="$RL_USER" '$1==u{print $2; exit}' /etc/subgid)
  if [ "$g" = "$RL_UID" ]; then sg=0; elif [ -n "$start" ]; then sg=$(( g - start + 1 )); else sg="?"; fi
  log "socket $SOCK host owner $(stat -c '%u:%g %a' "$SOCK"); inside containers: owner 0, group $sg"
  log "non-root container access: --user 1000 --group-add $sg  (or --user 0 --cap-drop ALL --security-opt no-new-privileges)"
  log "start total $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  echo "$export_line"
}

cmd_stop() {
  need_root
  local pid i
  if [ -f "$RUNDIR/docker.pid" ]; then
    pid=$(cat "$RUNDIR/docker.pid")
    if kill -0 "$pid" 2>/dev/null; then
      log "SIGTERM dockerd pid $pid"
      kill -TERM "$pid" || true
      # dockerd stops running containers (default 10s stop timeout each, in parallel) then exits;
      # rootlesskit exits when its child exits and takes slirp4netns down.
      for i in $(seq 1 120); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    fi
  fi
  if [ -f "$PGID_FILE" ]; then
    pid=$(cat "$PGID_FILE")
    if kill -0 -- "-$pid" 2>/dev/null; then
      for i in $(seq 1 20); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.25; done
      kill -TERM -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$PGID_FILE"
  fi
  kill_user_pids   # containerd (own session), shims, leftovers: all owned by the dedicated uid
  rm -f "$SOCK" "$RUNDIR/docker.pid"
  no_leftover_mounts "/home/${RL_USER}" "$RUNDIR" || return 1
  log "stopped (no processes of uid $RL_UID, no mounts)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) if ping_ok; then echo "running: $export_line"; else echo "not running"; exit 1; fi ;;
  env) echo "$export_line" ;;
  *) echo "usage: $0 {start|stop|status|env}" >&2; exit 2 ;;
esac
