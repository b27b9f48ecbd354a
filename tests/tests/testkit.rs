//! The test support itself: isolation and cleanup really happen, and the target server
//! behaves as told. Later issues' tests rely on all of it.

use std::time::{Duration, Instant};

use lapin::{Connection, ConnectionProperties, options::QueueDeclareOptions, types::FieldTable};
use redis::AsyncCommands;
use sentinel_testkit::{Reply, TargetServer, TestDb, TestRedis, TestVhost};

#[tokio::test]
async fn each_test_database_is_separate_and_dropped_afterwards() {
    let a = TestDb::create().await;
    let b = TestDb::create().await;
    assert_ne!(a.name, b.name);
    sqlx::query("INSERT INTO job_watermarks (job, watermark) VALUES ('x', NOW())")
        .execute(&a.pool)
        .await
        .unwrap();
    let in_b: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM job_watermarks")
        .fetch_one(&b.pool)
        .await
        .unwrap();
    assert_eq!(in_b, 0);

    let name = a.name.clone();
    drop(a);
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
    )
    .bind(&name)
    .fetch_one(&b.pool)
    .await
    .unwrap();
    assert_eq!(exists, 0, "{name} should be dropped");
}

#[tokio::test]
async fn a_test_vhost_isolates_queues_and_is_deleted_afterwards() {
    let a = TestVhost::create().await;
    let b = TestVhost::create().await;
    let connect = |url: String| async move {
        Connection::connect(&url, ConnectionProperties::default())
            .await
            .unwrap()
    };
    let channel_a = connect(a.amqp_url.clone())
        .await
        .create_channel()
        .await
        .unwrap();
    channel_a
        .queue_declare(
            "checks".into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let channel_b = connect(b.amqp_url.clone())
        .await
        .create_channel()
        .await
        .unwrap();
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let missing = channel_b
        .queue_declare("checks".into(), passive, FieldTable::default())
        .await;
    assert!(
        missing.is_err(),
        "the queue of vhost a is not visible in vhost b"
    );

    let url = a.amqp_url.clone();
    drop(a);
    let gone = Connection::connect(&url, ConnectionProperties::default()).await;
    assert!(gone.is_err(), "the vhost is deleted on drop");
}

#[tokio::test]
async fn a_test_redis_prefix_is_cleaned_up_afterwards() {
    let redis = TestRedis::create().await;
    let mut connection = redis.connection().await;
    for i in 0..3 {
        let _: () = connection
            .set(format!("{}k{i}", redis.prefix), i)
            .await
            .unwrap();
    }
    assert_eq!(redis.keys().await.len(), 3);
    let prefix = redis.prefix.clone();
    drop(redis);
    let left: Vec<String> = connection.keys(format!("{prefix}*")).await.unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn the_target_server_answers_as_set_at_run_time_and_records_requests() {
    sentinel_testkit::install_crypto_provider();
    let target = TargetServer::start().await;
    let client = reqwest::Client::new();

    target.set("/health", Reply::ok("all good").with_header("x-test", "1"));
    let response = client.get(target.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-test"], "1");
    assert_eq!(response.text().await.unwrap(), "all good");

    target.set("/health", Reply::status(503));
    assert_eq!(
        client
            .get(target.url("/health"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        client
            .get(target.url("/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    target.set(
        "/slow",
        Reply::ok("late").with_delay(Duration::from_millis(300)),
    );
    let started = Instant::now();
    client.get(target.url("/slow")).send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));

    target.set(
        "/trickle",
        Reply::ok("abcdef").trickled(2, Duration::from_millis(100)),
    );
    let started = Instant::now();
    let body = client
        .get(target.url("/trickle"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "abcdef");
    assert!(
        started.elapsed() >= Duration::from_millis(200),
        "three pieces, two pauses"
    );

    client
        .post(target.url("/hook?x=1"))
        .header("x-signature", "sig")
        .body("payload")
        .send()
        .await
        .unwrap();
    let hooks = target
        .wait_for_requests("/hook", 1, Duration::from_secs(2))
        .await;
    assert_eq!(hooks[0].method, "POST");
    assert_eq!(hooks[0].headers["x-signature"], "sig");
    assert_eq!(&hooks[0].body[..], b"payload");
    assert_eq!(target.requests_to("/health").len(), 2);
}
