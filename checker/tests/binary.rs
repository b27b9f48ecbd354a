//! The `checker` binary: on SIGTERM it stops consuming, finishes the checks in flight,
//! acks their batch and exits 0.

use std::{process::Command, time::Duration};

use chrono::Utc;
use common::amqp::{self, QueueType};
use crds::contract::{self, CheckBatch, CheckConfig, CheckRequest, Names, QueueNames};
use lapin::{
    BasicProperties,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};
use sentinel_testkit::{Reply, SeedMonitor, TargetServer, TestDb, TestRedis, TestVhost, wait};

#[tokio::test]
async fn sigterm_finishes_the_checks_in_flight_acks_them_and_exits_0() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let redis = TestRedis::create().await;
    let target = TargetServer::start().await;
    target.set(
        "/slow",
        Reply::ok("done").with_delay(Duration::from_millis(1500)),
    );
    db.insert_monitors(&[SeedMonitor::new(1, "slow", "x")], true)
        .await;

    let connection = amqp::connect(&vhost.amqp_url).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    amqp::declare_topology(&channel, QueueType::Classic)
        .await
        .unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_checker"))
        .args([
            "--log-text",
            "--database-url",
            &db.url,
            "--amqp-url",
            &vhost.amqp_url,
            "--redis-url",
            &redis.url,
        ])
        .args([
            "--redis-prefix",
            &redis.prefix,
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .spawn()
        .unwrap();
    wait::until(
        "the checker to consume",
        Duration::from_secs(20),
        || async {
            let (_, consumers) = amqp::queue_depth(&channel, QueueNames::CHECKS).await.ok()?;
            (consumers == 1).then_some(())
        },
    )
    .await;

    let spec: crds::MonitorSpec = serde_json::from_value(
        serde_json::json!({"url": target.url("/slow"), "interval": "10s", "timeout": "5s"}),
    )
    .unwrap();
    let batch = CheckBatch {
        v: contract::VERSION,
        batch_id: uuid::Uuid::now_v7(),
        dispatched_at: Utc::now(),
        checks: vec![CheckRequest {
            monitor_id: 1,
            slot: Utc::now(),
            credentials: None,
            config: CheckConfig::from_spec("shop", "slow", 1, &spec),
        }],
    };
    channel
        .basic_publish(
            QueueNames::EXCHANGE.into(),
            QueueNames::CHECKS.into(),
            BasicPublishOptions::default(),
            &contract::encode(&batch),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    target
        .wait_for_requests("/slow", 1, Duration::from_secs(10))
        .await;
    // The check is now in flight (the target answers after 1.5 s).
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = wait::until("the checker to exit", Duration::from_secs(20), || {
        let exited = child.try_wait().unwrap();
        async move { exited }
    })
    .await;
    assert!(status.success(), "{status:?}");

    let (depth, consumers) = amqp::queue_depth(&channel, QueueNames::CHECKS)
        .await
        .unwrap();
    assert_eq!(
        (depth, consumers),
        (0, 0),
        "the in-flight batch was acked, nothing left"
    );
    let mut redis_connection = redis.connection().await;
    let length: usize = redis::cmd("XLEN")
        .arg(Names::new(redis.prefix.clone()).telemetry_stream())
        .query_async(&mut redis_connection)
        .await
        .unwrap();
    assert_eq!(length, 1, "its result was stored before the exit");
    let health: String =
        sqlx::query_scalar("SELECT health FROM monitor_state WHERE monitor_id = 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(health, "Up");
}
