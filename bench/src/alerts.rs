//! `bench-alerts`: how long an outage takes to reach a webhook, and how many notifications
//! per second the notifier delivers.
//!
//! ```text
//!  (a) alert latency   M monitors every 10 s, an AlertRule with threshold 3 → webhook.
//!                      After every monitor has passed once, all targets start failing at T0;
//!                      latency = arrival at the webhook receiver − T0
//!                      (goal: ≤ threshold × interval + 2 s = 32 s), and the pipeline's own
//!                      part = arrival − slot of the third failed check.
//!                      Real scheduler (wall clock), checker with evaluation, notifier.
//!  (b) delivery rate   N notifications stored and published at once → notifier → local
//!                      webhook receiver, against raw signed POSTs of the same bodies at the
//!                      same concurrency (the ceiling on this machine).
//! ```
//!
//! Uses the real MariaDB, RabbitMQ and Redis on 127.0.0.1 (own database, vhost, key
//! prefix). Prints a table and writes `bench/results/alerts.json`.
//! Run: `cargo run --release -p sentinel-bench --bin bench-alerts -- [--monitors M]
//! [--notifications N]`.

#[path = "flags.rs"]
mod flags;

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use checker::{
    alerting::{Evaluator, cooldown::Cooldown, rules::RuleCache},
    consumer::{Checker, Options},
    metrics::{Metrics, NotifierMetrics},
    notify::{self, Notifier, outbox},
    probe::Client,
    telemetry::TelemetryWriter,
};
use chrono::{DateTime, Utc};
use common::amqp::{ConfirmingPublisher, QueueType};
use crds::contract::{
    self, CheckConfig, MonitorRef, Names, Notification, NotificationKind, QueueNames,
};
use futures::{FutureExt, future::Shared};
use operator::scheduler::{self, Publisher, Scheduler, SystemClock};
use prometheus::Registry;
use sentinel_testkit::{Reply, SeedMonitor, TargetServer, TestDb, TestRedis, TestVhost};
use serde_json::json;

type Stop = Shared<futures::future::BoxFuture<'static, ()>>;

const INTERVAL_S: i64 = 10;
const THRESHOLD: u32 = 3;

fn main() -> anyhow::Result<()> {
    let monitors = flags::number("--monitors", 20);
    let notifications = flags::number("--notifications", 5_000);
    tokio::runtime::Runtime::new()?.block_on(run(monitors, notifications))
}

struct Rig {
    db: TestDb,
    vhost: TestVhost,
    redis: TestRedis,
    receiver: TargetServer,
    stop: Stop,
    stop_tx: Option<tokio::sync::oneshot::Sender<()>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Rig {
    async fn new() -> Self {
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let stop: Stop = async move {
            let _ = stop_rx.await;
        }
        .boxed()
        .shared();
        let receiver = TargetServer::start().await;
        receiver.set("/hook", Reply::ok("ok"));
        Self {
            db: TestDb::create().await,
            vhost: TestVhost::create().await,
            redis: TestRedis::create().await,
            receiver,
            stop,
            stop_tx: Some(stop_tx),
            tasks: Vec::new(),
        }
    }

    async fn webhook(&self, name: &str) -> u64 {
        self.db
            .insert_channel(
                name,
                "webhook",
                json!({"webhook": {"url": self.receiver.url("/hook")}}),
                None,
            )
            .await
    }

    /// Starts a notifier with a pool as large as the binary's (16 connections).
    async fn start_notifier(&mut self, options: notify::Options) {
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(16)
            .connect(&self.db.url)
            .await
            .expect("a notifier pool");
        let notifier = Arc::new(
            Notifier::new(
                pool,
                None,
                options,
                NotifierMetrics::register(&Registry::new()),
                &self.vhost.amqp_url,
                QueueType::Classic,
            )
            .expect("notifier"),
        );
        let (url, stop) = (self.vhost.amqp_url.clone(), self.stop.clone());
        self.tasks.push(tokio::spawn(async move {
            let (connected, _) = tokio::sync::watch::channel(false);
            notifier
                .run(&url, QueueType::Classic, connected, stop)
                .await;
        }));
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop_tx.take() {
            let _ = stop.send(());
        }
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

async fn run(monitors: usize, notifications: usize) -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "bench-alerts: {monitors} monitors every {INTERVAL_S} s, threshold {THRESHOLD}; {notifications} notifications; {cores} cores"
    );
    let latency = alert_latency(monitors).await?;
    let goal = f64::from(THRESHOLD) * INTERVAL_S as f64 + 2.0;
    println!(
        "(a) alert latency (T0 → webhook): min {:.1} s  p50 {:.1} s  max {:.1} s  (goal ≤ {goal:.0} s: {})",
        latency.min,
        latency.p50,
        latency.max,
        if latency.max <= goal { "met" } else { "MISSED" }
    );
    println!(
        "    pipeline part (3rd failed slot → webhook): p50 {:.0} ms  max {:.0} ms",
        latency.pipeline_p50_ms, latency.pipeline_max_ms
    );
    let delivery = delivery_rate(notifications).await?;
    println!(
        "(b) raw signed POSTs:   {:>7.0} /s\n    notifier delivered:  {:>7.0} /s  (ratio {:.2}; each delivery commits a claim and a `sent` row in MySQL)",
        delivery.raw,
        delivery.notifier,
        delivery.notifier / delivery.raw
    );
    let results = json!({
        "measured_at": Utc::now().to_rfc3339(),
        "cores": cores,
        "alert_latency": {
            "monitors": monitors, "interval_s": INTERVAL_S, "threshold": THRESHOLD,
            "min_s": latency.min, "p50_s": latency.p50, "max_s": latency.max, "goal_s": goal,
            "pipeline_p50_ms": latency.pipeline_p50_ms, "pipeline_max_ms": latency.pipeline_max_ms,
        },
        "delivery": {
            "notifications": notifications,
            "raw_per_s": delivery.raw, "notifier_per_s": delivery.notifier,
            "ratio": delivery.notifier / delivery.raw,
        },
    });
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/alerts.json");
    std::fs::write(&path, serde_json::to_string_pretty(&results)? + "\n")?;
    println!("written to {}", path.display());
    Ok(())
}

struct Latency {
    min: f64,
    p50: f64,
    max: f64,
    pipeline_p50_ms: f64,
    pipeline_max_ms: f64,
}

async fn alert_latency(monitors: usize) -> anyhow::Result<Latency> {
    let mut rig = Rig::new().await;
    let target = TargetServer::start().await;
    let seeds: Vec<SeedMonitor> = (1..=monitors as u64)
        .map(|id| {
            let url = target.url(&format!("/m{id}"));
            target.set(&format!("/m{id}"), Reply::ok("ok"));
            let spec = serde_json::from_value(
                json!({"url": url, "interval": format!("{INTERVAL_S}s"), "timeout": "2s"}),
            )
            .expect("a valid spec");
            SeedMonitor {
                interval_ms: (INTERVAL_S * 1000) as u32,
                check_config: serde_json::to_string(&CheckConfig::from_spec(
                    "shop",
                    &format!("m{id}"),
                    1,
                    &spec,
                ))
                .expect("config serialises"),
                ..SeedMonitor::new(id, format!("m{id}"), url)
            }
        })
        .collect();
    rig.db.insert_monitors(&seeds, true).await;
    rig.webhook("hook").await;
    for seed in &seeds {
        rig.db
            .insert_rule(
                &format!("r-{}", seed.name),
                &seed.name,
                "hook",
                "Failure",
                THRESHOLD,
                3_600_000,
            )
            .await;
    }

    let registry = Registry::new();
    let metrics = Metrics::register(&registry);
    let names = Names::new(rig.redis.prefix.clone());
    let telemetry = TelemetryWriter::connect(&rig.redis.url, &names).await?;
    let evaluator = Arc::new(Evaluator::new(
        Arc::new(RuleCache::load(&rig.db.pool).await?),
        Cooldown::new(telemetry.connection(), names),
        &rig.vhost.amqp_url,
        QueueType::Classic,
        metrics.clone(),
    ));
    let checker = Arc::new(
        Checker::new(
            Client::new(64 * 1024, false),
            rig.db.pool.clone(),
            telemetry,
            None,
            metrics,
            Options {
                prefetch: 20,
                concurrency: 256,
                drain_timeout: Duration::from_secs(5),
            },
        )
        .with_alerting(evaluator),
    );
    let (url, stop) = (rig.vhost.amqp_url.clone(), rig.stop.clone());
    rig.tasks.push(tokio::spawn(async move {
        let (connected, _) = tokio::sync::watch::channel(false);
        checker.run(&url, QueueType::Classic, connected, stop).await;
    }));
    rig.start_notifier(notify::Options::default()).await;
    let mut scheduler = Scheduler::new(
        rig.db.pool.clone(),
        Publisher::new(&rig.vhost.amqp_url, QueueType::Classic),
        SystemClock,
        scheduler::Options {
            tick: Duration::from_millis(200),
            ..scheduler::Options::default()
        },
        scheduler::Metrics::register(&Registry::new()),
    );
    let scheduler_stop = rig.stop.clone();
    rig.tasks.push(tokio::spawn(async move {
        loop {
            tokio::select! {
                () = scheduler_stop.clone() => return,
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if let Err(e) = scheduler.tick().await {
                        eprintln!("scheduler tick failed: {e}");
                    }
                }
            }
        }
    }));

    // Warm up: every monitor passes once (they start Pending).
    let deadline = Instant::now() + Duration::from_secs(3 * INTERVAL_S as u64);
    loop {
        let up: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM monitor_state WHERE health = 'Up'")
            .fetch_one(&rig.db.pool)
            .await?;
        if up as usize == monitors {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "monitors did not come up ({up}/{monitors})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The outage.
    let t0 = Utc::now();
    let t0_instant = Instant::now();
    for seed in &seeds {
        target.set(&format!("/m{}", seed.id), Reply::status(503));
    }
    let mut arrived: BTreeMap<String, (f64, DateTime<Utc>)> = BTreeMap::new();
    let deadline = t0_instant + Duration::from_secs(3 * THRESHOLD as u64 * INTERVAL_S as u64);
    while arrived.len() < monitors && Instant::now() < deadline {
        for request in rig.receiver.requests_to("/hook") {
            let body: serde_json::Value = serde_json::from_slice(&request.body)?;
            let name = body["monitor"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let std::collections::btree_map::Entry::Vacant(entry) = arrived.entry(name) {
                let slot: DateTime<Utc> = serde_json::from_value(body["slot"].clone())?;
                entry.insert((t0_instant.elapsed().as_secs_f64(), slot));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    rig.stop().await;
    anyhow::ensure!(
        arrived.len() == monitors,
        "only {} of {monitors} alerts arrived",
        arrived.len()
    );
    let mut seconds: Vec<f64> = arrived.values().map(|(s, _)| *s).collect();
    seconds.sort_by(f64::total_cmp);
    // Arrival as wall-clock time, minus the slot of the third failed check.
    let mut pipeline: Vec<f64> = arrived
        .values()
        .map(|(s, slot)| {
            let arrival = t0 + chrono::TimeDelta::milliseconds((s * 1000.0) as i64);
            (arrival - *slot).num_milliseconds().max(0) as f64
        })
        .collect();
    pipeline.sort_by(f64::total_cmp);
    Ok(Latency {
        min: seconds[0],
        p50: seconds[seconds.len() / 2],
        max: seconds[seconds.len() - 1],
        pipeline_p50_ms: pipeline[pipeline.len() / 2],
        pipeline_max_ms: pipeline[pipeline.len() - 1],
    })
}

struct Delivery {
    raw: f64,
    notifier: f64,
}

fn sample(key: String, channel_id: u64) -> Notification {
    let now = Utc::now();
    Notification {
        v: contract::VERSION,
        key,
        kind: NotificationKind::Failure,
        level: None,
        channel_id,
        incident_id: uuid::Uuid::now_v7().to_string(),
        monitor: MonitorRef {
            id: 1,
            namespace: "shop".into(),
            name: "m1".into(),
            url: "http://127.0.0.1/".into(),
        },
        consecutive_failures: 3,
        since: now,
        error: Some("HTTP 503".into()),
        error_kind: None,
        slot: now,
        created_at: now,
    }
}

/// Concurrency of both sides: the notifier's prefetch (64) over 8 channels × 8 each.
const CONCURRENCY: usize = 64;
const CHANNELS: u64 = 8;

async fn delivery_rate(count: usize) -> anyhow::Result<Delivery> {
    let mut rig = Rig::new().await;
    rig.db
        .insert_monitors(&[SeedMonitor::new(1, "m1", "http://127.0.0.1/")], true)
        .await;
    let mut channels = Vec::new();
    for i in 0..CHANNELS {
        channels.push(rig.webhook(&format!("hook{i}")).await);
    }
    let batch: Vec<Notification> = (0..count)
        .map(|i| sample(format!("bench/{i}"), channels[i % channels.len()]))
        .collect();

    // Ceiling: the same bodies, signed and POSTed with the same concurrency.
    let client = reqwest::Client::new();
    let url = rig.receiver.url("/hook");
    let started = Instant::now();
    let bodies = Arc::new(
        batch
            .iter()
            .map(|n| serde_json::to_vec(&json!({"key": n.key, "monitor": n.monitor.name})))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (client, url, bodies, next) =
            (client.clone(), url.clone(), bodies.clone(), next.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(i) else { return };
                let signature = checker::notify::channels::webhook_signature("secret", body);
                let _ = client
                    .post(&url)
                    .header("X-Signature", signature)
                    .body(body.clone())
                    .send()
                    .await;
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let raw = count as f64 / started.elapsed().as_secs_f64();

    // The notifier: rows stored and messages published first, then the notifier starts.
    let mut connection = rig.db.pool.acquire().await?;
    for n in &batch {
        outbox::insert(&mut connection, n).await?;
    }
    drop(connection);
    let mut publisher = ConfirmingPublisher::new(
        &rig.vhost.amqp_url,
        QueueType::Classic,
        QueueNames::EXCHANGE,
    );
    for chunk in batch.chunks(1000) {
        checker::alerting::publish(&mut publisher, chunk).await?;
    }
    let before = rig.receiver.requests_to("/hook").len();
    let started = Instant::now();
    rig.start_notifier(notify::Options {
        prefetch: CONCURRENCY as u16,
        per_channel: CONCURRENCY / CHANNELS as usize,
        ..notify::Options::default()
    })
    .await;
    let deadline = started + Duration::from_secs(300);
    loop {
        let sent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE status = 'sent'")
                .fetch_one(&rig.db.pool)
                .await?;
        if sent as usize >= count {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {sent} of {count} delivered in 300 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let notifier = count as f64 / started.elapsed().as_secs_f64();
    let delivered = rig.receiver.requests_to("/hook").len() - before;
    rig.stop().await;
    anyhow::ensure!(
        delivered == count,
        "{delivered} requests for {count} notifications"
    );
    Ok(Delivery { raw, notifier })
}
