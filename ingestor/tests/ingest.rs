//! Ingestion against the real Redis and MariaDB: every record becomes exactly one row,
//! whatever crashes, redeliveries or MySQL outages happen in between.

use std::time::Duration;

use chrono::{TimeDelta, TimeZone, Utc};
use crds::contract::{self, Names, TelemetryRecord};
use ingestor::{
    ingest::{Ingestor, Options},
    metrics::Metrics,
};
use sentinel_testkit::{TcpProxy, TestDb, TestRedis, wait};

fn record(n: u64) -> TelemetryRecord {
    let slot = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap()
        + TimeDelta::seconds(i64::try_from(n / 100).unwrap());
    TelemetryRecord {
        v: contract::VERSION,
        monitor_id: n % 100 + 1,
        scheduled_at: slot,
        started_at: slot + TimeDelta::milliseconds(5),
        generation: 1,
        ok: !n.is_multiple_of(7),
        status_code: Some(200),
        latency_ms: u32::try_from(n % 300).unwrap(),
        timings: Default::default(),
        error_kind: None,
        error: None,
        cert_expires_at: None,
    }
}

async fn push(redis: &TestRedis, records: impl Iterator<Item = TelemetryRecord>) {
    let mut connection = redis.connection().await;
    let stream = Names::new(redis.prefix.clone()).telemetry_stream();
    let records: Vec<TelemetryRecord> = records.collect();
    for chunk in records.chunks(5000) {
        let mut pipe = redis::pipe();
        for r in chunk {
            pipe.cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg("r")
                .arg(contract::encode(r))
                .ignore();
        }
        pipe.query_async::<()>(&mut connection).await.unwrap();
    }
}

async fn ingestor(
    redis: &TestRedis,
    pool: sqlx::MySqlPool,
    consumer: &str,
    claim: Duration,
) -> Ingestor {
    Ingestor::new(
        &redis.url,
        pool,
        Names::new(redis.prefix.clone()),
        Options {
            batch_size: 1000,
            flush_interval: Duration::from_millis(50),
            claim_timeout: claim,
            consumer: consumer.into(),
        },
        Metrics::register(&prometheus::Registry::new()),
    )
    .await
    .unwrap()
}

async fn rows(db: &TestDb) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM ping_results")
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// Drains the stream with repeated read/store steps.
async fn drain(ingestor: &Ingestor) {
    loop {
        let entries = ingestor.read().await.unwrap();
        if entries.is_empty() {
            return;
        }
        ingestor.store(&entries).await.unwrap();
    }
}

async fn pending(redis: &TestRedis) -> u64 {
    let mut connection = redis.connection().await;
    let names = Names::new(redis.prefix.clone());
    let reply: redis::Value = redis::cmd("XPENDING")
        .arg(names.telemetry_stream())
        .arg(names.telemetry_group())
        .query_async(&mut connection)
        .await
        .unwrap();
    match reply {
        redis::Value::Array(parts) => redis::from_redis_value(parts[0].clone()).unwrap(),
        _ => 0,
    }
}

#[tokio::test]
async fn a_hundred_thousand_records_make_exactly_a_hundred_thousand_rows_even_when_sent_twice() {
    let db = TestDb::create().await;
    let redis = TestRedis::create().await;
    let ingestor = ingestor(&redis, db.pool.clone(), "a", Duration::from_secs(60)).await;
    push(&redis, (0..100_000).map(record)).await;
    drain(&ingestor).await;
    assert_eq!(rows(&db).await, 100_000);
    push(&redis, (0..100_000).map(record)).await;
    drain(&ingestor).await;
    assert_eq!(
        rows(&db).await,
        100_000,
        "duplicates of (monitor, slot) are ignored"
    );
    assert_eq!(
        ingestor.backlog().await.unwrap(),
        0,
        "stored entries leave the stream"
    );
    assert_eq!(pending(&redis).await, 0);
}

#[tokio::test]
async fn a_crash_between_insert_and_ack_neither_loses_nor_doubles() {
    let db = TestDb::create().await;
    let redis = TestRedis::create().await;
    push(&redis, (0..2_500).map(record)).await;
    let first = ingestor(
        &redis,
        db.pool.clone(),
        "replica-0",
        Duration::from_secs(60),
    )
    .await;
    let entries = first.read().await.unwrap();
    let records: Vec<TelemetryRecord> = entries
        .iter()
        .map(|e| contract::decode("telemetry record", e.payload.as_deref().unwrap()).unwrap())
        .collect();
    ingestor::ingest::insert(&db.pool, &records).await.unwrap();
    drop(first); // crashed: inserted, never acked
    assert_eq!(pending(&redis).await, 1000);

    let restarted = ingestor(
        &redis,
        db.pool.clone(),
        "replica-0",
        Duration::from_secs(60),
    )
    .await;
    drain(&restarted).await;
    assert_eq!(rows(&db).await, 2_500);
    assert_eq!(pending(&redis).await, 0);
}

#[tokio::test]
async fn entries_of_a_consumer_that_died_before_inserting_are_claimed_by_another() {
    let db = TestDb::create().await;
    let redis = TestRedis::create().await;
    push(&redis, (0..1_500).map(record)).await;
    let dead = ingestor(&redis, db.pool.clone(), "gone", Duration::from_millis(200)).await;
    assert_eq!(dead.read().await.unwrap().len(), 1000);
    drop(dead); // read (pending under "gone"), never inserted

    let survivor = ingestor(
        &redis,
        db.pool.clone(),
        "survivor",
        Duration::from_millis(200),
    )
    .await;
    wait::until(
        "the survivor to claim and store everything",
        Duration::from_secs(10),
        || async {
            drain(&survivor).await;
            (rows(&db).await == 1_500 && pending(&redis).await == 0).then_some(())
        },
    )
    .await;
    assert_eq!(rows(&db).await, 1_500);
}

#[tokio::test]
async fn mysql_unreachable_grows_the_backlog_and_it_drains_when_mysql_returns() {
    let db = TestDb::create().await;
    let redis = TestRedis::create().await;
    let proxy = TcpProxy::start("127.0.0.1:3306".parse().unwrap()).await;
    let url = db.url.replace("127.0.0.1:3306", &proxy.addr.to_string());
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_millis(500))
        .connect(&url)
        .await
        .unwrap();
    let ingestor = ingestor(&redis, pool, "a", Duration::from_secs(60)).await;
    proxy.cut();
    push(&redis, (0..3_000).map(record)).await;
    let (ready, mut ready_rx) = tokio::sync::watch::channel(true);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runner = ingestor.clone();
    let task = tokio::spawn(async move {
        runner
            .run(ready, async {
                let _ = stopped.await;
            })
            .await;
    });
    tokio::time::timeout(Duration::from_secs(10), ready_rx.wait_for(|r| !*r))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ingestor.backlog().await.unwrap(),
        3_000,
        "nothing acknowledged while MySQL is away"
    );
    assert_eq!(rows(&db).await, 0);

    proxy.restore();
    wait::until("the backlog to drain", Duration::from_secs(30), || async {
        (ingestor.backlog().await.unwrap() == 0).then_some(())
    })
    .await;
    assert_eq!(rows(&db).await, 3_000);
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn malformed_entries_go_to_the_dead_stream_without_blocking_the_rest() {
    let db = TestDb::create().await;
    let redis = TestRedis::create().await;
    let names = Names::new(redis.prefix.clone());
    let mut connection = redis.connection().await;
    push(&redis, (0..10).map(record)).await;
    for (field, value) in [("r", "{not json"), ("r", r#"{"v": 9}"#), ("other", "x")] {
        let _: String = redis::cmd("XADD")
            .arg(names.telemetry_stream())
            .arg("*")
            .arg(field)
            .arg(value)
            .query_async(&mut connection)
            .await
            .unwrap();
    }
    push(&redis, (10..20).map(record)).await;
    let ingestor = ingestor(&redis, db.pool.clone(), "a", Duration::from_secs(60)).await;
    drain(&ingestor).await;
    assert_eq!(rows(&db).await, 20);
    let dead: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(names.telemetry_dead_stream())
        .arg("-")
        .arg("+")
        .query_async(&mut connection)
        .await
        .unwrap();
    let reasons: Vec<String> = dead
        .ids
        .iter()
        .map(|e| e.get::<String>("reason").unwrap())
        .collect();
    assert_eq!(reasons.len(), 3);
    assert!(
        reasons[0].contains("failed to decode telemetry record"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("unsupported contract version 9"),
        "{reasons:?}"
    );
    assert_eq!(reasons[2], "entry has no field r");
}

#[tokio::test]
async fn an_idle_read_waits_the_flush_interval_without_a_timeout_error() {
    let db = TestDb::create().await;
    let redis = TestRedis::create().await;
    let ingestor = Ingestor::new(
        &redis.url,
        db.pool.clone(),
        Names::new(redis.prefix.clone()),
        Options {
            batch_size: 10,
            flush_interval: Duration::from_millis(1500),
            claim_timeout: Duration::from_secs(60),
            consumer: "idle".into(),
        },
        Metrics::register(&prometheus::Registry::new()),
    )
    .await
    .unwrap();
    let started = std::time::Instant::now();
    let entries = ingestor
        .read_new()
        .await
        .expect("an empty stream is not an error");
    assert!(entries.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(1400));
}
