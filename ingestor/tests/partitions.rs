//! Partition maintenance over 40 simulated days, across a month boundary: the expected
//! partitions exist, old ones are dropped with their rows, the rest is intact.

use chrono::{Days, NaiveDate};
use ingestor::partitions::{self, name};
use sentinel_testkit::TestDb;

#[tokio::test]
async fn forty_days_of_maintenance_keep_the_window_and_drop_old_days() {
    let db = TestDb::create().await;
    let start = NaiveDate::from_ymd_opt(2026, 12, 10).unwrap();
    for offset in 0..40u64 {
        let today = start + Days::new(offset);
        let now = today.and_hms_opt(3, 0, 0).unwrap();
        partitions::maintain(&db.pool, now, 7, 30).await.unwrap();
        // A day's rows: 10 checks of monitor 1 at noon.
        for minute in 0..10 {
            sqlx::query(
                "INSERT INTO ping_results (monitor_id, scheduled_at, started_at, generation, ok, latency_ms) \
                 VALUES (1, ?, ?, 1, 1, 5)",
            )
            .bind(today.and_hms_opt(12, minute, 0).unwrap())
            .bind(today.and_hms_opt(12, minute, 0).unwrap())
            .execute(&db.pool)
            .await
            .unwrap();
        }
    }
    let today = start + Days::new(39); // 2027-01-18
    let days = partitions::daily_partitions(&db.pool).await.unwrap();
    let expected: Vec<NaiveDate> = (0..=37u64)
        .map(|d| today - Days::new(30) + Days::new(d))
        .collect();
    assert_eq!(
        days.first().copied(),
        Some(today - Days::new(30)),
        "older days dropped"
    );
    assert_eq!(
        days.last().copied(),
        Some(today + Days::new(7)),
        "a week ahead exists"
    );
    assert_eq!(
        days, expected,
        "one partition per day, no gaps, across the year boundary"
    );
    assert!(days.iter().any(|d| name(*d) == "p20270101"));

    let per_day: Vec<(NaiveDate, i64)> = sqlx::query_as(
        "SELECT DATE(scheduled_at), COUNT(*) FROM ping_results GROUP BY DATE(scheduled_at) ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        per_day.first().map(|d| d.0),
        Some(today - Days::new(30)),
        "rows of dropped days are gone"
    );
    assert_eq!(per_day.len(), 31);
    assert!(
        per_day.iter().all(|(_, n)| *n == 10),
        "kept days are intact"
    );
    let future: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM ping_results PARTITION (p_future)")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(future, 0, "the catch-all stays empty");
}

#[tokio::test]
async fn maintenance_is_idempotent_and_starts_from_an_empty_table() {
    let db = TestDb::create().await;
    let now = NaiveDate::from_ymd_opt(2026, 2, 26)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    let first = partitions::maintain(&db.pool, now, 7, 30).await.unwrap();
    assert_eq!(first.created.len(), 8);
    assert_eq!(
        first.created.last().map(|d| name(*d)).as_deref(),
        Some("p20260305"),
        "across February's end"
    );
    let again = partitions::maintain(&db.pool, now, 7, 30).await.unwrap();
    assert!(again.created.is_empty() && again.dropped.is_empty());
}
