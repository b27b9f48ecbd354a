//! `bench-e2e`: the whole pipeline as processes — operator (standalone, N monitors from a
//! manifest file), checker, ingestor — against a local target, for a fixed window.
//!
//! ```text
//!  N monitors every I s → scheduler → RabbitMQ → checker → Redis → ingestor → ping_results
//!  window of T s once every monitor has been checked:
//!    checks persisted/s = rows with a slot in the window / T   (expected N·T/I)
//!    schedule lag        = started_at − scheduled_at of those rows (p50, p99)
//!    CPU seconds and peak RSS of each process over the window
//! ```
//!
//! Uses the real MariaDB, RabbitMQ and Redis on 127.0.0.1 (own database, vhost, key
//! prefix) and the release binaries next to this one (build them first; `scripts/bench.sh`
//! does). Writes `bench/results/e2e.json`.
//! Run: `bench-e2e [--monitors N] [--interval I] [--seconds T]`.

#[path = "flags.rs"]
mod flags;
#[path = "procs.rs"]
mod procs;

use procs::{binary, free_port, signal, usage};

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use chrono::{DurationRound, TimeDelta, Utc};
use sentinel_testkit::{TestDb, TestRedis, TestVhost};
use serde_json::json;

/// Child processes stopped with SIGTERM when dropped.
struct Processes(Vec<(&'static str, Child)>);

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &self.0 {
            signal(child, "-TERM");
        }
        for (_, child) in &mut self.0 {
            let _ = child.wait();
        }
    }
}

fn main() -> anyhow::Result<()> {
    let monitors = flags::number("--monitors", 20_000);
    let interval = flags::number("--interval", 10);
    let seconds = flags::number("--seconds", 60);
    tokio::runtime::Runtime::new()?.block_on(run(monitors, interval, seconds))
}

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&db.pool)
        .await
        .unwrap_or(-1)
}

async fn run(monitors: usize, interval: usize, seconds: usize) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let memory_gib = procs::memory_gib();
    println!(
        "bench-e2e: {monitors} monitors every {interval} s, window {seconds} s; {cores} cores, {memory_gib:.0} GiB"
    );
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let redis = TestRedis::create().await;
    let port = free_port()?;
    let dir = std::env::temp_dir().join(format!(
        "sentinel-bench-e2e-{}",
        sentinel_testkit::unique_suffix()
    ));
    std::fs::create_dir_all(&dir)?;
    let mut manifests = String::with_capacity(monitors * 160);
    for i in 0..monitors {
        manifests.push_str(&format!(
            "---\napiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {{name: m{i}}}\n\
             spec: {{url: 'http://127.0.0.1:{port}/healthy', interval: {interval}s, timeout: 5s}}\n"
        ));
    }
    std::fs::write(dir.join("monitors.yaml"), manifests)?;

    let env = |command: &mut Command| {
        command
            .env("SENTINEL_DATABASE_URL", &db.url)
            .env("SENTINEL_AMQP_URL", &vhost.amqp_url)
            .env("SENTINEL_REDIS_URL", &redis.url)
            .env("SENTINEL_REDIS_PREFIX", &redis.prefix)
            .env("SENTINEL_METRICS_ADDR", "127.0.0.1:0")
            .env("SENTINEL_LOG_LEVEL", "warn")
            .stdout(Stdio::null());
    };
    let mut target = Command::new(binary("demo-target")?);
    target.arg(port.to_string()).stderr(Stdio::null());
    let mut operator = Command::new(binary("operator")?);
    operator.args(["run", "--manifests"]).arg(&dir);
    env(&mut operator);
    let mut checker = Command::new(binary("checker")?);
    env(&mut checker);
    let mut ingestor = Command::new(binary("ingestor")?);
    env(&mut ingestor);
    let started = Instant::now();
    let processes = Processes(vec![
        ("target", target.spawn()?),
        ("operator", operator.spawn()?),
        ("checker", checker.spawn()?),
        ("ingestor", ingestor.spawn()?),
    ]);

    // Every monitor stored, then checked at least once.
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut applied_after = None;
    loop {
        let stored = scalar(&db, "SELECT COUNT(*) FROM monitors").await;
        if applied_after.is_none() && stored == monitors as i64 {
            applied_after = Some(started.elapsed().as_secs_f64());
        }
        let checked = scalar(
            &db,
            "SELECT COUNT(*) FROM monitor_state WHERE last_slot IS NOT NULL",
        )
        .await;
        if checked == monitors as i64 {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {checked} of {monitors} monitors checked after 600 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let applied_after = applied_after.unwrap_or_default();
    println!(
        "    {monitors} monitors applied by the operator in {applied_after:.1} s; all checked once"
    );

    // The window, on whole seconds of slot time.
    let second = TimeDelta::seconds(1);
    let t1 = Utc::now().duration_trunc(second)? + second * 2;
    let t2 = t1 + TimeDelta::seconds(seconds as i64);
    tokio::time::sleep((t1 - Utc::now()).to_std().unwrap_or_default()).await;
    let before: Vec<(f64, f64)> = processes.0.iter().map(|(_, c)| usage(c.id())).collect();
    tokio::time::sleep((t2 - Utc::now()).to_std().unwrap_or_default()).await;
    let after: Vec<(f64, f64)> = processes.0.iter().map(|(_, c)| usage(c.id())).collect();

    // Let the pipeline finish the window's checks (ingest flush, stragglers).
    let window = format!(
        "FROM ping_results WHERE scheduled_at >= '{}' AND scheduled_at < '{}'",
        t1.naive_utc(),
        t2.naive_utc()
    );
    let expected = (monitors * seconds / interval) as i64;
    let mut found = 0;
    let settle = Instant::now() + Duration::from_secs(60);
    while Instant::now() < settle {
        let now = scalar(&db, &format!("SELECT COUNT(*) {window}")).await;
        if now >= expected || (now == found && Utc::now() > t2 + TimeDelta::seconds(15)) {
            found = now;
            break;
        }
        found = now;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut lags: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(TIMESTAMPDIFF(MICROSECOND, scheduled_at, started_at) AS SIGNED) {window}"
    )))
    .fetch_all(&db.pool)
    .await?;
    lags.sort_unstable();
    let pct = |p: f64| -> f64 {
        lags.get(((lags.len() as f64 - 1.0) * p).round() as usize)
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    let failed = scalar(&db, &format!("SELECT COUNT(*) {window} AND ok = 0")).await;
    processes_stats(&processes, &before, &after, seconds);
    let rate = found as f64 / seconds as f64;
    println!(
        "    checks persisted: {found} of {expected} expected in {seconds} s = {rate:.0} checks/s ({failed} failed)"
    );
    println!(
        "    schedule lag: p50 {:.1} ms  p99 {:.1} ms",
        pct(0.5),
        pct(0.99)
    );
    let per_process: Vec<serde_json::Value> = processes
        .0
        .iter()
        .zip(before.iter().zip(&after))
        .map(|((name, _), (b, a))| {
            json!({"process": name, "cpu_seconds": a.0 - b.0, "cpu_share": (a.0 - b.0) / seconds as f64, "peak_rss_mib": a.1})
        })
        .collect();
    drop(processes);
    let _ = std::fs::remove_dir_all(&dir);
    let results = json!({
        "measured_at": Utc::now().to_rfc3339(),
        "cores": cores,
        "memory_gib": memory_gib,
        "monitors": monitors, "interval_s": interval, "window_s": seconds,
        "operator_apply_s": applied_after,
        "expected": expected, "persisted": found, "failed": failed,
        "checks_per_s": rate,
        "lag_p50_ms": pct(0.5), "lag_p99_ms": pct(0.99),
        "processes": per_process,
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/e2e.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)? + "\n")?;
    println!("written to {}", path.display());
    Ok(())
}

fn processes_stats(
    processes: &Processes,
    before: &[(f64, f64)],
    after: &[(f64, f64)],
    seconds: usize,
) {
    for ((name, _), (b, a)) in processes.0.iter().zip(before.iter().zip(after)) {
        println!(
            "    {name:<9} CPU {:>6.1} s ({:>5.1}% of one core)  peak RSS {:>6.1} MiB",
            a.0 - b.0,
            100.0 * (a.0 - b.0) / seconds as f64,
            a.1
        );
    }
}
