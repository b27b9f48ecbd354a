//! The status sync against the scripted API server and the real MariaDB: live state from
//! MySQL becomes Monitor.status, only when it changed, health transitions publish Events,
//! and the patches-per-second budget holds.

mod support;

use std::time::Duration;

use http::Method;
use kube::runtime::events::{Recorder, Reporter};
use operator::status_sync::{Options, StatusSync, SyncState};
use sentinel_testkit::{SeedMonitor, TestDb};
use serde_json::json;
use support::{ApiServer, expect_event};

async fn add_monitor(db: &TestDb, id: u64, name: &str, health: &str) {
    db.insert_monitors(&[SeedMonitor::new(id, name, "https://a.example")], false)
        .await;
    sqlx::query(
        "INSERT INTO monitor_state (monitor_id, health, last_latency_ms, last_status_code, last_check_at) \
         VALUES (?, ?, 87, 200, '2026-11-23 10:00:00')",
    )
    .bind(id)
    .bind(health)
    .execute(&db.pool)
    .await
    .unwrap();
}

fn sync(client: kube::Client, db: &TestDb, patches_per_second: u32) -> StatusSync {
    let reporter = Reporter {
        controller: "uptime-sentinel-operator".into(),
        instance: None,
    };
    StatusSync::new(
        client.clone(),
        db.pool.clone(),
        Recorder::new(client, reporter),
        Options {
            interval: Duration::from_secs(1),
            uptime_interval: Duration::from_secs(60),
            patches_per_second,
        },
    )
}

fn monitor_json(name: &str, health: &str) -> serde_json::Value {
    json!({"apiVersion": "uptimesentinel.io/v1alpha1", "kind": "Monitor",
           "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}")},
           "spec": {"url": "https://a.example"}, "status": {"health": health}})
}

async fn seed(
    server: &mut ApiServer,
    sync: &StatusSync,
    items: Vec<serde_json::Value>,
) -> SyncState {
    let (state, _) = tokio::join!(async { sync.seed().await.unwrap() }, async {
        let seen = server.next().await;
        seen.assert(Method::GET, "/apis/uptimesentinel.io/v1alpha1/monitors");
        seen.ok(
            json!({"apiVersion": "uptimesentinel.io/v1alpha1", "kind": "MonitorList",
                       "metadata": {"resourceVersion": "1"}, "items": items}),
        );
    });
    state
}

#[tokio::test]
async fn changed_state_is_patched_once_and_a_transition_publishes_an_event() {
    let db = TestDb::create().await;
    add_monitor(&db, 1, "web", "Up").await;
    let (client, mut server) = support::client();
    let sync = sync(client, &db, 100);
    let mut state = seed(&mut server, &sync, vec![monitor_json("web", "Up")]).await;

    // First round: the state differs from nothing sent yet → one patch, no Event (health
    // is what the object already shows).
    let (sent, _) = tokio::join!(async { sync.round(&mut state).await.unwrap() }, async {
        let seen = server.next().await;
        seen.assert(
            Method::PATCH,
            "/apis/uptimesentinel.io/v1alpha1/namespaces/shop/monitors/web/status",
        );
        assert!(
            seen.uri
                .contains("fieldManager=uptime-sentinel-status-sync"),
            "{}",
            seen.uri
        );
        let status = &seen.body["status"];
        assert_eq!(status["health"], "Up");
        assert_eq!(status["lastLatencyMs"], 87);
        assert_eq!(status["lastStatusCode"], 200);
        assert_eq!(status["lastCheckTime"], "2026-11-23T10:00:00Z");
        assert!(
            status.get("conditions").is_none(),
            "conditions belong to the controller"
        );
        seen.ok(monitor_json("web", "Up"));
    });
    assert_eq!(sent, 1);

    // Nothing changed: no request at all.
    assert_eq!(sync.round(&mut state).await.unwrap(), 0);
    server.expect_silence(Duration::from_millis(200)).await;

    // The checker marks it down: the patch carries the error, and MonitorDown is published.
    sqlx::query(
        "UPDATE monitor_state SET health = 'Down', consecutive_failures = 3, last_error = 'connection refused', \
         last_error_kind = 'connect', last_status_code = NULL, current_incident_id = 'inc-1'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let (sent, _) = tokio::join!(async { sync.round(&mut state).await.unwrap() }, async {
        let seen = server.next().await;
        let status = seen.body["status"].clone();
        assert_eq!(status["health"], "Down");
        assert_eq!(status["consecutiveFailures"], 3);
        assert_eq!(status["lastError"], "connection refused");
        assert_eq!(status["currentIncident"], "inc-1");
        assert!(
            status.get("lastStatusCode").is_none(),
            "a cleared field is left out, so apply removes it"
        );
        seen.ok(monitor_json("web", "Down"));
        let event = expect_event(&mut server, "shop").await;
        assert_eq!(
            (event["type"].as_str(), event["reason"].as_str()),
            (Some("Warning"), Some("MonitorDown"))
        );
        assert!(
            event["note"]
                .as_str()
                .unwrap()
                .contains("connection refused")
        );
    });
    assert_eq!(sent, 1);

    sqlx::query("UPDATE monitor_state SET health = 'Up', consecutive_failures = 0, last_error = NULL, current_incident_id = NULL")
        .execute(&db.pool)
        .await
        .unwrap();
    tokio::join!(async { sync.round(&mut state).await.unwrap() }, async {
        server.next().await.ok(monitor_json("web", "Up"));
        let event = expect_event(&mut server, "shop").await;
        assert_eq!(
            (event["type"].as_str(), event["reason"].as_str()),
            (Some("Normal"), Some("MonitorRecovered"))
        );
    });
}

#[tokio::test]
async fn a_round_sends_no_more_patches_than_the_budget_allows() {
    let db = TestDb::create().await;
    for id in 1..=5 {
        add_monitor(&db, id, &format!("m{id}"), "Up").await;
    }
    let (client, mut server) = support::client();
    let sync = sync(client, &db, 2);
    let mut state = seed(&mut server, &sync, vec![]).await;
    let (sent, _) = tokio::join!(async { sync.round(&mut state).await.unwrap() }, async {
        for _ in 0..2 {
            let seen = server.next().await;
            let name = seen.uri.split('/').nth(7).unwrap().to_string();
            seen.ok(monitor_json(&name, "Up"));
        }
    });
    assert_eq!(sent, 2, "2 patches per second over a 1 s interval");
    // The rest goes out in the following rounds.
    let (sent, _) = tokio::join!(async { sync.round(&mut state).await.unwrap() }, async {
        for _ in 0..2 {
            let seen = server.next().await;
            let name = seen.uri.split('/').nth(7).unwrap().to_string();
            seen.ok(monitor_json(&name, "Up"));
        }
    });
    assert_eq!(sent, 2);
}

#[tokio::test]
async fn a_monitor_deleted_meanwhile_is_skipped() {
    let db = TestDb::create().await;
    add_monitor(&db, 1, "gone", "Up").await;
    let (client, mut server) = support::client();
    let sync = sync(client, &db, 100);
    let mut state = seed(&mut server, &sync, vec![]).await;
    let (sent, _) = tokio::join!(async { sync.round(&mut state).await.unwrap() }, async {
        server.next().await.not_found();
    });
    assert_eq!(
        sent, 1,
        "a 404 counts as done: the finalizer removes the rows"
    );
}
