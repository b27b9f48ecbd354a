//! `bench-checker`: how fast the checker runs checks, against the ceiling of a minimal
//! fresh-connection client on the same machine, and how fast the scheduler dispatches.
//!
//! ```text
//!  target process (this binary, `target` mode): answers 200 "ok" on 127.0.0.1
//!  (a) raw ceiling   N fresh-connection GETs at concurrency C, minimal hyper client
//!  (b) checker       N checks pre-published as batches of 50 → checker → Redis + MySQL, acked
//!  (c) schedule lag  batches published at a steady pace (half of b's rate), slot = publish time
//!  (d) scheduler     100,000 due monitors → one tick → batches confirmed by RabbitMQ
//! ```
//!
//! Uses the real MariaDB, RabbitMQ and Redis on 127.0.0.1 (its own database, vhost and key
//! prefix, removed afterwards). Prints a table and writes `bench/results/checker.json`.
//! Run: `cargo run --release -p sentinel-bench --bin bench-checker -- [--checks N]
//! [--concurrency C] [--dispatch-monitors M]`.

#[path = "flags.rs"]
mod flags;
#[path = "procs.rs"]
mod procs;

use std::{
    convert::Infallible,
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context as _;
use bytes::Bytes;
use checker::{
    consumer::{Checker, Options},
    metrics::Metrics,
    probe::Client,
    telemetry::TelemetryWriter,
};
use chrono::Utc;
use common::amqp::{self, QueueType};
use crds::contract::{
    self, CheckBatch, CheckConfig, CheckRequest, Names, QueueNames, TelemetryRecord,
};
use futures::FutureExt;
use http_body_util::{BodyExt, Empty, Full};
use lapin::{
    BasicProperties,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};
use operator::scheduler::{self, Publisher, Scheduler, SystemClock};
use sentinel_testkit::{SeedMonitor, TestDb, TestRedis, TestVhost};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Runtime::new()?;
    if args.get(1).map(String::as_str) == Some("target") {
        return runtime.block_on(serve_target());
    }
    let checks = flags::number("--checks", 20_000);
    let concurrency = flags::number("--concurrency", 256);
    let dispatch_monitors = flags::number("--dispatch-monitors", 100_000);
    runtime.block_on(run(checks, concurrency, dispatch_monitors))
}

/// The target: 200 "ok" for every request, as fast as hyper goes.
async fn serve_target() -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?.port());
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|_request| async {
                Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"ok"))))
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// CPU seconds (user + system) this process has used.
fn cpu_seconds() -> f64 {
    procs::usage(std::process::id()).0
}

/// Peak resident set size in MiB since the last reset.
fn peak_rss_mib() -> f64 {
    procs::usage(std::process::id()).1
}

fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn run(checks: usize, concurrency: usize, dispatch_monitors: usize) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut child = Command::new(std::env::current_exe()?)
        .arg("target")
        .stdout(Stdio::piped())
        .spawn()
        .context("start the target process")?;
    let port: u16 = BufReader::new(child.stdout.take().context("target stdout")?)
        .lines()
        .next()
        .context("target port")??
        .trim()
        .parse()?;
    let url = format!("http://127.0.0.1:{port}/");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "bench-checker: {checks} checks, concurrency {concurrency}, {cores} cores, target {url}"
    );

    let raw = raw_ceiling(port, checks, concurrency).await;
    println!(
        "(a) raw client:  {:>8.0} checks/s  {:.3} ms CPU/check",
        raw.rate, raw.cpu_ms_per_check
    );

    let pipeline = checker_phase(&url, checks, concurrency).await?;
    println!(
        "(b) checker:     {:>8.0} checks/s  {:.3} ms CPU/check  peak RSS {:.0} MiB  ratio {:.2}",
        pipeline.rate,
        pipeline.cpu_ms_per_check,
        pipeline.peak_rss_mib,
        pipeline.rate / raw.rate
    );
    println!(
        "(c) schedule lag at {:.0} checks/s: p50 {:.1} ms  p99 {:.1} ms",
        pipeline.paced_rate, pipeline.lag_p50_ms, pipeline.lag_p99_ms
    );

    let dispatch = dispatch_phase(dispatch_monitors).await?;
    println!(
        "(d) scheduler:   {dispatch_monitors} due monitors dispatched in {:.2} s = {:.0} checks/s",
        dispatch,
        dispatch_monitors as f64 / dispatch
    );

    let _ = child.kill();
    let results = json!({
        "date": Utc::now().to_rfc3339(),
        "host": {"cores": cores, "memory_gib": procs::memory_gib()},
        "checks": checks, "concurrency": concurrency,
        "raw_checks_per_second": raw.rate, "raw_cpu_ms_per_check": raw.cpu_ms_per_check,
        "checker_checks_per_second": pipeline.rate, "checker_cpu_ms_per_check": pipeline.cpu_ms_per_check,
        "ratio": pipeline.rate / raw.rate, "checker_peak_rss_mib": pipeline.peak_rss_mib,
        "paced_checks_per_second": pipeline.paced_rate,
        "schedule_lag_p50_ms": pipeline.lag_p50_ms, "schedule_lag_p99_ms": pipeline.lag_p99_ms,
        "scheduler_monitors": dispatch_monitors, "scheduler_seconds": dispatch,
        "scheduler_checks_per_second": dispatch_monitors as f64 / dispatch,
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/checker.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    println!("wrote {}", path.display());
    Ok(())
}

struct Raw {
    rate: f64,
    cpu_ms_per_check: f64,
}

/// (a) The ceiling: a minimal client, one fresh connection per GET.
async fn raw_ceiling(port: u16, checks: usize, concurrency: usize) -> Raw {
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let cpu = cpu_seconds();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..checks {
        let permit = limit.clone().acquire_owned().await.expect("open semaphore");
        tasks.spawn(async move {
            let _permit = permit;
            let Ok(stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
                return false;
            };
            let Ok((mut sender, connection)) = hyper::client::conn::http1::handshake::<
                _,
                Empty<Bytes>,
            >(hyper_util::rt::TokioIo::new(stream))
            .await
            else {
                return false;
            };
            tokio::spawn(connection);
            let request = hyper::Request::get("/")
                .header("host", "127.0.0.1")
                .body(Empty::new())
                .expect("request");
            match sender.send_request(request).await {
                Ok(response) => response.into_body().collect().await.is_ok(),
                Err(_) => false,
            }
        });
    }
    let ok = tasks.join_all().await.into_iter().filter(|ok| *ok).count();
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    assert_eq!(ok, checks, "the raw client must not fail");
    Raw {
        rate: checks as f64 / elapsed,
        cpu_ms_per_check: cpu * 1000.0 / checks as f64,
    }
}

struct Pipeline {
    rate: f64,
    cpu_ms_per_check: f64,
    peak_rss_mib: f64,
    paced_rate: f64,
    lag_p50_ms: f64,
    lag_p99_ms: f64,
}

const MONITORS: u64 = 1000;

/// (b) and (c): the checker against pre-published and then paced batches.
async fn checker_phase(url: &str, checks: usize, concurrency: usize) -> anyhow::Result<Pipeline> {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let redis = TestRedis::create().await;
    let seeds: Vec<SeedMonitor> = (1..=MONITORS)
        .map(|id| SeedMonitor::new(id, format!("m{id}"), url))
        .collect();
    db.insert_monitors(&seeds, true).await;
    let spec: crds::MonitorSpec =
        serde_json::from_value(json!({"url": url, "interval": "10s", "timeout": "5s"}))?;
    let config = CheckConfig::from_spec("bench", "m", 1, &spec);
    let base = Utc::now() - chrono::TimeDelta::hours(1);
    let batch_for = |first: usize, count: usize, slot: Option<chrono::DateTime<Utc>>| CheckBatch {
        v: contract::VERSION,
        batch_id: uuid::Uuid::now_v7(),
        dispatched_at: Utc::now(),
        checks: (first..first + count)
            .map(|n| CheckRequest {
                monitor_id: (n as u64 % MONITORS) + 1,
                // Distinct slots per monitor so every result moves its state.
                slot: slot.unwrap_or(
                    base + chrono::TimeDelta::milliseconds((n as u64 / MONITORS) as i64 * 10),
                ),
                credentials: None,
                config: config.clone(),
            })
            .collect(),
    };

    let connection = amqp::connect(&vhost.amqp_url).await?;
    let channel = connection.create_channel().await?;
    amqp::declare_topology(&channel, QueueType::Classic).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let publish = |batch: CheckBatch| {
        let channel = channel.clone();
        async move {
            channel
                .basic_publish(
                    QueueNames::EXCHANGE.into(),
                    QueueNames::CHECKS.into(),
                    BasicPublishOptions::default(),
                    &contract::encode(&batch),
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?
                .await?;
            anyhow::Ok(())
        }
    };
    let mut pending = Vec::new();
    for first in (0..checks).step_by(50) {
        pending.push(publish(batch_for(first, 50.min(checks - first), None)));
    }
    futures::future::try_join_all(pending).await?;

    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(16)
        .connect(&db.url)
        .await?;
    let names = Names::new(redis.prefix.clone());
    let telemetry = TelemetryWriter::connect(&redis.url, &names).await?;
    let checker = Arc::new(Checker::new(
        Client::new(1024 * 1024, false),
        pool,
        telemetry,
        None,
        Metrics::register(&prometheus::Registry::new()),
        Options {
            prefetch: 20,
            concurrency,
            drain_timeout: Duration::from_secs(10),
        },
    ));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    }
    .boxed()
    .shared();
    let (connected, _) = tokio::sync::watch::channel(false);
    reset_peak_rss();
    let cpu = cpu_seconds();
    let started = Instant::now();
    let amqp_url = vhost.amqp_url.clone();
    let task = tokio::spawn(async move {
        checker
            .run(&amqp_url, QueueType::Classic, connected, shutdown)
            .await
    });
    let mut redis_connection = redis.connection().await;
    let stream = names.telemetry_stream();
    let length = |connection: &mut redis::aio::MultiplexedConnection| {
        let stream = stream.clone();
        let mut connection = connection.clone();
        async move {
            redis::cmd("XLEN")
                .arg(&stream)
                .query_async::<usize>(&mut connection)
                .await
                .unwrap_or(0)
        }
    };
    while length(&mut redis_connection).await < checks {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    loop {
        let (depth, _) = amqp::queue_depth(&channel, QueueNames::CHECKS).await?;
        if depth == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    let rate = checks as f64 / elapsed;
    let peak = peak_rss_mib();

    // (c) Paced: half the measured rate for 5 s, slot = publish time.
    let paced_rate = (rate / 2.0).max(50.0);
    let batches_per_second = paced_rate / 50.0;
    let interval = Duration::from_secs_f64(1.0 / batches_per_second);
    let total = (batches_per_second * 5.0).ceil() as usize;
    let before = length(&mut redis_connection).await;
    let mut ticker = tokio::time::interval(interval);
    for n in 0..total {
        ticker.tick().await;
        publish(batch_for(checks + n * 50, 50, Some(Utc::now()))).await?;
    }
    while length(&mut redis_connection).await < before + total * 50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(names.telemetry_stream())
        .arg("-")
        .arg("+")
        .query_async(&mut redis_connection)
        .await?;
    let mut lags: Vec<f64> = entries.ids[before..]
        .iter()
        .filter_map(|e| e.get::<Vec<u8>>("r"))
        .filter_map(|bytes| contract::decode::<TelemetryRecord>("telemetry record", &bytes).ok())
        .map(|r| {
            (r.started_at - r.scheduled_at)
                .num_microseconds()
                .unwrap_or(0) as f64
                / 1000.0
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    let percentile = |p: f64| {
        lags.get(((lags.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let _ = stop.send(());
    let _ = task.await;
    Ok(Pipeline {
        rate,
        cpu_ms_per_check: cpu * 1000.0 / checks as f64,
        peak_rss_mib: peak,
        paced_rate,
        lag_p50_ms: percentile(0.5),
        lag_p99_ms: percentile(0.99),
    })
}

/// (d) One scheduler tick over `monitors` due monitors; returns seconds.
async fn dispatch_phase(monitors: usize) -> anyhow::Result<f64> {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let spec: crds::MonitorSpec = serde_json::from_value(json!({"url": "http://127.0.0.1:9/"}))?;
    let config = serde_json::to_string(&CheckConfig::from_spec("bench", "m", 1, &spec))?;
    let seeds: Vec<SeedMonitor> = (1..=monitors as u64)
        .map(|id| SeedMonitor {
            interval_ms: 60_000,
            check_config: config.clone(),
            ..SeedMonitor::new(id, format!("m{id}"), "http://127.0.0.1:9/")
        })
        .collect();
    db.insert_monitors(&seeds, false).await;
    sqlx::query("UPDATE monitors SET next_check_at = NOW(3) - INTERVAL 1 SECOND")
        .execute(&db.pool)
        .await?;
    let mut scheduler = Scheduler::new(
        db.pool.clone(),
        Publisher::new(vhost.amqp_url.clone(), QueueType::Classic),
        SystemClock,
        scheduler::Options::default(),
        scheduler::Metrics::register(&prometheus::Registry::new()),
    );
    let started = Instant::now();
    let report = scheduler.tick().await?;
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.dispatched == monitors,
        "dispatched {} of {monitors}",
        report.dispatched
    );
    Ok(seconds)
}
