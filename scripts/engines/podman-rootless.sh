#!/usr/bin/env bash
# Rootless Podman 4.3 (Debian 12) serving the Docker API for a dedicated non-root user, for the
# real-engine suite that runs the sandbox on it (packages/devsec/src/executors/engines.docker.spec.ts).
# Modelled on rootless-docker.sh (user, subuid/subgid, /run/user/<uid>, /dev/net/tun, process
# cleanup) and podman.sh (containers.conf workarounds, healthcheck ticker, image copy). Written from
# runs on the CI machine (hybrid cgroup v1, no systemd, root without CAP_SYS_RESOURCE, /dev/net/tun
# and /dev/fuse 0600, no registry reachable).
#
#   podman-rootless.sh start    # idempotent: packages, user, config, service, ticker, image
#   podman-rootless.sh stop     # idempotent: containers, ticker, service, every process of the uid
#   podman-rootless.sh status   # exit 0 if the service answers /_ping
#   podman-rootless.sh env      # print "export DOCKER_HOST=..."
#
# Must run as root. The service runs as $PR_USER (runuser + env -i, setsid).
# stdout of `start` is only the line `export DOCKER_HOST=...` (eval-able); all logs go to stderr.
# Clients must be run as $PR_USER (the socket is the user's, mode 0600), e.g.
#   runuser -u devsec-podman -- env DOCKER_HOST=unix:///run/user/1991/podman/podman.sock DOCKER_BUILDKIT=0 docker ...
# (DOCKER_BUILDKIT=0 is required for compose builds: podman 4.3 has no BuildKit.)
#
# Tunables (environment):
#   PR_USER=devsec-podman  PR_UID=1991
#   PR_STATE_DIR=/var/lib/devsec-engines/podman-rootless   (service.log, pid files, image tar cache)
#   PR_STORAGE_DRIVER=""   overlay (fuse-overlayfs) | vfs; default: overlay if a fuse-overlayfs probe
#                          mount works in the user's namespace, else vfs. The choice is remembered
#                          in $PR_STATE_DIR/storage-driver; switching driver wipes the user's storage.
#   PR_HC_TICK=2           seconds between healthcheck runs (no systemd timers)
#   PR_START_TIMEOUT=60
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
close_inherited_fds

PR_USER=${PR_USER:-devsec-podman}
PR_UID=${PR_UID:-1991}
PR_STATE_DIR=${PR_STATE_DIR:-/var/lib/devsec-engines/podman-rootless}
PR_STORAGE_DRIVER=${PR_STORAGE_DRIVER:-}
PR_HC_TICK=${PR_HC_TICK:-2}
PR_START_TIMEOUT=${PR_START_TIMEOUT:-60}

HOME_DIR=/home/${PR_USER}
RUNDIR=/run/user/${PR_UID}
SOCK=${RUNDIR}/podman/podman.sock
export_line="export DOCKER_HOST=unix://${SOCK}"
LOG=${PR_STATE_DIR}/service.log
TICKLOG=${PR_STATE_DIR}/healthcheck-ticker.log
PGID_FILE=${PR_STATE_DIR}/service.pgid
TICK_PGID_FILE=${PR_STATE_DIR}/hc-ticker.pgid
DRIVER_FILE=${PR_STATE_DIR}/storage-driver
IMAGE_SHORT="node:24-trixie-slim"
IMAGE_FQ="docker.io/library/node:24-trixie-slim"
IMAGE_TAR=${PR_STATE_DIR}/node.tar
HOST_DOCKER_SOCK=unix:///var/run/docker.sock      # only read from (docker save), never modified
CONF_DIR=${HOME_DIR}/.config/containers
PKGS=(podman runc conmon netavark aardvark-dns fuse-overlayfs catatonit uidmap slirp4netns)
USER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[podman-rootless %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || die "must run as root"; }

# Run a command as the user with a clean environment (no logind/systemd: XDG_RUNTIME_DIR by hand).
as_user() {
  runuser -u "$PR_USER" -- env -i -C "$HOME_DIR" HOME="$HOME_DIR" USER="$PR_USER" LOGNAME="$PR_USER" \
    PATH="$USER_PATH" XDG_RUNTIME_DIR="$RUNDIR" "$@"
}

ping_ok() {
  [ -S "$SOCK" ] || return 1
  [ "$(curl -fsS --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null || true)" = OK ]
}
pg_alive() { [ -f "$1" ] && kill -0 -- "-$(cat "$1")" 2>/dev/null; }

# live (non-zombie) processes of the uid
user_pids() { ps -o pid=,stat= -u "$PR_UID" 2>/dev/null | awk '$2 !~ /^Z/ {print $1}' || true; }

install_pkgs() {
  local missing=() p sim
  for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  command -v curl >/dev/null || missing+=(curl)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sim=$(apt-get -o DPkg::Lock::Timeout=300 -s install -y --no-install-recommends "${missing[@]}")
  if grep -q '^Remv ' <<<"$sim"; then
    log "refusing: apt would remove packages:"; grep '^Remv ' <<<"$sim" >&2; exit 1
  fi
  apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}" >"$PR_STATE_DIR/apt-install.log" 2>&1 \
    || { tail -20 "$PR_STATE_DIR/apt-install.log" >&2; exit 1; }
}

next_free_subid() { # $1 = /etc/subuid or /etc/subgid
  awk -F: 'BEGIN{m=100000} NF>=3 && $2+$3>m {m=$2+$3} END{print m}' "$1" 2>/dev/null || echo 100000
}

check_subid_overlap() { # $1 = file; die if our range overlaps another entry
  awk -F: -v u="$PR_USER" -v id="$PR_UID" '
    NF>=3 { n++; name[n]=$1; s[n]=$2; e[n]=$2+$3 }
    END { for (i=1;i<=n;i++) if (name[i]==u || name[i]==id) for (j=1;j<=n;j++)
            if (j!=i && s[i]<e[j] && s[j]<e[i]) { printf "%s:%d-%d overlaps %s:%d-%d\n", name[i], s[i], e[i], name[j], s[j], e[j]; bad=1 }
          exit bad }' "$1" || die "overlapping ranges in $1"
}

ensure_user() {
  if ! getent passwd "$PR_USER" >/dev/null; then
    if getent passwd "$PR_UID" >/dev/null; then die "uid $PR_UID already used by $(getent passwd "$PR_UID" | cut -d: -f1)"; fi
    log "creating user $PR_USER uid $PR_UID"
    useradd -m -d "$HOME_DIR" -u "$PR_UID" -U -s /bin/bash "$PR_USER"
  fi
  [ "$(id -u "$PR_USER")" = "$PR_UID" ] || die "user $PR_USER exists with uid $(id -u "$PR_USER") != $PR_UID"
  [ "$(getent passwd "$PR_USER" | cut -d: -f6)" = "$HOME_DIR" ] || die "home of $PR_USER is not $HOME_DIR"
  local f start
  for f in /etc/subuid /etc/subgid; do
    touch "$f"
    # useradd usually allocates a free range itself (SUB_UID_COUNT in login.defs)
    if ! grep -q "^${PR_USER}:" "$f" && ! grep -q "^${PR_UID}:" "$f"; then
      start=$(next_free_subid "$f")
      log "adding ${PR_USER}:${start}:65536 to $f"
      echo "${PR_USER}:${start}:65536" >>"$f"
    fi
    check_subid_overlap "$f"
  done
  install -d -m 0700 -o "$PR_USER" -g "$PR_USER" "$RUNDIR"
  chown "$PR_USER:$PR_USER" "$RUNDIR"; chmod 0700 "$RUNDIR"
  install -d -m 0700 -o "$PR_USER" -g "$PR_USER" "$RUNDIR/podman"
  install -d -m 0755 -o "$PR_USER" -g "$PR_USER" "$HOME_DIR/.config" "$CONF_DIR"
}

ensure_kernel_bits() {
  [ "$(cat /proc/sys/user/max_user_namespaces)" -gt 0 ] || die "user.max_user_namespaces is 0"
  if [ -e /proc/sys/kernel/unprivileged_userns_clone ] && [ "$(cat /proc/sys/kernel/unprivileged_userns_clone)" != 1 ]; then
    die "kernel.unprivileged_userns_clone=0 (sysctl -w kernel.unprivileged_userns_clone=1)"
  fi
  # Debian/udev default for both is 0666; this VM has 0600.
  # /dev/net/tun 0600 -> slirp4netns: 'open("/dev/net/tun"): Permission denied' (no container network, no build RUN network)
  # /dev/fuse 0600    -> fuse-overlayfs cannot mount in the user namespace (storage falls back to vfs)
  local d
  for d in /dev/net/tun /dev/fuse; do
    [ -c "$d" ] || { log "WARNING: $d missing"; continue; }
    if [ "$(stat -c %a "$d")" != 666 ]; then
      log "chmod 0666 $d (was $(stat -c %a "$d"))"
      chmod 0666 "$d"
    fi
  done
}

# 1 if the user's storage already holds data (a driver switch would need a reset)
storage_initialized() { [ -e "$HOME_DIR/.local/share/containers/storage/libpod/bolt_state.db" ]; }

probe_fuse_overlayfs() {
  # A real fuse-overlayfs mount as the user inside a fresh user+mount namespace (util-linux unshare,
  # not `podman unshare`: that would create podman's database with the default driver before
  # storage.conf is written, and podman then refuses a different driver).
  as_user unshare --user --map-root-user --mount sh -c '
    set -e; d=$(mktemp -d "$HOME/.fuse-overlayfs-probe.XXXXXX"); trap "rm -rf \"$d\"" EXIT
    mkdir "$d/l" "$d/u" "$d/w" "$d/m"; echo ok >"$d/l/f"
    /usr/bin/fuse-overlayfs -o "lowerdir=$d/l,upperdir=$d/u,workdir=$d/w" "$d/m"
    echo x >"$d/m/g"; r=$(cat "$d/m/f"); umount "$d/m" 2>/dev/null || fusermount3 -u "$d/m"
    [ "$r" = ok ] && [ -f "$d/u/g" ]' 2>&1
}

write_if_changed() { # $1 = path, $2 = content; returns 0 if it changed
  if [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; then
    printf '%s\n' "$2" >"$1"; chown "$PR_USER:$PR_USER" "$1"; chmod 0644 "$1"
    log "wrote $1"; return 0
  fi
  return 1
}

write_config() {
  local changed=0 driver probe_out
  write_if_changed "$CONF_DIR/containers.conf" "$(podman_containers_conf scripts/engines/podman-rootless.sh)" && changed=1

  # storage driver: explicit > remembered > probe
  driver=$PR_STORAGE_DRIVER
  if [ -z "$driver" ] && [ -s "$DRIVER_FILE" ] && storage_initialized; then driver=$(cat "$DRIVER_FILE"); fi
  if [ -z "$driver" ]; then
    if probe_out=$(probe_fuse_overlayfs); then
      driver=overlay
    else
      driver=vfs
      log "fuse-overlayfs probe failed: $(tr '\n' ' ' <<<"$probe_out")"
    fi
  fi
  case "$driver" in overlay|vfs) ;; *) die "PR_STORAGE_DRIVER must be overlay or vfs" ;; esac
  if [ -s "$DRIVER_FILE" ] && [ "$(cat "$DRIVER_FILE")" != "$driver" ] && storage_initialized; then
    log "storage driver changes $(cat "$DRIVER_FILE") -> $driver: resetting the user's podman storage"
    stop_all
    as_user podman system reset -f >&2 || true
  fi
  local storage
  if [ "$driver" = overlay ]; then
    storage=$(cat <<EOF
# written by scripts/engines/podman-rootless.sh
[storage]
driver = "overlay"

[storage.options.overlay]
mount_program = "/usr/bin/fuse-overlayfs"
EOF
)
  else
    storage=$(cat <<EOF
# written by scripts/engines/podman-rootless.sh
[storage]
driver = "vfs"
EOF
)
  fi
  write_if_changed "$CONF_DIR/storage.conf" "$storage" && changed=1
  echo "$driver" >"$DRIVER_FILE"
  if [ "$driver" = overlay ]; then log "storage driver: overlay (fuse-overlayfs)"
  else log "storage driver: vfs (slow fallback: full copy per layer and container)"; fi
  if [ "$changed" = 1 ] && pg_alive "$PGID_FILE"; then log "config changed: restarting service"; stop_all; fi
  return 0
}

start_service() {
  if ping_ok; then log "service already answering on $SOCK"; return 0; fi
  # no working socket: whatever runs as the uid is stale (pause process, conmon, slirp4netns, ...)
  stop_all
  : >>"$LOG"
  local t0 i
  t0=$(date +%s%N)
  log "starting podman system service as $PR_USER, log=$LOG"
  setsid runuser -u "$PR_USER" -- env -i -C "$HOME_DIR" HOME="$HOME_DIR" USER="$PR_USER" LOGNAME="$PR_USER" \
    PATH="$USER_PATH" XDG_RUNTIME_DIR="$RUNDIR" \
    podman system service --time=0 "unix://$SOCK" >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PGID_FILE"   # setsid'ed runuser: its pid == session id == process group id
  for i in $(seq 1 $((PR_START_TIMEOUT * 4))); do
    ping_ok && break
    if ! pg_alive "$PGID_FILE"; then tail -n 30 "$LOG" >&2; die "podman service exited during start (see $LOG)"; fi
    sleep 0.25
  done
  ping_ok || { tail -n 30 "$LOG" >&2; die "podman service not answering after ${PR_START_TIMEOUT}s"; }
  log "service up in $(( ($(date +%s%N) - t0) / 1000000 )) ms on $SOCK ($(stat -c '%u:%g %a' "$SOCK"))"
}

start_hc_ticker() {
  # podman schedules healthchecks with systemd timers; without systemd they never run
  # (State.Health stays "starting", `docker compose up --wait` hangs). Only containers that have a
  # healthcheck (Status shows "(starting|healthy|unhealthy)") are run. Ignores per-container intervals.
  pg_alive "$TICK_PGID_FILE" && return 0
  setsid runuser -u "$PR_USER" -- env -i -C "$HOME_DIR" HOME="$HOME_DIR" USER="$PR_USER" LOGNAME="$PR_USER" \
    PATH="$USER_PATH" XDG_RUNTIME_DIR="$RUNDIR" SOCK="$SOCK" TICK="$PR_HC_TICK" \
    bash -c '
    while [ "$(curl -fsS --max-time 2 --unix-socket "$SOCK" http://d/_ping 2>/dev/null)" = OK ]; do
      for c in $(podman ps --filter status=running --format "{{.ID}} {{.Status}}" 2>/dev/null \
                   | awk "/\\((starting|healthy|unhealthy)\\)/ {print \$1}"); do
        podman healthcheck run "$c" >/dev/null 2>&1 || true
      done
      sleep "$TICK"
    done' >>"$TICKLOG" 2>&1 </dev/null &
  echo $! >"$TICK_PGID_FILE"
}

load_image() {
  as_user podman image exists "$IMAGE_FQ" && return 0
  local t0; t0=$(date +%s)
  if [ ! -s "$IMAGE_TAR" ]; then
    log "saving $IMAGE_SHORT from the rootful docker engine"
    DOCKER_HOST="$HOST_DOCKER_SOCK" docker image inspect "$IMAGE_SHORT" >/dev/null 2>&1 \
      || die "image $IMAGE_SHORT missing in the rootful engine (no registry reachable)"
    DOCKER_HOST="$HOST_DOCKER_SOCK" docker save "$IMAGE_SHORT" -o "$IMAGE_TAR.tmp"
    mv "$IMAGE_TAR.tmp" "$IMAGE_TAR"
  fi
  # the tar stays root-only: root opens it, the user's podman reads stdin
  as_user podman load -q <"$IMAGE_TAR" >/dev/null
  # docker-save's RepoTag "node:24-trixie-slim" loads as localhost/node:...; retag to docker.io/library
  as_user podman image exists "$IMAGE_FQ" || as_user podman tag "localhost/$IMAGE_SHORT" "$IMAGE_FQ"
  if as_user podman image exists "localhost/$IMAGE_SHORT"; then
    as_user podman untag "localhost/$IMAGE_SHORT" "localhost/$IMAGE_SHORT" || true
  fi
  log "loaded $IMAGE_FQ in $(( $(date +%s) - t0 ))s"
}

kill_pgroup() { # $1 = pgid file
  local pg i
  [ -f "$1" ] || return 0
  pg=$(cat "$1")
  if kill -0 -- "-$pg" 2>/dev/null; then
    kill -TERM -- "-$pg" 2>/dev/null || true
    for i in $(seq 1 40); do kill -0 -- "-$pg" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pg" 2>/dev/null || true
  fi
  rm -f "$1"
}

kill_user_pids() {
  kill_uid_processes "$PR_UID" || die "processes of uid $PR_UID survive SIGKILL"
}

# Stop everything of the user; afterwards the runtime state is reset as after a reboot.
stop_all() {
  kill_pgroup "$TICK_PGID_FILE"
  if ping_ok; then
    # containers run under conmon, not under the service: stop them so nothing keeps running
    as_user podman stop -a -t 10 >/dev/null 2>&1 || true
  fi
  kill_pgroup "$PGID_FILE"
  # pause process (catatonit -P), conmon (incl. exec/healthcheck conmons lingering --exit-delay 300),
  # slirp4netns, aardvark-dns, fuse-overlayfs: all owned by the dedicated uid
  kill_user_pids
  # /run is not a tmpfs here: drop podman's runtime state (tmpdir "alive" file, storage runroot with
  # mount counts, netns files, runc state) so the next start refreshes like after a reboot.
  if [ -d "$RUNDIR" ]; then
    rm -rf "$RUNDIR/libpod" "$RUNDIR/containers" "$RUNDIR/netns" "$RUNDIR/runc" "$RUNDIR/crun" \
           "$RUNDIR/overlay" "$RUNDIR/overlay-containers" "$RUNDIR/overlay-layers" "$RUNDIR/podman/podman.sock" \
           "$RUNDIR/.fuse-overlayfs-probe."* 2>/dev/null || true
  fi
}

cmd_start() {
  need_root
  local t0; t0=$(date +%s%N)
  mkdir -p "$PR_STATE_DIR"
  install_pkgs
  ensure_user
  ensure_kernel_bits
  write_config
  start_service
  load_image
  start_hc_ticker
  log "socket $SOCK host owner $(stat -c '%u:%g %a' "$SOCK") (inside containers: 0:0, the user maps to container root)"
  log "start total $(( ($(date +%s%N) - t0) / 1000000 )) ms"
  echo "$export_line"
}

cmd_stop() {
  need_root
  stop_all
  local z
  z=$(ps -o pid=,stat=,comm= -u "$PR_UID" 2>/dev/null | awk '$2 ~ /^Z/' || true)
  [ -n "$z" ] && { log "zombies of uid $PR_UID (not running):"; echo "$z" >&2; }
  no_leftover_mounts "$HOME_DIR" "$RUNDIR" || return 1
  log "stopped (no processes of uid $PR_UID, no mounts)"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) if ping_ok; then echo "running: $export_line"; else echo "not running"; exit 1; fi ;;
  env) echo "$export_line" ;;
  *) echo "usage: $0 {start|stop|status|env}" >&2; exit 2 ;;
esac
