//! `bench-ingestor`: the ingestor's drain rate against raw multi-row INSERTs of the same
//! records, and the rollup query against the raw table.
//!
//! ```text
//!  (a) raw ceiling   N records inserted straight into ping_results, 1,000 rows per INSERT
//!  (b) ingestor      the same N records XADDed to Redis, then drained (read → INSERT → ack)
//!  (c) rollup query  ≥ 10 million raw rows over 30 days; "average latency per hour over 30
//!                    days for one monitor" from ping_stats_hourly vs from ping_results
//! ```
//!
//! Run: `cargo run --release -p sentinel-bench --bin bench-ingestor -- [--records N]
//! [--raw-rows M]`. Uses its own MariaDB databases and Redis prefix (removed afterwards);
//! writes `bench/results/ingestor.json`.

#[path = "flags.rs"]
mod flags;

use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta, TimeZone, Utc};
use crds::contract::{self, Names, TelemetryRecord};
use ingestor::{
    ingest::{self, Ingestor, Options},
    metrics::Metrics,
    partitions, rollup,
};
use sentinel_testkit::{TestDb, TestRedis};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let records = flags::number("--records", 200_000);
    let raw_rows = flags::number("--raw-rows", 10_000_000);
    tokio::runtime::Runtime::new()?.block_on(run(records, raw_rows))
}

fn record(n: usize) -> TelemetryRecord {
    let slot = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap()
        + TimeDelta::seconds((n / 1000) as i64 * 10);
    TelemetryRecord {
        v: contract::VERSION,
        monitor_id: (n % 1000) as u64 + 1,
        scheduled_at: slot,
        started_at: slot + TimeDelta::milliseconds(3),
        generation: 1,
        ok: !n.is_multiple_of(50),
        status_code: Some(200),
        latency_ms: (n % 400) as u32,
        timings: Default::default(),
        error_kind: None,
        error: None,
        cert_expires_at: None,
    }
}

async fn prepared_db() -> anyhow::Result<TestDb> {
    let db = TestDb::create().await;
    partitions::maintain(
        &db.pool,
        NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap(),
        7,
        60,
    )
    .await?;
    Ok(db)
}

async fn run(count: usize, raw_rows: usize) -> anyhow::Result<()> {
    let records: Vec<TelemetryRecord> = (0..count).map(record).collect();
    println!("bench-ingestor: {count} records, {raw_rows} raw rows for the query test");

    // (a) Raw multi-row INSERTs.
    let db = prepared_db().await?;
    let started = Instant::now();
    // The same concurrency as the ingestor (two batches in flight), so the ceiling is fair.
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter(records.chunks(1000))
        .map(|chunk| ingest::insert(&db.pool, chunk))
        .buffer_unordered(ingestor::ingest::IN_FLIGHT)
        .collect()
        .await;
    for result in results {
        result?;
    }
    let raw_rate = count as f64 / started.elapsed().as_secs_f64();
    drop(db);
    println!("(a) raw INSERT:  {raw_rate:>9.0} rows/s");

    // (b) The ingestor draining the same records from Redis.
    let db = prepared_db().await?;
    let redis = TestRedis::create().await;
    let names = Names::new(redis.prefix.clone());
    let mut connection = redis.connection().await;
    for chunk in records.chunks(5000) {
        let mut pipe = redis::pipe();
        for r in chunk {
            pipe.cmd("XADD")
                .arg(names.telemetry_stream())
                .arg("*")
                .arg("r")
                .arg(contract::encode(r))
                .ignore();
        }
        pipe.query_async::<()>(&mut connection).await?;
    }
    let ingestor = Ingestor::new(
        &redis.url,
        db.pool.clone(),
        names,
        Options {
            batch_size: 1000,
            flush_interval: Duration::from_millis(50),
            claim_timeout: Duration::from_secs(60),
            consumer: "bench".into(),
        },
        Metrics::register(&prometheus::Registry::new()),
    )
    .await?;
    let started = Instant::now();
    let (ready, _) = tokio::sync::watch::channel(true);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = ingestor.clone();
    let task = tokio::spawn(async move {
        runner
            .run(ready, async {
                let _ = stopped.await;
            })
            .await;
    });
    loop {
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ping_results")
            .fetch_one(&db.pool)
            .await?;
        if stored as usize >= count && ingestor.backlog().await? == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let drain_rate = count as f64 / started.elapsed().as_secs_f64();
    let _ = stop.send(());
    task.await?;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ping_results")
        .fetch_one(&db.pool)
        .await?;
    anyhow::ensure!(stored as usize == count, "stored {stored} of {count}");
    drop(db);
    println!(
        "(b) ingestor:    {drain_rate:>9.0} rows/s  ratio {:.2}",
        drain_rate / raw_rate
    );

    if raw_rows == 0 {
        return Ok(());
    }
    // (c) Rollup query vs raw over 30 days.
    let db = TestDb::create().await;
    let start = NaiveDate::from_ymd_opt(2026, 10, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    partitions::maintain(&db.pool, start, 7, 90).await?;
    partitions::maintain(&db.pool, start + TimeDelta::days(30), 7, 90).await?;
    let monitors = 350usize;
    let step_seconds = (30.0 * 86_400.0 / (raw_rows as f64 / monitors as f64)).max(1.0);
    let generated = Instant::now();
    let mut done = 0usize;
    while done < raw_rows {
        let upto = (done + 500_000).min(raw_rows);
        // MariaDB's sequence engine generates the rows server-side.
        let sql = format!(
            "INSERT INTO ping_results (monitor_id, scheduled_at, started_at, generation, ok, latency_ms) \
             SELECT seq % {monitors} + 1, TIMESTAMPADD(SECOND, FLOOR((seq DIV {monitors}) * {step_seconds}), '{start}'), \
             TIMESTAMPADD(SECOND, FLOOR((seq DIV {monitors}) * {step_seconds}), '{start}'), 1, seq % 53 <> 0, seq % 997 \
             FROM seq_{done}_to_{} ",
            upto - 1
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&db.pool)
            .await?;
        done = upto;
    }
    let generate_seconds = generated.elapsed().as_secs_f64();
    let rolled = Instant::now();
    let now = Utc.from_utc_datetime(&(start + TimeDelta::days(30)));
    rollup::hourly(&db.pool, now, chrono::Duration::hours(2)).await?;
    rollup::daily(&db.pool, chrono::Duration::hours(2)).await?;
    let rollup_seconds = rolled.elapsed().as_secs_f64();
    let from = start.to_string();
    let time = |sql: &'static str| {
        let pool = db.pool.clone();
        let from = from.clone();
        async move {
            let mut runs = Vec::new();
            for _ in 0..5 {
                let started = Instant::now();
                let rows: Vec<(String, f64)> = sqlx::query_as(sql)
                    .bind(7u64)
                    .bind(&from)
                    .fetch_all(&pool)
                    .await?;
                runs.push(started.elapsed().as_secs_f64() * 1000.0);
                anyhow::ensure!(rows.len() >= 700, "expected ~720 hours, got {}", rows.len());
            }
            runs.sort_by(f64::total_cmp);
            anyhow::Ok(runs[2])
        }
    };
    let from_rollup = time(
        "SELECT DATE_FORMAT(bucket_start, '%Y-%m-%d %H'), CAST(latency_sum / checks AS DOUBLE) FROM ping_stats_hourly \
         WHERE monitor_id = ? AND bucket_start >= ? ORDER BY bucket_start",
    )
    .await?;
    let from_raw = time(
        "SELECT DATE_FORMAT(scheduled_at, '%Y-%m-%d %H') AS h, CAST(AVG(latency_ms) AS DOUBLE) FROM ping_results \
         WHERE monitor_id = ? AND scheduled_at >= ? GROUP BY h ORDER BY h",
    )
    .await?;
    println!(
        "(c) {raw_rows} raw rows (generated in {generate_seconds:.0} s, rolled up in {rollup_seconds:.0} s): \
         hourly average over 30 days, one monitor: rollup {from_rollup:.2} ms, raw {from_raw:.1} ms"
    );
    let results = json!({
        "date": Utc::now().to_rfc3339(),
        "records": count, "raw_insert_rows_per_second": raw_rate, "ingestor_rows_per_second": drain_rate,
        "ratio": drain_rate / raw_rate, "raw_rows": raw_rows, "rollup_seconds": rollup_seconds,
        "query_from_rollup_ms": from_rollup, "query_from_raw_ms": from_raw,
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/ingestor.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    println!("wrote {}", path.display());
    Ok(())
}
