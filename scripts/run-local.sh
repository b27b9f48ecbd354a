#!/usr/bin/env bash
# Runs Uptime Sentinel locally, without a cluster.
#
# Makes the services available, creates and migrates the `uptime_sentinel` database,
# builds the operator (release), validates examples/, starts the operator in standalone
# mode on examples/ and shows the `operator status` table every few seconds. Ctrl-C (or
# SIGTERM) stops what it started.
#
# The checker, notifier and ingestor are not built yet: monitors stay Pending until they
# land. The credentials key (sealing Secret values in MySQL) is generated once into
# .local/credentials.key.
#
# Environment: SENTINEL_DATABASE_URL (default mysql://root@127.0.0.1:3306/uptime_sentinel),
# SENTINEL_MANIFESTS (default examples/), SENTINEL_METRICS_ADDR (default 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh

database_url="${SENTINEL_DATABASE_URL:-mysql://root@127.0.0.1:3306/uptime_sentinel}"
manifests="${SENTINEL_MANIFESTS:-examples}"
database="${database_url##*/}"
mariadb --protocol=tcp -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"

mkdir -p .local
if [ ! -s .local/credentials.key ]; then
  head -c32 /dev/urandom | base64 >.local/credentials.key
  chmod 600 .local/credentials.key
fi

cargo build --release -p operator
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
operator="$target_dir/release/operator"

"$operator" --log-text migrate --database-url "$database_url"
echo "Validating $manifests/:"
"$operator" validate "$manifests"

SENTINEL_CREDENTIALS_KEY="$(cat .local/credentials.key)" \
  "$operator" --log-text run --database-url "$database_url" --manifests "$manifests" \
  --metrics-addr "${SENTINEL_METRICS_ADDR:-127.0.0.1:8080}" >.local/operator.log 2>&1 &
operator_pid=$!
stop() {
  kill -TERM "$operator_pid" 2>/dev/null || true
  wait "$operator_pid" 2>/dev/null || true
  echo "stopped (operator log: .local/operator.log)"
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

while kill -0 "$operator_pid" 2>/dev/null; do
  clear 2>/dev/null || true
  echo "Uptime Sentinel (standalone, $manifests/) — Ctrl-C to stop; operator log: .local/operator.log"
  echo
  "$operator" status --database-url "$database_url" || true
  sleep 3
done
echo "the operator exited; last log lines:"
tail -n 20 .local/operator.log
exit 1
