//! The checker between the real RabbitMQ, Redis and MariaDB: batches in, telemetry in the
//! stream, state in MySQL, batches acked; redelivery keeps identities and never
//! double-counts; malformed batches are dead-lettered without stopping the rest.

use std::{sync::Arc, time::Duration};

use checker::{
    consumer::{Checker, Options},
    metrics::Metrics,
    probe::Client,
    telemetry::TelemetryWriter,
};
use chrono::{DurationRound, TimeDelta, Utc};
use common::amqp::{self, QueueType};
use crds::contract::{
    self, CheckBatch, CheckConfig, CheckRequest, Names, QueueNames, TelemetryRecord,
};
use futures::{FutureExt, future::Shared};
use lapin::{
    BasicProperties,
    options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions},
    types::FieldTable,
};
use sentinel_testkit::{Reply, SeedMonitor, TargetServer, TestDb, TestRedis, TestVhost, wait};
use serde_json::json;

type Stop = Shared<futures::future::BoxFuture<'static, ()>>;

struct Rig {
    db: TestDb,
    vhost: TestVhost,
    redis: TestRedis,
    target: TargetServer,
    channel: lapin::Channel,
    _connection: lapin::Connection,
}

impl Rig {
    async fn new() -> Self {
        let db = TestDb::create().await;
        let vhost = TestVhost::create().await;
        let redis = TestRedis::create().await;
        let target = TargetServer::start().await;
        target.set("/up", Reply::ok("fine"));
        target.set("/down", Reply::status(503));
        let connection = amqp::connect(&vhost.amqp_url).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        amqp::declare_topology(&channel, QueueType::Classic)
            .await
            .unwrap();
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .unwrap();
        db.insert_monitors(
            &[
                SeedMonitor::new(1, "up", "x"),
                SeedMonitor::new(2, "down", "x"),
            ],
            true,
        )
        .await;
        Self {
            db,
            vhost,
            redis,
            target,
            channel,
            _connection: connection,
        }
    }

    fn batch(&self, slot: chrono::DateTime<Utc>) -> CheckBatch {
        let request = |id: u64, path: &str| {
            let spec: crds::MonitorSpec = serde_json::from_value(
                json!({"url": self.target.url(path), "interval": "10s", "timeout": "2s"}),
            )
            .unwrap();
            CheckRequest {
                monitor_id: id,
                slot,
                credentials: None,
                config: CheckConfig::from_spec("shop", path, 1, &spec),
            }
        };
        CheckBatch {
            v: contract::VERSION,
            batch_id: uuid::Uuid::now_v7(),
            dispatched_at: Utc::now(),
            checks: vec![request(1, "/up"), request(2, "/down")],
        }
    }

    async fn publish(&self, payload: &[u8]) {
        self.channel
            .basic_publish(
                QueueNames::EXCHANGE.into(),
                QueueNames::CHECKS.into(),
                BasicPublishOptions::default(),
                payload,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }

    async fn start_checker(
        &self,
    ) -> (
        tokio::task::JoinHandle<()>,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(4)
            .connect(&self.db.url)
            .await
            .unwrap();
        let telemetry =
            TelemetryWriter::connect(&self.redis.url, &Names::new(self.redis.prefix.clone()))
                .await
                .unwrap();
        let checker = Arc::new(Checker::new(
            Client::new(1024 * 1024, false),
            pool,
            telemetry,
            None,
            Metrics::register(&prometheus::Registry::new()),
            Options {
                prefetch: 5,
                concurrency: 16,
                drain_timeout: Duration::from_secs(5),
            },
        ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown: Stop = async move {
            let _ = stopped.await;
        }
        .boxed()
        .shared();
        let url = self.vhost.amqp_url.clone();
        let (connected, _) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            checker
                .run(&url, QueueType::Classic, connected, shutdown)
                .await
        });
        (task, stop)
    }

    async fn stream(&self) -> Vec<TelemetryRecord> {
        let mut connection = self.redis.connection().await;
        let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(format!("{}telemetry", self.redis.prefix))
            .arg("-")
            .arg("+")
            .query_async(&mut connection)
            .await
            .unwrap();
        entries
            .ids
            .iter()
            .map(|entry| {
                let bytes: Vec<u8> = entry.get("r").unwrap();
                contract::decode("telemetry record", &bytes).unwrap()
            })
            .collect()
    }

    async fn depth(&self, queue: &str) -> u32 {
        amqp::queue_depth(&self.channel, queue).await.unwrap().0
    }

    async fn failures(&self, id: u64) -> (String, u32) {
        sqlx::query_as(
            "SELECT health, consecutive_failures FROM monitor_state WHERE monitor_id = ?",
        )
        .bind(id)
        .fetch_one(&self.db.pool)
        .await
        .unwrap()
    }
}

fn slot(seconds: i64) -> chrono::DateTime<Utc> {
    Utc::now().duration_trunc(TimeDelta::seconds(10)).unwrap() + TimeDelta::seconds(seconds)
}

#[tokio::test]
async fn a_batch_becomes_telemetry_and_state_and_is_acked() {
    let rig = Rig::new().await;
    let (task, stop) = rig.start_checker().await;
    let batch = rig.batch(slot(0));
    rig.publish(&contract::encode(&batch)).await;

    let records = wait::until("two telemetry records", Duration::from_secs(10), || async {
        let records = rig.stream().await;
        (records.len() == 2).then_some(records)
    })
    .await;
    let up = records.iter().find(|r| r.monitor_id == 1).unwrap();
    let down = records.iter().find(|r| r.monitor_id == 2).unwrap();
    assert!(up.ok && up.status_code == Some(200));
    assert_eq!(
        (down.ok, down.error_kind),
        (false, Some(crds::contract::ErrorKind::Status))
    );
    assert_eq!(up.scheduled_at, batch.checks[0].slot);
    wait::until(
        "the state of both monitors",
        Duration::from_secs(5),
        || async { (rig.failures(2).await == ("Down".to_string(), 1)).then_some(()) },
    )
    .await;
    assert_eq!(rig.failures(1).await, ("Up".to_string(), 0));
    wait::until("the batch to be acked", Duration::from_secs(5), || async {
        (rig.depth(QueueNames::CHECKS).await == 0).then_some(())
    })
    .await;
    let (last_latency, last_error): (Option<u32>, Option<String>) = sqlx::query_as(
        "SELECT last_latency_ms, last_error FROM monitor_state WHERE monitor_id = 2",
    )
    .fetch_one(&rig.db.pool)
    .await
    .unwrap();
    assert!(last_latency.is_some());
    assert_eq!(last_error.as_deref(), Some("status 503 is not in 200-399"));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops on shutdown")
        .unwrap();
}

#[tokio::test]
async fn a_batch_taken_by_a_checker_that_dies_before_acking_is_redelivered_with_the_same_identities()
 {
    let rig = Rig::new().await;
    let batch = rig.batch(slot(0));
    rig.publish(&contract::encode(&batch)).await;

    // A "checker" takes the batch and dies before acking: its channel closes.
    let doomed = amqp::connect(&rig.vhost.amqp_url).await.unwrap();
    let doomed_channel = doomed.create_channel().await.unwrap();
    let mut consumer = doomed_channel
        .basic_consume(
            QueueNames::CHECKS.into(),
            "doomed".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    use futures::StreamExt;
    let taken = consumer.next().await.unwrap().unwrap();
    assert_eq!(
        contract::decode::<CheckBatch>("check batch", &taken.data).unwrap(),
        batch
    );
    doomed.close(320, "killed".into()).await.unwrap();

    // A healthy checker gets the same batch again.
    let (task, stop) = rig.start_checker().await;
    let records = wait::until("two telemetry records", Duration::from_secs(10), || async {
        let records = rig.stream().await;
        (records.len() == 2).then_some(records)
    })
    .await;
    let mut identities: Vec<_> = records
        .iter()
        .map(|r| (r.monitor_id, r.scheduled_at))
        .collect();
    identities.sort();
    let mut expected: Vec<_> = batch
        .checks
        .iter()
        .map(|c| (c.monitor_id, c.slot))
        .collect();
    expected.sort();
    assert_eq!(identities, expected);

    // The same batch delivered once more (a publisher retry): state is not counted twice.
    rig.publish(&contract::encode(&batch)).await;
    wait::until(
        "four telemetry entries",
        Duration::from_secs(10),
        || async { (rig.stream().await.len() == 4).then_some(()) },
    )
    .await;
    wait::until("both batches acked", Duration::from_secs(5), || async {
        (rig.depth(QueueNames::CHECKS).await == 0).then_some(())
    })
    .await;
    assert_eq!(
        rig.failures(2).await,
        ("Down".to_string(), 1),
        "the same slot counts once"
    );
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn malformed_batches_are_dead_lettered_and_the_next_batch_still_runs() {
    let rig = Rig::new().await;
    let (task, stop) = rig.start_checker().await;
    rig.publish(b"{not json").await;
    rig.publish(br#"{"v": 99, "checks": []}"#).await;
    rig.publish(&contract::encode(&rig.batch(slot(0)))).await;
    wait::until(
        "two dead-lettered batches",
        Duration::from_secs(10),
        || async { (rig.depth(QueueNames::CHECKS_DEAD).await == 2).then_some(()) },
    )
    .await;
    wait::until(
        "the valid batch's results",
        Duration::from_secs(10),
        || async { (rig.stream().await.len() == 2).then_some(()) },
    )
    .await;
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test]
async fn results_for_the_next_slot_count_another_failure() {
    let rig = Rig::new().await;
    let (task, stop) = rig.start_checker().await;
    for (n, s) in [(1u32, 0i64), (2, 10), (3, 20)] {
        rig.publish(&contract::encode(&rig.batch(slot(s)))).await;
        wait::until("the failure count", Duration::from_secs(10), || async {
            (rig.failures(2).await.1 == n).then_some(())
        })
        .await;
    }
    // A late result for an older slot changes nothing.
    rig.publish(&contract::encode(&rig.batch(slot(-10)))).await;
    wait::until(
        "the late batch's telemetry",
        Duration::from_secs(10),
        || async { (rig.stream().await.len() == 8).then_some(()) },
    )
    .await;
    wait::until("it to be acked", Duration::from_secs(5), || async {
        (rig.depth(QueueNames::CHECKS).await == 0).then_some(())
    })
    .await;
    assert_eq!(rig.failures(2).await, ("Down".to_string(), 3));
    stop.send(()).unwrap();
    task.await.unwrap();
}
