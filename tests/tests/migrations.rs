//! The migrations on a fresh MariaDB database: they apply, a second run is a no-op, and the
//! schema enforces what the design relies on.

use sentinel_testkit::{MIGRATOR, TestDb};
use sqlx::Row;

async fn applied_versions(db: &TestDb) -> Vec<i64> {
    sqlx::query("SELECT version FROM _sqlx_migrations WHERE success = 1 ORDER BY version")
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn migrations_apply_to_an_empty_database_and_rerun_is_a_no_op() {
    let db = TestDb::create_empty().await;
    MIGRATOR.run(&db.pool).await.expect("first run");
    let first = applied_versions(&db).await;
    assert_eq!(first.len(), MIGRATOR.iter().count());

    let mut tables_before: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    tables_before.sort();
    MIGRATOR.run(&db.pool).await.expect("second run");
    assert_eq!(
        applied_versions(&db).await,
        first,
        "a re-run applies nothing new"
    );

    let expected = [
        "_sqlx_migrations",
        "alert_rules",
        "escalation_levels",
        "escalation_policies",
        "incidents",
        "job_watermarks",
        "leader_leases",
        "monitor_state",
        "monitors",
        "notification_channels",
        "notifications",
        "ping_results",
        "ping_stats_daily",
        "ping_stats_hourly",
    ];
    assert_eq!(tables_before, expected);
}

#[tokio::test]
async fn ping_results_is_partitioned_by_day_and_stores_a_slot_once() {
    let db = TestDb::create().await;
    let partitions: Vec<(String, String)> = sqlx::query_as(
        "SELECT CAST(partition_name AS CHAR), CAST(partition_method AS CHAR) FROM information_schema.partitions \
         WHERE table_schema = DATABASE() AND table_name = 'ping_results'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        partitions,
        [("p_future".to_string(), "RANGE COLUMNS".to_string())]
    );

    let insert = "INSERT IGNORE INTO ping_results (monitor_id, scheduled_at, started_at, generation, ok, latency_ms) \
                  VALUES (1, '2026-11-23 10:00:00.000', '2026-11-23 10:00:00.020', 1, 1, 20)";
    let first = sqlx::query(insert).execute(&db.pool).await.unwrap();
    let again = sqlx::query(insert).execute(&db.pool).await.unwrap();
    assert_eq!((first.rows_affected(), again.rows_affected()), (1, 0));
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ping_results")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "a redelivered result is stored once");
}

#[tokio::test]
async fn a_monitor_has_at_most_one_open_incident_and_one_per_opening_slot() {
    let db = TestDb::create().await;
    let open = |id: &'static str, slot: &'static str| {
        sqlx::query(
            "INSERT INTO incidents (id, monitor_id, opened_at, opened_slot) VALUES (?, 7, NOW(3), ?)",
        )
        .bind(id)
        .bind(slot)
        .execute(&db.pool)
    };
    open(
        "00000000-0000-7000-8000-000000000001",
        "2026-11-23 10:00:00",
    )
    .await
    .unwrap();
    let second = open(
        "00000000-0000-7000-8000-000000000002",
        "2026-11-23 10:05:00",
    )
    .await;
    assert!(
        second.is_err(),
        "a second open incident for the same monitor is refused"
    );

    sqlx::query("UPDATE incidents SET resolved_at = NOW(3) WHERE monitor_id = 7")
        .execute(&db.pool)
        .await
        .unwrap();
    open(
        "00000000-0000-7000-8000-000000000003",
        "2026-11-23 10:05:00",
    )
    .await
    .expect("after resolving, a new incident may open");
    let replay = open(
        "00000000-0000-7000-8000-000000000004",
        "2026-11-23 10:00:00",
    )
    .await;
    assert!(
        replay.is_err(),
        "the same opening slot cannot open a second incident"
    );
}

#[tokio::test]
async fn notification_idempotency_keys_are_unique() {
    let db = TestDb::create().await;
    let insert = "INSERT IGNORE INTO notifications (idempotency_key, monitor_id, channel_id, kind, payload) \
                  VALUES ('inc-1/rule/3/failure/5', 1, 1, 'failure', '{}')";
    let first = sqlx::query(insert).execute(&db.pool).await.unwrap();
    let again = sqlx::query(insert).execute(&db.pool).await.unwrap();
    assert_eq!((first.rows_affected(), again.rows_affected()), (1, 0));
}

#[tokio::test]
async fn deleting_a_monitor_removes_its_state_but_keeps_incidents() {
    let db = TestDb::create().await;
    let id = sqlx::query(
        "INSERT INTO monitors (uid, namespace, name, generation, labels, url, interval_ms, timeout_ms, check_config) \
         VALUES ('u-1', 'default', 'web', 1, '{}', 'http://a.example', 30000, 5000, '{}')",
    )
    .execute(&db.pool)
    .await
    .unwrap()
    .last_insert_id();
    sqlx::query("INSERT INTO monitor_state (monitor_id, health) VALUES (?, 'Down')")
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO incidents (id, monitor_id, opened_at, opened_slot) VALUES ('i-1', ?, NOW(3), NOW(3))",
    )
    .bind(id)
    .execute(&db.pool)
    .await
    .unwrap();
    sqlx::query("DELETE FROM monitors WHERE id = ?")
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap();
    let states: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM monitor_state")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let incidents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM incidents")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!((states, incidents), (0, 1));
}
