//! The MySQL side of reconciling, without the API server: upserts, pausing, stale rows,
//! sealing, deletes.

use std::collections::BTreeMap;

use common::credentials::Sealer;
use crds::Monitor;
use operator::store::{Change, Store, Table, monitors::MonitorRow};
use sentinel_testkit::TestDb;
use serde_json::json;

fn monitor(uid: &str, generation: i64, spec: serde_json::Value) -> Monitor {
    serde_json::from_value(json!({
        "apiVersion": "uptimesentinel.io/v1alpha1", "kind": "Monitor",
        "metadata": {"name": "web", "namespace": "shop", "uid": uid, "generation": generation,
                     "labels": {"team": "shop"}},
        "spec": spec,
    }))
    .unwrap()
}

async fn upsert(store: &Store, m: &Monitor) -> Change {
    store
        .upsert_monitor(&MonitorRow {
            uid: m.metadata.uid.as_deref().unwrap(),
            namespace: "shop",
            name: "web",
            generation: m.metadata.generation.unwrap(),
            monitor: m,
            credentials: BTreeMap::new(),
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn upserts_report_created_updated_refreshed_and_pausing_follows_health() {
    let db = TestDb::create().await;
    let store = Store::new(db.pool.clone(), None);
    let spec = json!({"url": "https://a.example", "interval": "30s"});
    assert_eq!(
        upsert(&store, &monitor("u1", 1, spec.clone())).await,
        Change::Created
    );
    assert_eq!(
        upsert(&store, &monitor("u1", 1, spec)).await,
        Change::Refreshed
    );
    sqlx::query("UPDATE monitors SET next_check_at = '2026-11-23 10:00:00'")
        .execute(&db.pool)
        .await
        .unwrap();
    let paused = json!({"url": "https://a.example", "interval": "30s", "paused": true});
    assert_eq!(
        upsert(&store, &monitor("u1", 2, paused)).await,
        Change::Updated
    );
    let (health, next): (String, Option<chrono::NaiveDateTime>) = sqlx::query_as(
        "SELECT s.health, m.next_check_at FROM monitors m JOIN monitor_state s ON s.monitor_id = m.id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(health, "Paused");
    assert!(
        next.is_some(),
        "same interval, still paused: the slot is kept"
    );
    let resumed = json!({"url": "https://a.example", "interval": "1m"});
    upsert(&store, &monitor("u1", 3, resumed)).await;
    let (health, next): (String, Option<chrono::NaiveDateTime>) = sqlx::query_as(
        "SELECT s.health, m.next_check_at FROM monitors m JOIN monitor_state s ON s.monitor_id = m.id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        health, "Pending",
        "unpaused monitors wait for their next result"
    );
    assert_eq!(next, None, "a new interval gets a new first slot");
}

#[tokio::test]
async fn a_recreated_object_replaces_the_stale_row_of_the_same_name() {
    let db = TestDb::create().await;
    let store = Store::new(db.pool.clone(), None);
    let spec = json!({"url": "https://a.example"});
    upsert(&store, &monitor("old-uid", 1, spec.clone())).await;
    assert_eq!(
        upsert(&store, &monitor("new-uid", 1, spec)).await,
        Change::Created
    );
    assert_eq!(
        store.uids(Table::Monitors).await.unwrap(),
        vec!["new-uid".to_string()]
    );
    assert!(store.delete(Table::Monitors, "new-uid").await.unwrap());
    assert!(
        !store.delete(Table::Monitors, "new-uid").await.unwrap(),
        "deleting twice is fine"
    );
}

#[tokio::test]
async fn credentials_need_a_key_and_are_stored_sealed() {
    let db = TestDb::create().await;
    let m = monitor("u1", 1, json!({"url": "https://a.example"}));
    let row = MonitorRow {
        uid: "u1",
        namespace: "shop",
        name: "web",
        generation: 1,
        monitor: &m,
        credentials: BTreeMap::from([("tok/key".to_string(), "s3cr3t".to_string())]),
    };
    let without_key = Store::new(db.pool.clone(), None);
    assert!(matches!(
        without_key.upsert_monitor(&row).await,
        Err(operator::Error::Credentials(
            common::Error::NoCredentialsKey
        ))
    ));
    let key = Sealer::generate_key();
    let store = Store::new(db.pool.clone(), Some(Sealer::from_base64(&key).unwrap()));
    store.upsert_monitor(&row).await.unwrap();
    let sealed: String = sqlx::query_scalar("SELECT credentials FROM monitors")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(!sealed.contains("s3cr3t"));
    let opened = Sealer::from_base64(&key)
        .unwrap()
        .open("u1", &sealed)
        .unwrap();
    assert_eq!(opened["tok/key"], "s3cr3t");
}

fn named(name: &str, uid: &str, generation: i64, interval: &str) -> Monitor {
    serde_json::from_value(json!({
        "apiVersion": "uptimesentinel.io/v1alpha1", "kind": "Monitor",
        "metadata": {"name": name, "namespace": "shop", "uid": uid, "generation": generation},
        "spec": {"url": format!("https://{name}.example"), "interval": interval},
    }))
    .unwrap()
}

fn row(m: &Monitor) -> MonitorRow<'_> {
    MonitorRow {
        uid: m.metadata.uid.as_deref().unwrap(),
        namespace: "shop",
        name: m.metadata.name.as_deref().unwrap(),
        generation: m.metadata.generation.unwrap(),
        monitor: m,
        credentials: BTreeMap::new(),
    }
}

/// A batch reports each row's own change, replaces stale rows, and resets only the slots
/// of monitors whose interval changed.
#[tokio::test]
async fn a_batch_reports_each_rows_change_in_order() {
    let db = TestDb::create().await;
    let store = Store::new(db.pool.clone(), None);
    let (a1, b1, stale) = (
        named("a", "ua", 1, "30s"),
        named("b", "ub", 1, "30s"),
        named("c", "old-c", 1, "30s"),
    );
    let first = store
        .upsert_monitors(&[row(&a1), row(&b1), row(&stale)])
        .await
        .unwrap();
    assert_eq!(first, vec![Change::Created; 3]);
    sqlx::query("UPDATE monitors SET next_check_at = '2026-11-23 10:00:00'")
        .execute(&db.pool)
        .await
        .unwrap();

    let (a2, b2, c, d) = (
        named("a", "ua", 2, "1m"),
        named("b", "ub", 1, "30s"),
        named("c", "new-c", 1, "30s"),
        named("d", "ud", 1, "30s"),
    );
    let second = store
        .upsert_monitors(&[row(&d), row(&a2), row(&b2), row(&c)])
        .await
        .unwrap();
    assert_eq!(
        second,
        vec![
            Change::Created,
            Change::Updated,
            Change::Refreshed,
            Change::Created
        ]
    );
    let rows: Vec<(String, String, u32, Option<chrono::NaiveDateTime>, String)> = sqlx::query_as(
        "SELECT m.name, m.uid, m.interval_ms, m.next_check_at, s.health FROM monitors m \
             JOIN monitor_state s ON s.monitor_id = m.id ORDER BY m.name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let slot = chrono::NaiveDateTime::parse_from_str("2026-11-23 10:00:00", "%F %T").unwrap();
    assert_eq!(
        rows,
        vec![
            ("a".into(), "ua".into(), 60_000, None, "Pending".into()),
            (
                "b".into(),
                "ub".into(),
                30_000,
                Some(slot),
                "Pending".into()
            ),
            ("c".into(), "new-c".into(), 30_000, None, "Pending".into()),
            ("d".into(), "ud".into(), 30_000, None, "Pending".into()),
        ],
        "the new interval resets a's slot, b keeps its slot, c's stale row is replaced"
    );
}
