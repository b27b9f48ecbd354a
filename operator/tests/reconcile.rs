//! The reconcilers against a scripted API server (tower-test mock) and the real MariaDB:
//! the exact requests they make (finalizer patch, status apply, Event), and the rows they
//! leave in MySQL.

mod support;

use std::{sync::Arc, time::Duration};

use common::credentials::Sealer;
use crds::{AlertRule, Monitor, NotificationChannel};
use http::Method;
use kube::{
    core::DeserializeGuard,
    runtime::{controller::Action, events::Reporter},
};
use operator::{
    Error,
    cluster::{Context, Metrics, error_policy, mappers, reconcile},
    store::Store,
};
use prometheus::Registry;
use sentinel_testkit::TestDb;
use serde_json::{Value, json};
use support::{ApiServer, expect_event};

const MONITORS: &str = "/apis/uptimesentinel.io/v1alpha1/namespaces/shop/monitors";
const RULES: &str = "/apis/uptimesentinel.io/v1alpha1/namespaces/shop/alertrules";
const CHANNELS: &str = "/apis/uptimesentinel.io/v1alpha1/namespaces/shop/notificationchannels";

fn context(client: kube::Client, pool: sqlx::MySqlPool) -> Arc<Context> {
    let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
    Arc::new(Context::new(
        client,
        Store::new(pool, Some(sealer)),
        Reporter {
            controller: "uptime-sentinel-operator".into(),
            instance: Some("test".into()),
        },
        Metrics::register(&Registry::new()),
    ))
}

/// An object of our group from its kind, metadata extras and spec.
fn object<K: serde::de::DeserializeOwned>(
    kind: &str,
    name: &str,
    generation: i64,
    finalized: bool,
    spec: Value,
) -> K {
    let mut metadata = json!({
        "name": name, "namespace": "shop", "uid": format!("uid-{name}"),
        "generation": generation, "resourceVersion": "1",
    });
    if finalized {
        metadata["finalizers"] = json!(["uptimesentinel.io/cleanup"]);
    }
    serde_json::from_value(json!({
        "apiVersion": "uptimesentinel.io/v1alpha1", "kind": kind,
        "metadata": metadata, "spec": spec,
    }))
    .unwrap()
}

fn monitor(generation: i64, finalized: bool, spec: Value) -> Monitor {
    object("Monitor", "web", generation, finalized, spec)
}

fn guard<K>(object: K) -> Arc<DeserializeGuard<K>> {
    Arc::new(DeserializeGuard(Ok(object)))
}

async fn stored_generation(db: &TestDb, table: &str, uid: &str) -> Option<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT generation FROM {table} WHERE uid = ?"
    )))
    .bind(uid)
    .fetch_optional(&db.pool)
    .await
    .unwrap()
}

/// Answers the status apply and returns the `Ready` condition it carried.
async fn expect_status(
    server: &mut ApiServer,
    path: &str,
    reply: impl serde::Serialize,
) -> (Value, Value) {
    let seen = server.next().await;
    seen.assert(Method::PATCH, &format!("{path}/status"));
    assert!(
        seen.uri.contains("fieldManager=uptime-sentinel-operator"),
        "{}",
        seen.uri
    );
    assert!(seen.uri.contains("force=true"), "{}", seen.uri);
    let status = seen.body["status"].clone();
    let ready = status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .cloned()
        .expect("a Ready condition");
    seen.ok(serde_json::to_value(reply).unwrap());
    (status, ready)
}

async fn expect_monitor_status(server: &mut ApiServer) -> (Value, Value) {
    let reply = monitor(1, true, json!({"url": "https://a.example"}));
    expect_status(server, &format!("{MONITORS}/web"), reply).await
}

#[track_caller]
fn assert_ready(ready: &Value, status: &str, reason: &str) {
    assert_eq!(
        (ready["status"].as_str(), ready["reason"].as_str()),
        (Some(status), Some(reason)),
        "{ready}"
    );
}

#[tokio::test]
async fn a_new_monitor_gets_the_finalizer_then_is_stored_with_ready_true_and_a_created_event() {
    let db = TestDb::create().await;
    let (client, mut server) = support::client();
    let ctx = context(client, db.pool.clone());
    let spec = json!({"url": "https://shop.example.com/", "interval": "30s"});

    let first = tokio::spawn(reconcile(
        guard(monitor(1, false, spec.clone())),
        ctx.clone(),
    ));
    let seen = server.next().await;
    seen.assert(Method::PATCH, &format!("{MONITORS}/web"));
    assert_eq!(
        seen.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": ["uptimesentinel.io/cleanup"]}
        ])
    );
    seen.ok(serde_json::to_value(monitor(1, true, spec.clone())).unwrap());
    assert_eq!(first.await.unwrap().unwrap(), Action::await_change());
    assert_eq!(
        stored_generation(&db, "monitors", "uid-web").await,
        None,
        "nothing stored before the finalizer"
    );

    let second = tokio::spawn(reconcile(guard(monitor(1, true, spec)), ctx.clone()));
    let (status, ready) = expect_monitor_status(&mut server).await;
    assert_eq!(status["observedGeneration"], 1);
    assert_ready(&ready, "True", "Stored");
    let event = expect_event(&mut server, "shop").await;
    assert_eq!(
        (event["type"].as_str(), event["reason"].as_str()),
        (Some("Normal"), Some("Created"))
    );
    assert_eq!(event["regarding"]["name"], "web");
    assert_eq!(
        second.await.unwrap().unwrap(),
        Action::requeue(Duration::from_secs(600))
    );

    assert_eq!(stored_generation(&db, "monitors", "uid-web").await, Some(1));
    let health: String = sqlx::query_scalar(
        "SELECT s.health FROM monitor_state s JOIN monitors m ON m.id = s.monitor_id WHERE m.uid = 'uid-web'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(health, "Pending", "a new monitor starts Pending");
}

#[tokio::test]
async fn a_generation_bump_updates_the_row_and_reports_updated() {
    let db = TestDb::create().await;
    let (client, mut server) = support::client();
    let ctx = context(client, db.pool.clone());
    let v1 = json!({"url": "https://shop.example.com/", "interval": "30s"});
    let v2 = json!({"url": "https://shop.example.com/v2", "interval": "1m"});

    let task = tokio::spawn(reconcile(guard(monitor(1, true, v1)), ctx.clone()));
    expect_monitor_status(&mut server).await;
    expect_event(&mut server, "shop").await;
    task.await.unwrap().unwrap();

    let task = tokio::spawn(reconcile(guard(monitor(2, true, v2)), ctx.clone()));
    let (status, _) = expect_monitor_status(&mut server).await;
    assert_eq!(status["observedGeneration"], 2);
    let event = expect_event(&mut server, "shop").await;
    assert_eq!(event["reason"], "Updated");
    task.await.unwrap().unwrap();

    let (generation, url, interval): (i64, String, u32) =
        sqlx::query_as("SELECT generation, url, interval_ms FROM monitors WHERE uid = 'uid-web'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(
        (generation, url.as_str(), interval),
        (2, "https://shop.example.com/v2", 60_000)
    );
}

#[tokio::test]
async fn an_invalid_spec_is_reported_and_stores_nothing() {
    let db = TestDb::create().await;
    let (client, mut server) = support::client();
    let ctx = context(client, db.pool.clone());
    let bad = monitor(
        1,
        true,
        json!({"url": "ftp://shop.example.com/", "interval": "5s", "timeout": "1s"}),
    );

    let task = tokio::spawn(reconcile(guard(bad.clone()), ctx.clone()));
    let (_, ready) = expect_monitor_status(&mut server).await;
    assert_ready(&ready, "False", "InvalidSpec");
    let message = ready["message"].as_str().unwrap();
    assert!(
        message.contains("spec.url") && message.contains("spec.interval"),
        "{message}"
    );
    let event = expect_event(&mut server, "shop").await;
    assert_eq!(
        (event["type"].as_str(), event["reason"].as_str()),
        (Some("Warning"), Some("InvalidSpec"))
    );
    let error = task.await.unwrap().unwrap_err();
    assert!(matches!(error, Error::InvalidSpec(_)));
    assert_eq!(
        error_policy(guard(bad), &error, ctx),
        Action::await_change()
    );
    assert_eq!(stored_generation(&db, "monitors", "uid-web").await, None);
}

#[tokio::test]
async fn an_undecodable_object_gets_ready_false_and_never_blocks() {
    let db = TestDb::create().await;
    let (client, mut server) = support::client();
    let ctx = context(client, db.pool.clone());
    let broken: DeserializeGuard<Monitor> = serde_json::from_value(json!({
        "apiVersion": "uptimesentinel.io/v1alpha1", "kind": "Monitor",
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-web", "generation": 3},
        "spec": {"url": "https://a.example", "method": "FETCH"},
    }))
    .unwrap();
    assert!(broken.0.is_err());
    let task = tokio::spawn(reconcile(Arc::new(broken), ctx));
    let (status, ready) = expect_monitor_status(&mut server).await;
    assert_eq!(status["observedGeneration"], 3);
    assert_eq!(ready["reason"], "InvalidSpec");
    assert!(ready["message"].as_str().unwrap().contains("FETCH"));
    let event = expect_event(&mut server, "shop").await;
    assert_eq!(event["reason"], "InvalidSpec");
    assert_eq!(task.await.unwrap().unwrap(), Action::await_change());
}

fn rule(finalized: bool) -> AlertRule {
    object(
        "AlertRule",
        "web-down",
        1,
        finalized,
        json!({
            "monitorSelector": {"matchLabels": {"team": "shop"}},
            "channelRef": "slack", "failureThreshold": 3, "cooldown": "1h",
        }),
    )
}

fn channel(name: &str) -> NotificationChannel {
    object(
        "NotificationChannel",
        name,
        1,
        true,
        json!({"type": "slack", "secretRef": {"name": "slack-webhook"}}),
    )
}

#[tokio::test]
async fn a_rule_with_a_missing_channel_waits_and_is_stored_once_the_channel_appears() {
    let db = TestDb::create().await;
    let (client, mut server) = support::client();
    let ctx = context(client, db.pool.clone());

    let task = tokio::spawn(reconcile(guard(rule(true)), ctx.clone()));
    let seen = server.next().await;
    seen.assert(Method::GET, &format!("{CHANNELS}/slack"));
    seen.not_found();
    let (_, ready) = expect_status(&mut server, &format!("{RULES}/web-down"), rule(true)).await;
    assert_ready(&ready, "False", "ChannelNotFound");
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("NotificationChannel shop/slack does not exist")
    );
    expect_event(&mut server, "shop").await;
    let error = task.await.unwrap().unwrap_err();
    assert_eq!(
        error_policy(guard(rule(true)), &error, ctx.clone()),
        Action::await_change()
    );
    assert_eq!(
        stored_generation(&db, "alert_rules", "uid-web-down").await,
        None
    );

    // The channel appears: its watch event maps to the rule ...
    let (reader, mut writer) = kube::runtime::reflector::store::<DeserializeGuard<AlertRule>>();
    writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(DeserializeGuard(Ok(
        rule(true),
    ))));
    let mapped = mappers::rules_notifying(&reader, &channel("slack"));
    assert_eq!(mapped.len(), 1);
    assert_eq!(mapped[0].name, "web-down");
    assert!(mappers::rules_notifying(&reader, &channel("email")).is_empty());

    // ... and the rule's reconcile now stores it.
    let task = tokio::spawn(reconcile(guard(rule(true)), ctx));
    let seen = server.next().await;
    seen.assert(Method::GET, &format!("{CHANNELS}/slack"));
    seen.ok(
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata",
                   "metadata": {"name": "slack", "namespace": "shop"}}),
    );
    let (_, ready) = expect_status(&mut server, &format!("{RULES}/web-down"), rule(true)).await;
    assert_eq!(ready["status"], "True");
    expect_event(&mut server, "shop").await;
    task.await.unwrap().unwrap();
    assert_eq!(
        stored_generation(&db, "alert_rules", "uid-web-down").await,
        Some(1)
    );
}

#[tokio::test]
async fn a_channel_with_a_missing_secret_or_key_is_not_stored_and_secrets_never_leak() {
    let db = TestDb::create().await;
    let (client, mut server) = support::client();
    let ctx = context(client, db.pool.clone());
    let secret_path = "/api/v1/namespaces/shop/secrets/slack-webhook";

    let task = tokio::spawn(reconcile(guard(channel("slack")), ctx.clone()));
    let seen = server.next().await;
    seen.assert(Method::GET, secret_path);
    seen.not_found();
    let (_, ready) =
        expect_status(&mut server, &format!("{CHANNELS}/slack"), channel("slack")).await;
    assert_eq!(ready["reason"], "SecretNotFound");
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("Secret shop/slack-webhook does not exist")
    );
    expect_event(&mut server, "shop").await;
    assert!(matches!(
        task.await.unwrap(),
        Err(Error::SecretNotFound { .. })
    ));

    // The Secret exists but lacks the key the type needs.
    let task = tokio::spawn(reconcile(guard(channel("slack")), ctx.clone()));
    let seen = server.next().await;
    seen.assert(Method::GET, secret_path);
    seen.ok(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "slack-webhook"},
                   "data": {"token": "c2VjcmV0"}}),
    );
    let (_, ready) =
        expect_status(&mut server, &format!("{CHANNELS}/slack"), channel("slack")).await;
    assert!(
        ready["message"]
            .as_str()
            .unwrap()
            .contains("has no key \"webhookUrl\"")
    );
    expect_event(&mut server, "shop").await;
    assert!(task.await.unwrap().is_err());

    // With the key: stored, credentials sealed, and the value appears in no request.
    let url = "https://hooks.slack.example/T000/very-secret";
    let task = tokio::spawn(reconcile(guard(channel("slack")), ctx));
    let seen = server.next().await;
    seen.ok(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "slack-webhook"},
                   "stringData": {"webhookUrl": url}}),
    );
    let status = server.next().await;
    assert!(!status.body.to_string().contains("very-secret"));
    status.ok(serde_json::to_value(channel("slack")).unwrap());
    let event = expect_event(&mut server, "shop").await;
    assert!(!event.to_string().contains("very-secret"));
    task.await.unwrap().unwrap();
    let (secret_name, sealed): (String, String) = sqlx::query_as(
        "SELECT secret_name, credentials FROM notification_channels WHERE uid = 'uid-slack'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(secret_name, "slack-webhook");
    assert!(sealed.starts_with("v1:") && !sealed.contains("very-secret"));
    let row: String =
        sqlx::query_scalar("SELECT CAST(settings AS CHAR) FROM notification_channels")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!row.contains("very-secret"));
}

#[tokio::test]
async fn deleting_a_stored_object_removes_its_rows_then_the_finalizer() {
    let db = TestDb::create().await;
    let (client, mut server) = support::client();
    let ctx = context(client, db.pool.clone());
    let spec = json!({"url": "https://shop.example.com/"});
    let task = tokio::spawn(reconcile(
        guard(monitor(1, true, spec.clone())),
        ctx.clone(),
    ));
    expect_monitor_status(&mut server).await;
    expect_event(&mut server, "shop").await;
    task.await.unwrap().unwrap();
    assert!(
        stored_generation(&db, "monitors", "uid-web")
            .await
            .is_some()
    );

    let mut deleting = monitor(1, true, spec);
    deleting.metadata.deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()),
    );
    let task = tokio::spawn(reconcile(guard(deleting), ctx));
    let seen = server.next().await;
    seen.assert(Method::PATCH, &format!("{MONITORS}/web"));
    assert_eq!(
        seen.body,
        json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": "uptimesentinel.io/cleanup"},
            {"op": "remove", "path": "/metadata/finalizers/0"}
        ])
    );
    assert_eq!(
        stored_generation(&db, "monitors", "uid-web").await,
        None,
        "rows go before the finalizer"
    );
    seen.ok(serde_json::to_value(monitor(1, false, json!({"url": "https://a.example"}))).unwrap());
    assert_eq!(task.await.unwrap().unwrap(), Action::await_change());
    let states: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM monitor_state")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(states, 0);
}

fn unreachable_database() -> sqlx::MySqlPool {
    sqlx::mysql::MySqlPoolOptions::new()
        .acquire_timeout(Duration::from_millis(300))
        .connect_lazy("mysql://root@127.0.0.1:1/none")
        .unwrap()
}

#[tokio::test]
async fn mysql_unavailable_gives_ready_false_and_a_backoff_requeue() {
    let (client, mut server) = support::client();
    let ctx = context(client, unreachable_database());
    let object = monitor(1, true, json!({"url": "https://shop.example.com/"}));
    let task = tokio::spawn(reconcile(guard(object.clone()), ctx.clone()));
    let (_, ready) = expect_monitor_status(&mut server).await;
    assert_ready(&ready, "False", "DatabaseUnavailable");
    let event = expect_event(&mut server, "shop").await;
    assert_eq!(event["reason"], "DatabaseUnavailable");
    let error = task.await.unwrap().unwrap_err();
    let first = error_policy(guard(object.clone()), &error, ctx.clone());
    let second = error_policy(guard(object), &error, ctx);
    assert_eq!(first, Action::requeue(Duration::from_secs(2)));
    assert_eq!(
        second,
        Action::requeue(Duration::from_secs(4)),
        "the backoff doubles"
    );
}

#[tokio::test]
async fn an_object_deleted_while_mysql_is_down_keeps_its_finalizer_until_cleanup_succeeds() {
    let (client, mut server) = support::client();
    let ctx = context(client, unreachable_database());
    let mut deleting = monitor(1, true, json!({"url": "https://shop.example.com/"}));
    deleting.metadata.deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now()),
    );
    let result = tokio::spawn(reconcile(guard(deleting.clone()), ctx.clone()))
        .await
        .unwrap();
    assert!(matches!(result, Err(Error::Database(_))), "{result:?}");
    server.expect_silence(Duration::from_millis(300)).await;
    assert!(matches!(
        error_policy(guard(deleting), &result.unwrap_err(), ctx),
        a if a != Action::await_change()
    ));
}

#[tokio::test]
async fn monitor_headers_from_secrets_are_stored_sealed() {
    let db = TestDb::create().await;
    let (client, mut server) = support::client();
    let ctx = context(client, db.pool.clone());
    let object = monitor(
        1,
        true,
        json!({
            "url": "https://shop.example.com/api", "headers": [
                {"name": "Accept", "value": "application/json"},
                {"name": "Authorization", "valueFrom": {"name": "api-token", "key": "header"}},
            ]
        }),
    );
    let task = tokio::spawn(reconcile(guard(object), ctx));
    let seen = server.next().await;
    seen.assert(Method::GET, "/api/v1/namespaces/shop/secrets/api-token");
    seen.ok(
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "api-token"},
                   "stringData": {"header": "Bearer top-secret"}}),
    );
    expect_monitor_status(&mut server).await;
    expect_event(&mut server, "shop").await;
    task.await.unwrap().unwrap();
    let (config, sealed): (String, String) = sqlx::query_as(
        "SELECT CAST(check_config AS CHAR), credentials FROM monitors WHERE uid = 'uid-web'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(!config.contains("top-secret") && !sealed.contains("top-secret"));
    assert!(
        config.contains(r#""secret":{"name":"api-token","key":"header"}"#),
        "{config}"
    );
}
