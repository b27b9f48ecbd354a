#!/usr/bin/env bash
# The benchmark suite in one command: makes the services available, builds in release,
# runs every bench program in turn (never in parallel: they share the two cores), and
# prints one table from their JSON results (bench/results/*.json).
#
#   scripts/bench.sh                       # defaults (about 15 minutes on 2 cores)
#   MONITORS=50000 INTERVAL=10 scripts/bench.sh
#   FAULTS=1 scripts/bench.sh              # also the fault suite (bench-faults, ~8 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

monitors="${MONITORS:-20000}"
interval="${INTERVAL:-10}"
window="${WINDOW:-60}"

scripts/services.sh
cargo build --release -p operator -p checker -p ingestor -p sentinel-bench
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
bin="$target_dir/release"

"$bin/bench-e2e" --monitors "$monitors" --interval "$interval" --seconds "$window"
"$bin/bench-checker" --checks 20000 --concurrency 256 --dispatch-monitors 100000
"$bin/bench-ingestor" --records 200000 --raw-rows 10000000
"$bin/bench-alerts" --monitors 20 --notifications 5000
if [ "${FAULTS:-0}" = 1 ]; then
  "$bin/bench-faults" --monitors 2000
fi

python3 - <<'PY'
import json, pathlib
r = {p.stem: json.loads(p.read_text()) for p in pathlib.Path("bench/results").glob("*.json")}
e, c, i, a = r["e2e"], r["checker"], r["ingestor"], r["alerts"]
rows = [
    ("host", f"{e['cores']} cores, {e['memory_gib']:.0f} GiB", ""),
    (f"end to end: {e['monitors']} monitors / {e['interval_s']} s, {e['window_s']} s window",
     f"{e['checks_per_s']:.0f} checks/s persisted ({e['persisted']} of {e['expected']})", ">= 5,000/s"),
    ("schedule lag p50 / p99", f"{e['lag_p50_ms']:.1f} ms / {e['lag_p99_ms']:.1f} ms", "p99 < 1 s"),
]
rows += [(f"  {p['process']}", f"CPU {p['cpu_share']*100:.0f}% of a core, peak RSS {p['peak_rss_mib']:.0f} MiB", "") for p in e["processes"]]
print("\n".join(f"{a:<60} {b:<55} {c}" for a, b, c in rows))
print(json.dumps({k: v for k, v in r.items() if k != "e2e"}, indent=1)[:4000])
PY
