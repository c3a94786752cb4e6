#!/usr/bin/env bash
# Builds local stand-ins for the upstream images the generated files name, because this
# machine cannot pull from a registry. Each stand-in keeps the upstream contract we rely on:
#   node:24-trixie-slim  Debian 13, `node`, `npm` and `npx` on PATH, user `node` with uid/gid 1000,
#                        home /home/node
#   postgres:17          POSTGRES_PASSWORD / POSTGRES_DB on first start, data in
#                        /var/lib/postgresql/data, `pg_isready` on PATH, listens on 5432
#   redis:7              redis-server on 6379 for the network, `redis-cli` on PATH
#   mysql:8.4            MYSQL_ROOT_PASSWORD / MYSQL_DATABASE on first start (root from any host),
#                        data in /var/lib/mysql, listens on 3306, `mysqladmin` and `mysql` on PATH
#                        (Debian's MariaDB: its SQL dialect is MySQL's for what the tenants use)
# The debootstrap rootfs is cached outside the repository (DEVSEC_CACHE_DIR) between runs.
# Idempotent: an image that already exists is kept (pass --rebuild to redo them).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/debian-mirror.sh
source "$here/lib/debian-mirror.sh"

cache_dir=${DEVSEC_CACHE_DIR:-/var/cache/devsec}
rebuild=0
[ "${1:-}" = "--rebuild" ] && rebuild=1
log() { printf '[stand-in-images] %s\n' "$*"; }

have_image() { [ "$rebuild" = 0 ] && docker image inspect "$1" >/dev/null 2>&1; }

rootfs_image=devsec-rootfs:trixie
if ! have_image "$rootfs_image"; then
  mkdir -p "$cache_dir"
  tarball="$cache_dir/rootfs-trixie-minbase.tar"
  if [ ! -s "$tarball" ]; then
    mirror=$(debian_mirror)
    work=$(mktemp -d)
    log "debootstrap trixie (minbase) from $mirror"
    debootstrap --variant=minbase trixie "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
      tail -n 30 "$work/debootstrap.log" >&2
      exit 1
    }
    # The mirror the rootfs' apt uses is the same one; image builds apt-get through the engine's NAT.
    tar -C "$work/rootfs" -cf "$tarball.partial" .
    mv "$tarball.partial" "$tarball"
    rm -rf "$work"
  fi
  log "importing $rootfs_image"
  docker import --change 'CMD ["/bin/bash"]' "$tarball" "$rootfs_image" >/dev/null
fi

# A stand-in built by an older version of this script may lack part of the contract: check it.
honours_contract() {
  local tag=$1 check=${2:-}
  [ -z "$check" ] || docker run --rm --network none --entrypoint sh "$tag" -c "$check" >/dev/null 2>&1
}

build_stand_in() {
  local tag=$1 dockerfile=$2 entrypoint=${3:-} check=${4:-}
  if have_image "$tag" && honours_contract "$tag" "$check"; then return 0; fi
  log "building stand-in $tag"
  local context
  context=$(mktemp -d)
  printf '%s\n' "$dockerfile" >"$context/Dockerfile"
  [ -z "$entrypoint" ] || install -m 0755 "$entrypoint" "$context/entrypoint.sh"
  docker build -q -t "$tag" --label org.devsec.stand-in=true "$context" >/dev/null
  rm -rf "$context"
}

build_stand_in node:24-trixie-slim "FROM $rootfs_image
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm ca-certificates \\
 && rm -rf /var/lib/apt/lists/* \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
CMD [\"node\"]" "" 'command -v node && command -v npm && command -v npx'

# Postgres: the official image's first-start contract, on Debian's postgresql-17.
build_stand_in postgres:17 "FROM $rootfs_image
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-17 \\
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/17/bin:\$PATH PGDATA=/var/lib/postgresql/data
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT [\"docker-entrypoint.sh\"]
EXPOSE 5432" "$here/stand-ins/postgres-entrypoint.sh"

build_stand_in redis:7 "FROM $rootfs_image
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \\
 && rm -rf /var/lib/apt/lists/*
EXPOSE 6379
CMD [\"redis-server\", \"--bind\", \"0.0.0.0\", \"--protected-mode\", \"no\", \"--dir\", \"/data\"]"

# MySQL: the official image's first-start contract, on Debian's mariadb-server (Debian has no MySQL).
build_stand_in mysql:8.4 "FROM $rootfs_image
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mariadb-server mariadb-client \\
 && rm -rf /var/lib/apt/lists/* \\
 && rm -rf /var/lib/mysql && install -d -o mysql -g mysql /var/lib/mysql \\
 && for tool in mysql mysqladmin mysqld; do command -v \$tool >/dev/null || ln -s \"\$(command -v mariadb\${tool#mysql} || command -v mariadb-admin)\" /usr/local/bin/\$tool; done
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENTRYPOINT [\"docker-entrypoint.sh\"]
EXPOSE 3306" "$here/stand-ins/mysql-entrypoint.sh" 'command -v mysql && command -v mysqladmin && command -v mariadbd && ! test -e /var/lib/mysql/mysql'

log "ready: $rootfs_image node:24-trixie-slim postgres:17 redis:7 mysql:8.4"
