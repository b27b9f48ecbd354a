#!/usr/bin/env bash
# Makes MariaDB (3306), RabbitMQ (5672, management API on 15672) and Redis (6379) available
# on 127.0.0.1 for the local run and the tests.
#
# A service that already answers is left alone. A missing one is installed from Debian's
# packages (apt-get update once, then apt-get install) and started without systemd, then
# waited for. Running this twice is harmless: the second run finds everything answering.
#
# Environment: SENTINEL_SERVICES_TIMEOUT (seconds to wait for each service, default 90).
set -euo pipefail

TIMEOUT="${SENTINEL_SERVICES_TIMEOUT:-90}"
APT_UPDATED=0

say() { printf 'services: %s\n' "$*"; }
die() { printf 'services: error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port name
  local waited=0
  until port_open "$1"; do
    (( waited >= TIMEOUT * 5 )) && die "$2 did not answer on 127.0.0.1:$1 within ${TIMEOUT}s"
    sleep 0.2
    waited=$((waited + 1))
  done
}

need_root() {
  [ "$(id -u)" = 0 ] || die "$1 is not running and installing or starting it needs root; start it yourself or rerun as root"
}

apt_install() { # packages...
  need_root "$*"
  if [ "$APT_UPDATED" = 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_setting() { # file key line: appends line unless a line starting with key exists
  touch "$1"
  grep -q "^$2" "$1" || printf '%s\n' "$3" >>"$1"
}

mysql_root() { mariadb --protocol=tcp -h 127.0.0.1 -P 3306 -u root "$@"; }

ensure_mariadb() {
  if port_open 3306; then
    say "MariaDB already answers on 127.0.0.1:3306"
  else
    need_root MariaDB
    command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server mariadb-client
    install -d -o mysql -g mysql /run/mysqld /var/log/mysql
    if [ ! -d /var/lib/mysql/mysql ]; then
      say "initialising the MariaDB data directory"
      mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
    fi
    say "starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- \
      --user=mysql --bind-address=127.0.0.1 --port=3306
    wait_port 3306 MariaDB
  fi
  # The tests and the local run connect as root with an empty password over TCP. A fresh
  # Debian install gives root unix-socket auth only: allow the empty password too.
  if ! mysql_root -e 'SELECT 1' >/dev/null 2>&1; then
    need_root "MariaDB's root account"
    say "allowing root with an empty password from 127.0.0.1"
    mariadb -u root <<'SQL'
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
  fi
  mysql_root -e 'SELECT 1' >/dev/null || die "MariaDB answers but refuses root with an empty password"
}

ensure_rabbitmq() {
  if port_open 5672; then
    say "RabbitMQ already answers on 127.0.0.1:5672"
  else
    need_root RabbitMQ
    command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server
    install -d /etc/rabbitmq
    # Keep every Erlang and AMQP port on loopback; guest may only log in from there.
    ensure_setting /etc/rabbitmq/rabbitmq-env.conf NODENAME NODENAME=rabbit@localhost
    ensure_setting /etc/rabbitmq/rabbitmq-env.conf NODE_IP_ADDRESS NODE_IP_ADDRESS=127.0.0.1
    ensure_setting /etc/rabbitmq/rabbitmq-env.conf ERL_EPMD_ADDRESS ERL_EPMD_ADDRESS=127.0.0.1
    ensure_setting /etc/rabbitmq/rabbitmq.conf listeners.tcp 'listeners.tcp.local = 127.0.0.1:5672'
    ensure_setting /etc/rabbitmq/rabbitmq.conf management.tcp.ip 'management.tcp.ip = 127.0.0.1'
    # The tests create a vhost each through the management API.
    [ -f /etc/rabbitmq/enabled_plugins ] || echo '[rabbitmq_management].' >/etc/rabbitmq/enabled_plugins
    say "starting RabbitMQ"
    ERL_EPMD_ADDRESS=127.0.0.1 rabbitmq-server -detached
    wait_port 5672 RabbitMQ
  fi
  if ! port_open 15672; then
    need_root "the RabbitMQ management plugin"
    say "enabling the RabbitMQ management plugin"
    rabbitmq-plugins enable --quiet rabbitmq_management >/dev/null
    wait_port 15672 "RabbitMQ management API"
  else
    say "RabbitMQ management API already answers on 127.0.0.1:15672"
  fi
}

ensure_redis() {
  if port_open 6379; then
    say "Redis already answers on 127.0.0.1:6379"
    return
  fi
  need_root Redis
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  install -d /var/lib/redis /var/log/redis
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/sentinel.log
  wait_port 6379 Redis
}

command -v mariadb >/dev/null 2>&1 || apt_install mariadb-client
ensure_mariadb
ensure_rabbitmq
ensure_redis
say "all services are available on 127.0.0.1"
