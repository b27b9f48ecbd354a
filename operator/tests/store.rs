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
