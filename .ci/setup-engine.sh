#!/usr/bin/env bash
# Installs and starts what the real-engine tests need on a fresh Debian 12 machine:
# the Docker engine (docker.io), Compose v2 (taken from Debian 13's docker-compose package,
# since Debian 12 only ships Compose v1), debootstrap (for the stand-in images) and what the
# engines suite's second engines need (scripts/engines/ starts them), and gVisor (runsc),
# registered with dockerd so that sandboxes run their dev container on it (issue 30).
# Idempotent: every step checks before it acts.
set -euo pipefail

log() { printf '[setup-engine] %s\n' "$*"; }

need_apt_update=1
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$need_apt_update" = 1 ]; then apt-get update -qq; need_apt_update=0; fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# shellcheck source=../scripts/lib/debian-mirror.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/debian-mirror.sh"

# Downloads Debian trixie's build of a package into $2 (the host stays on its own release).
download_from_trixie() {
  local pkg=$1 into=$2 mirror
  mirror=$(debian_mirror)
  log "fetching $pkg from Debian trixie on $mirror"
  mkdir -p "$into/lists/partial" "$into/cache/archives/partial"
  printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s trixie main\n' "$mirror" >"$into/trixie.list"
  local opts=(-o "Dir::Etc::sourcelist=$into/trixie.list" -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$into/lists" -o "Dir::Cache=$into/cache" -o "APT::Get::List-Cleanup=0")
  apt-get "${opts[@]}" update -qq
  (cd "$into" && apt-get "${opts[@]}" download "$pkg" >/dev/null)
}

install_compose_v2() {
  if docker compose version 2>/dev/null | grep -qE 'v?2\.'; then return 0; fi
  local work
  work=$(mktemp -d); chmod 755 "$work"
  download_from_trixie docker-compose "$work"
  dpkg-deb -x "$work"/docker-compose_*.deb "$work/root"
  install -D -m 0755 "$work/root/usr/libexec/docker/cli-plugins/docker-compose" \
    /usr/local/lib/docker/cli-plugins/docker-compose
  rm -rf "$work"
  docker compose version
}

# gVisor from trixie (2024-07): bookworm's runsc (2022-12) answers EINVAL to the statx calls of
# trixie's coreutils, so `ls` and `stat` fail in a dev container on it. A static binary with no
# dependencies: the package installs as it is.
install_runsc() {
  if dpkg --compare-versions "$(dpkg-query -W -f '${Version}' runsc 2>/dev/null || echo 0)" ge 0.0~20240729; then return 0; fi
  local work
  work=$(mktemp -d); chmod 755 "$work"
  download_from_trixie runsc "$work"
  dpkg -i "$work"/runsc_*.deb >/dev/null
  rm -rf "$work"
  runsc --version | head -1
}

start_dockerd() {
  if docker info >/dev/null 2>&1; then return 0; fi
  log "starting dockerd"
  mkdir -p /var/log
  (setsid dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do
    if [ -S /var/run/docker.sock ] && docker info >/dev/null 2>&1; then
      log "dockerd is up (API $(docker version --format '{{.Server.APIVersion}}'))"
      return 0
    fi
    sleep 1
  done
  echo "dockerd did not come up within 60 s; last log lines:" >&2
  tail -n 30 /var/log/dockerd.log >&2 || true
  exit 1
}

# Registers gVisor's runsc in /etc/docker/daemon.json (keeping every other key) and makes a
# running dockerd reload it with SIGHUP (runtimes reload without a restart, so the containers
# of whoever shares this engine keep running). `--network=host` makes gVisor use the network
# namespace Docker made for the container: its own netstack refuses to start on this machine
# ("cannot run with network enabled in root network namespace"). `--directfs=false`: with directfs an
# open with O_TRUNC of a file below a read-only folder mount empties the host's file (runsc 20240729).
register_runsc() {
  local conf=/etc/docker/daemon.json want current tmp
  want='{"path":"/usr/bin/runsc","runtimeArgs":["--network=host","--directfs=false"]}'
  mkdir -p /etc/docker
  [ -s "$conf" ] || echo '{}' >"$conf"
  current=$(jq -c '.runtimes.runsc // empty' "$conf")
  if [ "$current" != "$(jq -c . <<<"$want")" ]; then
    log "registering runsc in $conf"
    tmp=$(mktemp)
    jq --argjson want "$want" '.runtimes.runsc = $want' "$conf" >"$tmp"
    install -m 0644 "$tmp" "$conf"
    rm -f "$tmp"
  fi
  if docker info >/dev/null 2>&1 && ! docker info --format '{{json .Runtimes}}' | jq -e --argjson want "$want" '.runsc.runtimeArgs == $want.runtimeArgs' >/dev/null; then
    log "reloading dockerd (SIGHUP) for runsc"
    kill -HUP "$(cat /var/run/docker.pid)"
    for _ in $(seq 1 20); do
      docker info --format '{{json .Runtimes}}' | jq -e --argjson want "$want" '.runsc.runtimeArgs == $want.runtimeArgs' >/dev/null && return 0
      sleep 0.5
    done
    echo "dockerd did not list runsc as registered after SIGHUP" >&2
    exit 1
  fi
}

command -v dockerd >/dev/null 2>&1 || apt_install docker.io
apt_install debootstrap iptables git ca-certificates jq
# The second engines the engines suite starts (scripts/engines/): rootless Docker's pieces, and
# Podman 4.3 with runc (beside docker.io's; crun fails on a hybrid cgroup host) and netavark.
apt_install uidmap rootlesskit slirp4netns curl
apt_install podman runc conmon netavark aardvark-dns fuse-overlayfs catatonit
install_runsc
register_runsc
install_compose_v2
start_dockerd
