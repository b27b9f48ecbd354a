//! Rollups equal the same aggregates computed by SQL over the raw rows, for random data
//! with late arrivals; rerunning changes nothing.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ingestor::rollup;
use rand::{Rng, SeedableRng, rngs::StdRng};
use sentinel_testkit::TestDb;

type Aggregate = (u64, String, i64, i64, Option<u32>, Option<u32>, i64);

async fn insert_random(
    db: &TestDb,
    rng: &mut StdRng,
    from: DateTime<Utc>,
    hours: i64,
    per_hour: i64,
) {
    let mut rows = Vec::new();
    for hour in 0..hours {
        for n in 0..per_hour {
            let at = from
                + Duration::hours(hour)
                + Duration::seconds(n * 3600 / per_hour + rng.random_range(0..10));
            for monitor in 1..=3u64 {
                rows.push((
                    monitor,
                    at,
                    rng.random_bool(0.9),
                    rng.random_range(1..2_000u32),
                ));
            }
        }
    }
    for chunk in rows.chunks(1000) {
        let mut insert = sqlx::QueryBuilder::new(
            "INSERT IGNORE INTO ping_results (monitor_id, scheduled_at, started_at, generation, ok, latency_ms) ",
        );
        insert.push_values(chunk, |mut row, (monitor, at, ok, latency)| {
            row.push_bind(*monitor)
                .push_bind(at.naive_utc())
                .push_bind(at.naive_utc())
                .push_bind(1)
                .push_bind(*ok)
                .push_bind(*latency);
        });
        insert.build().execute(&db.pool).await.unwrap();
    }
}

/// Hourly aggregates straight from the raw table, for hours before `end`.
async fn from_raw(db: &TestDb, end: DateTime<Utc>) -> Vec<Aggregate> {
    sqlx::query_as(
        "SELECT monitor_id, DATE_FORMAT(scheduled_at, '%Y-%m-%d %H:00:00'), COUNT(*), CAST(SUM(ok = 0) AS SIGNED), \
         MIN(latency_ms), MAX(latency_ms), CAST(SUM(latency_ms) AS SIGNED) FROM ping_results WHERE scheduled_at < ? \
         GROUP BY monitor_id, DATE_FORMAT(scheduled_at, '%Y-%m-%d %H:00:00') ORDER BY 1, 2",
    )
    .bind(end.naive_utc())
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn hourly_rows(db: &TestDb) -> Vec<Aggregate> {
    sqlx::query_as(
        "SELECT monitor_id, DATE_FORMAT(bucket_start, '%Y-%m-%d %H:00:00'), CAST(checks AS SIGNED), CAST(failures AS SIGNED), \
         latency_min, latency_max, CAST(latency_sum AS SIGNED) FROM ping_stats_hourly ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn hourly_and_daily_rollups_match_sql_over_the_raw_rows_including_late_arrivals() {
    let db = TestDb::create().await;
    let mut rng = StdRng::seed_from_u64(7);
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    insert_random(&db, &mut rng, start, 50, 20).await;
    let now = start + Duration::hours(50) + Duration::minutes(10);
    let lateness = Duration::hours(2);

    let hours = rollup::hourly(&db.pool, now, lateness).await.unwrap();
    assert_eq!(hours, 50);
    let end = start + Duration::hours(50);
    assert_eq!(hourly_rows(&db).await, from_raw(&db, end).await);

    // Late arrivals: one within the lateness window (the last hour), one far outside it.
    insert_random(
        &db,
        &mut StdRng::seed_from_u64(8),
        start + Duration::hours(49),
        1,
        5,
    )
    .await;
    insert_random(
        &db,
        &mut StdRng::seed_from_u64(9),
        start + Duration::hours(10),
        1,
        5,
    )
    .await;
    rollup::hourly(&db.pool, now + Duration::minutes(5), lateness)
        .await
        .unwrap();
    let rolled = hourly_rows(&db).await;
    let raw = from_raw(&db, end).await;
    let late_hour = "2026-11-22 01:00:00";
    let pick = |rows: &[Aggregate], hour: &str| {
        rows.iter()
            .filter(|r| r.1 == hour)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pick(&rolled, late_hour),
        pick(&raw, late_hour),
        "a late result within the window updates its bucket"
    );
    let old_hour = "2026-11-20 10:00:00";
    assert_ne!(
        pick(&rolled, old_hour),
        pick(&raw, old_hour),
        "later than the window: raw only (documented)"
    );

    // Daily: complete days from the hourly rows; equal to SQL over the hourly buckets.
    let days = rollup::daily(&db.pool, lateness).await.unwrap();
    assert_eq!(days, 2, "the 20th and 21st are complete");
    let daily: Vec<(u64, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT monitor_id, DATE_FORMAT(day, '%Y-%m-%d'), CAST(checks AS SIGNED), CAST(failures AS SIGNED), CAST(latency_sum AS SIGNED) \
         FROM ping_stats_daily ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected: Vec<(u64, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT monitor_id, DATE_FORMAT(bucket_start, '%Y-%m-%d'), CAST(SUM(checks) AS SIGNED), CAST(SUM(failures) AS SIGNED), \
         CAST(SUM(latency_sum) AS SIGNED) FROM ping_stats_hourly WHERE bucket_start < '2026-11-22' \
         GROUP BY monitor_id, DATE_FORMAT(bucket_start, '%Y-%m-%d') ORDER BY 1, 2",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(daily, expected);
    assert_eq!(daily.len(), 6);

    // Idempotent: running again changes nothing.
    let before = hourly_rows(&db).await;
    rollup::hourly(&db.pool, now + Duration::minutes(5), lateness)
        .await
        .unwrap();
    rollup::daily(&db.pool, lateness).await.unwrap();
    assert_eq!(hourly_rows(&db).await, before);

    // p95 of an hour is the upper bound of the histogram bucket holding the exact p95.
    let (histogram, p95, max): (String, u32, u32) = sqlx::query_as(
        "SELECT CAST(latency_histogram AS CHAR), latency_p95, latency_max FROM ping_stats_hourly \
         WHERE monitor_id = 1 AND bucket_start = '2026-11-20 05:00:00'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let mut latencies: Vec<u32> = sqlx::query_scalar(
        "SELECT latency_ms FROM ping_results WHERE monitor_id = 1 AND scheduled_at >= '2026-11-20 05:00:00' \
         AND scheduled_at < '2026-11-20 06:00:00' ORDER BY latency_ms",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    latencies.sort_unstable();
    let exact = latencies[(latencies.len() * 95).div_ceil(100) - 1];
    let counts: Vec<u64> = serde_json::from_str(&histogram).unwrap();
    assert_eq!(counts.iter().sum::<u64>(), latencies.len() as u64);
    let bound = rollup::BOUNDS_MS
        .iter()
        .copied()
        .find(|b| exact < *b)
        .unwrap_or(u32::MAX)
        .min(max);
    assert_eq!(p95, bound, "exact p95 {exact}");
    assert!(p95 >= exact);
}
