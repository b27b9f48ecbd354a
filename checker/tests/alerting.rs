//! Alert evaluation against the real MariaDB, Redis and RabbitMQ: incidents open and
//! resolve, rules fire at their threshold once per cooldown (event time), levels fire on
//! the exact count once per incident, and neither a redelivered result nor a second
//! replica processing the same results raises anything twice.

use std::sync::Arc;

use checker::{
    alerting::{Evaluator, cooldown::Cooldown, rules::RuleCache},
    metrics::Metrics,
    state,
};
use chrono::{DateTime, TimeZone, Utc};
use common::amqp::QueueType;
use crds::contract::{ErrorKind, Names, TelemetryRecord};
use prometheus::Registry;
use sentinel_testkit::{SeedMonitor, TestDb, TestRedis, TestVhost};
use serde_json::json;

async fn evaluator(db: &TestDb, redis: &TestRedis, vhost: &TestVhost) -> Evaluator {
    let client = redis::Client::open(redis.url.as_str()).unwrap();
    let connection = redis::aio::ConnectionManager::new(client).await.unwrap();
    Evaluator::new(
        Arc::new(RuleCache::load(&db.pool).await.unwrap()),
        Cooldown::new(connection, Names::new(redis.prefix.clone())),
        &vhost.amqp_url,
        QueueType::Classic,
        Metrics::register(&Registry::new()),
    )
}

fn at(minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, minute, second)
        .unwrap()
}

fn result(slot: DateTime<Utc>, ok: bool) -> TelemetryRecord {
    TelemetryRecord {
        v: 1,
        monitor_id: 1,
        scheduled_at: slot,
        started_at: slot,
        generation: 1,
        ok,
        status_code: Some(if ok { 200 } else { 503 }),
        latency_ms: 3,
        timings: Default::default(),
        error_kind: (!ok).then_some(ErrorKind::Status),
        error: (!ok).then(|| "HTTP 503".to_string()),
        cert_expires_at: None,
    }
}

/// `(key suffix after the incident id, channel id)` of every stored notification.
async fn raised(db: &TestDb) -> Vec<(String, u64)> {
    let rows: Vec<(String, u64)> =
        sqlx::query_as("SELECT idempotency_key, channel_id FROM notifications ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    rows.into_iter()
        .map(|(key, channel)| (key.split_once('/').unwrap().1.to_string(), channel))
        .collect()
}

async fn setup() -> (TestDb, TestRedis, TestVhost, u64, u64) {
    let db = TestDb::create().await;
    db.insert_monitors(&[SeedMonitor::new(1, "web", "http://127.0.0.1:9/")], true)
        .await;
    let settings = json!({"webhook": {"url": "http://127.0.0.1:9/hook"}});
    let a = db
        .insert_channel("a", "webhook", settings.clone(), None)
        .await;
    let b = db.insert_channel("b", "webhook", settings, None).await;
    (
        db,
        TestRedis::create().await,
        TestVhost::create().await,
        a,
        b,
    )
}

#[tokio::test]
async fn redeliveries_and_two_replicas_raise_every_notification_once() {
    let (db, redis, vhost, a, b) = setup().await;
    let rule = db
        .insert_rule("page", "web", "a", "Failure", 2, 3_600_000)
        .await;
    let policy = db.insert_policy("oncall", &[(2, "b"), (3, "b")]).await;
    let replica_1 = evaluator(&db, &redis, &vhost).await;
    let replica_2 = evaluator(&db, &redis, &vhost).await;

    let failures: Vec<TelemetryRecord> = (0..4).map(|i| result(at(0, i * 10), false)).collect();
    for record in &failures {
        let batch = std::slice::from_ref(record);
        // Both replicas get the same result at once (a redelivery racing the original).
        let (one, two) = tokio::join!(
            state::apply_batch(&db.pool, batch, Some(&replica_1)),
            state::apply_batch(&db.pool, batch, Some(&replica_2)),
        );
        let raised_now = one.unwrap().notifications.len() + two.unwrap().notifications.len();
        // And once more later, as a plain redelivery.
        let again = state::apply_batch(&db.pool, batch, Some(&replica_1))
            .await
            .unwrap();
        assert!(again.transitions.is_empty() && again.notifications.is_empty());
        let expected = match record.scheduled_at {
            t if t == at(0, 10) => 2, // rule at threshold + level 1
            t if t == at(0, 20) => 1, // level 2; the rule is in its cooldown
            _ => 0,
        };
        assert_eq!(raised_now, expected, "at {}", record.scheduled_at);
    }
    assert_eq!(
        raised(&db).await,
        vec![
            (format!("rule/{rule}/failure/2"), a),
            (format!("policy/{policy}/level/1"), b),
            (format!("policy/{policy}/level/2"), b),
        ]
    );
    let (incident, open): (String, i64) =
        sqlx::query_as("SELECT id, COUNT(*) OVER () FROM incidents WHERE resolved_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(open, 1, "one outage, one incident");
    let current: Option<String> =
        sqlx::query_scalar("SELECT current_incident_id FROM monitor_state WHERE monitor_id = 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(current.as_deref(), Some(incident.as_str()));

    // Recovery resolves the incident and tells the escalated channel (not the
    // failure-only rule's).
    let recovered = state::apply_batch(&db.pool, &[result(at(0, 40), true)], Some(&replica_2))
        .await
        .unwrap();
    assert_eq!(recovered.notifications.len(), 1);
    assert_eq!(
        raised(&db).await.last().unwrap(),
        &(format!("recovered/channel/{b}"), b)
    );
    let (resolved, duration_ms, max_failures, first_error): (Option<chrono::NaiveDateTime>, u64, u32, String) =
        sqlx::query_as(
            "SELECT resolved_at, duration_ms, max_consecutive_failures, first_error FROM incidents WHERE id = ?",
        )
        .bind(&incident)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(resolved, Some(at(0, 40).naive_utc()));
    assert_eq!((duration_ms, max_failures), (40_000, 4));
    assert_eq!(first_error, "HTTP 503");
    let current: Option<String> =
        sqlx::query_scalar("SELECT current_incident_id FROM monitor_state WHERE monitor_id = 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(current, None);
}

#[tokio::test]
async fn the_cooldown_expires_in_event_time_and_disabled_rules_stay_silent() {
    let (db, redis, vhost, a, _) = setup().await;
    let rule = db.insert_rule("page", "web", "a", "Both", 1, 60_000).await;
    let evaluator = evaluator(&db, &redis, &vhost).await;
    for second in [0, 30, 60, 90] {
        state::apply_batch(
            &db.pool,
            &[result(at(1, 0) + chrono::TimeDelta::seconds(second), false)],
            Some(&evaluator),
        )
        .await
        .unwrap();
    }
    assert_eq!(
        raised(&db).await,
        vec![
            (format!("rule/{rule}/failure/1"), a),
            (format!("rule/{rule}/failure/3"), a),
        ],
        "once per 60 s window of slot time"
    );

    // Disabling the rule reaches the cache on refresh; nothing fires any more, not even
    // after the cooldown or on recovery.
    sqlx::query("UPDATE alert_rules SET enabled = 0, generation = 2 WHERE id = ?")
        .bind(rule)
        .execute(&db.pool)
        .await
        .unwrap();
    assert!(
        evaluator.rules().refresh(&db.pool).await.unwrap(),
        "change seen"
    );
    assert!(
        !evaluator.rules().refresh(&db.pool).await.unwrap(),
        "no change, no reload"
    );
    for (minute, ok) in [(5, false), (6, true)] {
        state::apply_batch(&db.pool, &[result(at(minute, 0), ok)], Some(&evaluator))
            .await
            .unwrap();
    }
    assert_eq!(raised(&db).await.len(), 2);
}
