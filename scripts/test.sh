#!/usr/bin/env bash
# Runs the whole test suite against real services: makes MariaDB, RabbitMQ and Redis
# available (scripts/services.sh) and the chart-test tools (scripts/python-tools.sh), then
# runs every crate's tests. Each test creates its own
# database, vhost and key prefix and removes them afterwards.
#
# Extra arguments go to the test runner (e.g. `scripts/test.sh -E 'test(migrations)'` with
# nextest, or a name filter with cargo test).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/services.sh
# The chart test (tests/tests/chart.rs) runs Python tools from a virtualenv.
SENTINEL_PYTHON="$(scripts/python-tools.sh | tail -n 1)"
export SENTINEL_PYTHON

if cargo nextest --version >/dev/null 2>&1; then
  # nextest does not run doc tests: this workspace keeps its examples in tests instead.
  cargo nextest run --workspace --all-targets --no-fail-fast "$@"
else
  cargo test --workspace --all-targets --no-fail-fast "$@"
fi
