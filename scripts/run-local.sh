#!/usr/bin/env bash
# Runs Uptime Sentinel locally, without a cluster.
#
# Today (foundation): makes the services available, creates and migrates the
# `uptime_sentinel` database, and prints the CRDs and the examples' validation. The
# operator's standalone mode, the checker, the notifier and the ingestor join this script
# as they land.
#
# Environment: SENTINEL_DATABASE_URL (default mysql://root@127.0.0.1:3306/uptime_sentinel).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh

database_url="${SENTINEL_DATABASE_URL:-mysql://root@127.0.0.1:3306/uptime_sentinel}"
database="${database_url##*/}"
mariadb --protocol=tcp -h 127.0.0.1 -u root -e "CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"

cargo build --release -p operator
./target/release/operator --log-text migrate --database-url "$database_url"
echo
echo "CRDs (apply on a cluster with: ./target/release/operator crd | kubectl apply -f -):"
./target/release/operator crd | grep -E '^  name: ' | sed 's/^  name: /  /'
