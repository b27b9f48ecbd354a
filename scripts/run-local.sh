#!/usr/bin/env bash
# Runs Uptime Sentinel locally, without a cluster.
#
# Makes the services available, creates and migrates the `uptime_sentinel` database,
# builds the binaries (release), starts a demo target on 127.0.0.1:18080 (one healthy,
# one failing, one slow and one flapping endpoint), the operator in standalone mode on
# examples/local/, the checker and the ingestor, then shows the `operator status` table every few
# seconds. Ctrl-C (or SIGTERM) stops everything it started, by PID.
#
# Also starts the ingestor (telemetry into MySQL, partitions, rollups); the notifier joins
# when alerting lands. The credentials key (sealing Secret
# values in MySQL) is generated once into .local/credentials.key; logs go to .local/.
#
# Environment: SENTINEL_DATABASE_URL (default mysql://root@127.0.0.1:3306/uptime_sentinel),
# SENTINEL_MANIFESTS (default examples/local), SENTINEL_REDIS_PREFIX (default sentinel:).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh

database_url="${SENTINEL_DATABASE_URL:-mysql://root@127.0.0.1:3306/uptime_sentinel}"
manifests="${SENTINEL_MANIFESTS:-examples/local}"
database="${database_url##*/}"
mariadb --protocol=tcp -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"

mkdir -p .local
if [ ! -s .local/credentials.key ]; then
  head -c32 /dev/urandom | base64 >.local/credentials.key
  chmod 600 .local/credentials.key
fi
export SENTINEL_CREDENTIALS_KEY
SENTINEL_CREDENTIALS_KEY="$(cat .local/credentials.key)"
export SENTINEL_DATABASE_URL="$database_url"

cargo build --release -p operator -p checker -p ingestor -p sentinel-bench --bin operator --bin checker --bin ingestor --bin demo-target
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/release"

"$bin/operator" --log-text migrate
echo "Validating $manifests/:"
"$bin/operator" validate "$manifests"

pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  echo "stopped (logs in .local/)"
}
trap 'exit 0' INT TERM
trap stop EXIT

"$bin/demo-target" 18080 >.local/demo-target.log 2>&1 &
pids+=($!)
"$bin/operator" --log-text run --manifests "$manifests" --metrics-addr 127.0.0.1:8080 >.local/operator.log 2>&1 &
pids+=($!)
"$bin/checker" --log-text --with-notifier --metrics-addr 127.0.0.1:8081 >.local/checker.log 2>&1 &
pids+=($!)
"$bin/ingestor" --log-text --metrics-addr 127.0.0.1:8082 >.local/ingestor.log 2>&1 &
pids+=($!)

while true; do
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "a process exited; last log lines:"
      tail -n 5 .local/*.log
      exit 1
    fi
  done
  clear 2>/dev/null || true
  echo "Uptime Sentinel (standalone, $manifests/) — Ctrl-C to stop; logs in .local/"
  echo
  "$bin/operator" status || true
  sleep 3
done
