#!/bin/bash
# Stand-in for the official mysql image's entrypoint, on Debian's MariaDB: on first start,
# initialise /var/lib/mysql with MYSQL_ROOT_PASSWORD for root (from localhost and from any host,
# as the official image does) and create MYSQL_DATABASE; then run the server on 3306 for the
# network, as user mysql.
set -euo pipefail
datadir=/var/lib/mysql
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$datadir" /run/mysqld
  chown -R mysql:mysql "$datadir" /run/mysqld
  chmod 750 "$datadir"
  exec setpriv --reuid=mysql --regid=mysql --init-groups "$0" "$@"
fi
# A literal in SQL: quotes and backslashes escaped.
sql_string() { printf "'%s'" "$(printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e "s/'/\\\\'/g")"; }
if [ ! -d "$datadir/mysql" ]; then
  if [ -z "${MYSQL_ROOT_PASSWORD:-}" ]; then
    echo 'Error: MYSQL_ROOT_PASSWORD is not set (the official image refuses to start without a root password too).' >&2
    exit 1
  fi
  mariadb-install-db --datadir="$datadir" --auth-root-authentication-method=normal --skip-test-db >/dev/null
  socket=/run/mysqld/init.sock
  mariadbd --datadir="$datadir" --skip-networking --socket="$socket" &
  pid=$!
  for _ in $(seq 60); do mariadb-admin --socket="$socket" -uroot ping >/dev/null 2>&1 && break; sleep 0.5; done
  password=$(sql_string "$MYSQL_ROOT_PASSWORD")
  {
    # As the official image: root@localhost and root@'%' only (mariadb-install-db also makes password-less
    # root@127.0.0.1, root@::1 and root@<hostname>, which would win over root@'%' for a connection from 127.0.0.1).
    echo "DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');"
    echo "DELETE FROM mysql.proxies_priv WHERE User = 'root' AND Host <> 'localhost';"
    echo "FLUSH PRIVILEGES;"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $password;"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY $password;"
    echo "GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "${MYSQL_DATABASE:-}" ]; then echo "CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE//\`/\`\`}\`;"; fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket="$socket" -uroot
  kill "$pid"
  wait "$pid" || true
fi
exec mariadbd --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 --skip-name-resolve "$@"
