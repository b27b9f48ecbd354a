//! The seeds' worked example (seed 001, section 2.10) through the real pipeline: the
//! operator's scheduler on a hand-moved clock dispatches each check, the checker checks
//! a local target that fails, evaluates the rule and the policy, and the notifier delivers
//! to local receivers (email to an SMTP sink; Slack, PagerDuty and the webhook to HTTP
//! receivers). The (time, channel, kind) list must equal the seed's table.
//!
//! ```text
//! AlertRule: threshold 5, cooldown 1h, Failure → email
//! EscalationPolicy: level 1 at 5 → slack, level 2 at 10 → pagerduty, level 3 at 15 → webhook
//! 10:02:00 (5)  email + slack · 10:15:00 (10) pagerduty · 10:30:00 (15) webhook
//! 11:05:00 (20) email again (the hour has passed)
//! ```
//!
//! The seed's table spaces the failures irregularly (30 s apart up to 10:03, then further),
//! so the test places each check's slot itself before moving the clock there.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use checker::{
    alerting::{Evaluator, cooldown::Cooldown, rules::RuleCache},
    consumer::{Checker, Options},
    metrics::{Metrics, NotifierMetrics},
    notify::{self, Notifier},
    probe::Client,
    telemetry::TelemetryWriter,
};
use chrono::{DateTime, TimeZone, Utc};
use common::{amqp::QueueType, credentials::Sealer};
use crds::contract::{CheckConfig, Names};
use futures::{FutureExt, future::Shared};
use operator::scheduler::{self, Clock, Publisher, Scheduler};
use prometheus::Registry;
use sentinel_testkit::{
    Reply, SeedMonitor, SmtpSink, TargetServer, TestDb, TestRedis, TestVhost, channel_uid, wait,
};
use serde_json::json;

type Stop = Shared<futures::future::BoxFuture<'static, ()>>;

#[derive(Clone)]
struct HandClock(Arc<Mutex<DateTime<Utc>>>);

impl Clock for HandClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn t(hour: u32, minute: u32, second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, hour, minute, second)
        .unwrap()
}

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn the_seed_timeline_comes_out_exactly() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let redis = TestRedis::create().await;
    let target = TargetServer::start().await;
    target.set("/health", Reply::status(503));
    let receivers = TargetServer::start().await;
    for path in ["/slack", "/hook"] {
        receivers.set(path, Reply::ok("ok"));
    }
    receivers.set("/v2/enqueue", Reply::status(202));
    let smtp = SmtpSink::start().await;
    let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
    let seal = |channel: &str, key: &str, value: &str| {
        Some(sealer.seal(
            &channel_uid(channel),
            &BTreeMap::from([(key.to_string(), value.to_string())]),
        ))
    };

    // The monitor, checked every 30 s, and the seed's configuration.
    let url = target.url("/health");
    let config = CheckConfig::from_spec(
        "shop",
        "checkout",
        1,
        &serde_json::from_value(json!({"url": url, "interval": "30s", "timeout": "2s"})).unwrap(),
    );
    db.insert_monitors(
        &[SeedMonitor {
            interval_ms: 30_000,
            check_config: serde_json::to_string(&config).unwrap(),
            ..SeedMonitor::new(1, "checkout", url.clone())
        }],
        true,
    )
    .await;
    let mut names = BTreeMap::new();
    let email = db
        .insert_channel(
            "email",
            "email",
            json!({"email": {"smtpHost": "127.0.0.1", "smtpPort": smtp.addr.port(), "security": "None",
                   "from": "alerts@example.com", "to": ["oncall@example.com"]}}),
            None,
        )
        .await;
    let slack = db
        .insert_channel(
            "slack",
            "slack",
            json!({}),
            seal("slack", "webhookUrl", &receivers.url("/slack")),
        )
        .await;
    let pagerduty = db
        .insert_channel(
            "pagerduty",
            "pagerduty",
            json!({"pagerduty": {"apiUrl": receivers.url("")}}),
            seal("pagerduty", "routingKey", "R0UTING"),
        )
        .await;
    let webhook = db
        .insert_channel(
            "webhook",
            "webhook",
            json!({"webhook": {"url": receivers.url("/hook")}}),
            seal("webhook", "signingSecret", "s3cret"),
        )
        .await;
    for (id, name) in [
        (email, "email"),
        (slack, "slack"),
        (pagerduty, "pagerduty"),
        (webhook, "webhook"),
    ] {
        names.insert(id, name);
    }
    db.insert_rule("page-oncall", "checkout", "email", "Failure", 5, 3_600_000)
        .await;
    db.insert_policy(
        "escalate",
        &[(5, "slack"), (10, "pagerduty"), (15, "webhook")],
    )
    .await;

    // The pipeline: scheduler (hand clock) → checker with evaluation → notifier.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let stop: Stop = async move {
        let _ = stop_rx.await;
    }
    .boxed()
    .shared();
    let registry = Registry::new();
    let metrics = Metrics::register(&registry);
    let telemetry = TelemetryWriter::connect(&redis.url, &Names::new(redis.prefix.clone()))
        .await
        .unwrap();
    let evaluator = Arc::new(Evaluator::new(
        Arc::new(RuleCache::load(&db.pool).await.unwrap()),
        Cooldown::new(telemetry.connection(), Names::new(redis.prefix.clone())),
        &vhost.amqp_url,
        QueueType::Classic,
        metrics.clone(),
    ));
    let checker = Arc::new(
        Checker::new(
            Client::new(64 * 1024, false),
            db.pool.clone(),
            telemetry,
            None,
            metrics,
            Options {
                prefetch: 4,
                concurrency: 4,
                drain_timeout: Duration::from_secs(5),
            },
        )
        .with_alerting(evaluator),
    );
    let notifier = Arc::new(
        Notifier::new(
            db.pool.clone(),
            Some(sealer.clone()),
            notify::Options::default(),
            NotifierMetrics::register(&registry),
            &vhost.amqp_url,
            QueueType::Classic,
        )
        .unwrap(),
    );
    let mut tasks = Vec::new();
    for run in [
        {
            let (url, stop) = (vhost.amqp_url.clone(), stop.clone());
            let (connected, _) = tokio::sync::watch::channel(false);
            async move { checker.run(&url, QueueType::Classic, connected, stop).await }.boxed()
        },
        {
            let (url, stop) = (vhost.amqp_url.clone(), stop.clone());
            let (connected, _) = tokio::sync::watch::channel(false);
            async move {
                notifier
                    .run(&url, QueueType::Classic, connected, stop)
                    .await
            }
            .boxed()
        },
    ] {
        tasks.push(tokio::spawn(run));
    }
    let clock = HandClock(Arc::new(Mutex::new(t(9, 59, 0))));
    let mut scheduler = Scheduler::new(
        db.pool.clone(),
        Publisher::new(&vhost.amqp_url, QueueType::Classic),
        clock.clone(),
        scheduler::Options::default(),
        scheduler::Metrics::register(&Registry::new()),
    );

    // One check at each time of the table, failing; the count is the failure number.
    let mut times: Vec<DateTime<Utc>> = (0..7)
        .map(|i| t(10, 0, 0) + chrono::TimeDelta::seconds(30 * i))
        .collect();
    times.extend([
        t(10, 5, 0),
        t(10, 10, 0),
        t(10, 15, 0),
        t(10, 18, 0),
        t(10, 21, 0),
        t(10, 24, 0),
        t(10, 27, 0),
        t(10, 30, 0),
        t(10, 40, 0),
        t(10, 50, 0),
        t(10, 55, 0),
        t(11, 0, 0),
        t(11, 5, 0),
    ]);
    assert_eq!(times.len(), 20);
    for (index, slot) in times.iter().enumerate() {
        check_at(&db, &clock, &mut scheduler, *slot).await;
        let failures: u32 = sqlx::query_scalar(
            "SELECT consecutive_failures FROM monitor_state WHERE monitor_id = 1",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(failures as usize, index + 1);
    }

    // Every notification delivered, each exactly once.
    wait::until("5 notifications sent", WAIT, || async {
        let sent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE status = 'sent'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        (sent == 5).then_some(())
    })
    .await;
    let rows: Vec<(chrono::NaiveDateTime, u64, String, Option<u32>)> = sqlx::query_as(
        "SELECT slot, channel_id, kind, level FROM notifications ORDER BY slot, level IS NOT NULL, level",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let timeline: Vec<(String, &str, String)> = rows
        .iter()
        .map(|(slot, channel, kind, level)| {
            let what = match level {
                Some(level) => format!("{kind} level {level}"),
                None => kind.clone(),
            };
            (slot.format("%H:%M:%S").to_string(), names[channel], what)
        })
        .collect();
    let expected = [
        ("10:02:00", "email", "failure"),
        ("10:02:00", "slack", "escalation level 1"),
        ("10:15:00", "pagerduty", "escalation level 2"),
        ("10:30:00", "webhook", "escalation level 3"),
        ("11:05:00", "email", "failure"),
    ];
    let expected: Vec<(String, &str, String)> = expected
        .iter()
        .map(|(time, channel, what)| ((*time).to_string(), *channel, (*what).to_string()))
        .collect();
    assert_eq!(timeline, expected);
    assert_eq!(smtp.wait_for(2, WAIT).await.len(), 2);
    assert_eq!(receivers.requests_to("/slack").len(), 1);
    assert_eq!(receivers.requests_to("/v2/enqueue").len(), 1);
    assert_eq!(receivers.requests_to("/hook").len(), 1);
    let mails = smtp.received();
    assert!(
        mails[0]
            .header("Subject")
            .unwrap()
            .contains("DOWN shop/checkout (5 failures)")
    );
    assert!(
        mails[1]
            .header("Subject")
            .unwrap()
            .contains("(20 failures)")
    );

    // Recovery: the incident is resolved and every escalated channel hears of it
    // (PagerDuty as a resolve event for the same dedup_key); the Failure-only email rule
    // stays silent.
    target.set("/health", Reply::ok("fine"));
    check_at(&db, &clock, &mut scheduler, t(11, 5, 30)).await;
    rows_sent(&db, 8).await;
    let events = receivers.wait_for_requests("/v2/enqueue", 2, WAIT).await;
    let trigger: serde_json::Value = serde_json::from_slice(&events[0].body).unwrap();
    let resolve: serde_json::Value = serde_json::from_slice(&events[1].body).unwrap();
    assert_eq!(resolve["event_action"], "resolve");
    assert_eq!(resolve["dedup_key"], trigger["dedup_key"]);
    assert_eq!(receivers.requests_to("/slack").len(), 2);
    assert_eq!(receivers.requests_to("/hook").len(), 2);
    assert_eq!(smtp.received().len(), 2);
    let (resolved, duration_ms, max_failures): (Option<chrono::NaiveDateTime>, u64, u32) =
        sqlx::query_as("SELECT resolved_at, duration_ms, max_consecutive_failures FROM incidents")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(resolved, Some(t(11, 5, 30).naive_utc()));
    assert_eq!(duration_ms, 65 * 60_000 + 30_000);
    assert_eq!(max_failures, 20);

    stop_tx.send(()).unwrap();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn rows_sent(db: &TestDb, count: i64) {
    wait::until(&format!("{count} notifications sent"), WAIT, || async {
        let sent: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM notifications WHERE status = 'sent'")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        (sent == count).then_some(())
    })
    .await;
}

/// Places the monitor's next slot at `slot`, moves the clock there, lets the scheduler
/// dispatch, and waits until the checker has applied the result.
async fn check_at(
    db: &TestDb,
    clock: &HandClock,
    scheduler: &mut Scheduler<HandClock>,
    slot: DateTime<Utc>,
) {
    sqlx::query("UPDATE monitors SET next_check_at = ? WHERE id = 1")
        .bind(slot.naive_utc())
        .execute(&db.pool)
        .await
        .unwrap();
    *clock.0.lock().unwrap() = slot;
    let report = scheduler.tick().await.unwrap();
    assert_eq!(report.dispatched, 1, "one check at {slot}");
    wait::until(&format!("the result of {slot}"), WAIT, || async {
        let last: Option<chrono::NaiveDateTime> =
            sqlx::query_scalar("SELECT last_slot FROM monitor_state WHERE monitor_id = 1")
                .fetch_one(&db.pool)
                .await
                .unwrap();
        (last == Some(slot.naive_utc())).then_some(())
    })
    .await;
}
