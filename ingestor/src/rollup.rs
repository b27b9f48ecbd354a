//! Rollups: hourly buckets per monitor from the raw rows, daily buckets from the hourly
//! ones. Both are idempotent (a bucket is recomputed from its sources and replaced), so
//! running twice, or after a crash, gives the same rows.
//!
//! ```text
//!  ping_results ──(each complete hour)──► ping_stats_hourly ──(each complete day)──► ping_stats_daily
//!                  watermark rollup_hourly                     watermark rollup_daily
//! ```
//!
//! A watermark (in `job_watermarks`) is the exclusive end of what is rolled up. Every run
//! also recomputes the buckets of the last `lateness` before it, so results that arrive
//! late (a checker's retry, an ingestor backlog) still land in their bucket; later than
//! that they stay in the raw table only. The uptime function reads rollups below the
//! watermarks and raw rows above them, so it never counts a check twice.
//!
//! Latency percentile: each bucket keeps counts per fixed latency bucket
//! ([`BOUNDS_MS`]); p95 is the upper bound of the bucket in which the 95th percentile
//! falls (capped at the bucket's maximum), so it is an upper bound accurate to the
//! bucket's width, and daily histograms are exact sums of hourly ones.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, Utc};
use sqlx::MySqlPool;

use crate::Result;

/// Upper bounds (exclusive, ms) of the latency histogram buckets; one more bucket holds
/// everything slower.
pub const BOUNDS_MS: [u32; 16] = [
    5, 10, 25, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10_000, 30_000,
];

/// Aggregates of one bucket.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// Checks.
    pub checks: u64,
    /// Failed checks.
    pub failures: u64,
    /// Fastest latency.
    pub latency_min: Option<u32>,
    /// Slowest latency.
    pub latency_max: Option<u32>,
    /// Sum of latencies.
    pub latency_sum: u64,
    /// Counts per histogram bucket (`BOUNDS_MS.len() + 1` entries).
    pub histogram: Vec<u64>,
}

impl Bucket {
    /// The p95 latency from the histogram (see the module docs).
    pub fn p95(&self) -> Option<u32> {
        if self.checks == 0 {
            return None;
        }
        let rank = (self.checks * 95).div_ceil(100);
        let mut seen = 0;
        for (i, count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= rank {
                let bound = BOUNDS_MS.get(i).copied().unwrap_or(u32::MAX);
                return Some(self.latency_max.map_or(bound, |max| bound.min(max)));
            }
        }
        self.latency_max
    }

    fn merge(&mut self, other: &Bucket) {
        self.checks += other.checks;
        self.failures += other.failures;
        self.latency_sum += other.latency_sum;
        self.latency_min = match (self.latency_min, other.latency_min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.latency_max = match (self.latency_max, other.latency_max) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if self.histogram.len() < other.histogram.len() {
            self.histogram.resize(other.histogram.len(), 0);
        }
        for (mine, theirs) in self.histogram.iter_mut().zip(&other.histogram) {
            *mine += theirs;
        }
    }
}

/// An hourly bucket as read back: monitor, checks, failures, min, max, sum, histogram.
type HourlyRow = (u64, u32, u32, Option<u32>, Option<u32>, u64, String);

/// Where the rollups stand.
///
/// # Errors
/// MySQL errors.
pub async fn watermark(pool: &MySqlPool, job: &str) -> Result<Option<DateTime<Utc>>> {
    let mark: Option<NaiveDateTime> =
        sqlx::query_scalar("SELECT watermark FROM job_watermarks WHERE job = ?")
            .bind(job)
            .fetch_optional(pool)
            .await?;
    Ok(mark.map(|m| m.and_utc()))
}

async fn set_watermark(pool: &MySqlPool, job: &str, mark: DateTime<Utc>) -> Result<()> {
    sqlx::query(
        "INSERT INTO job_watermarks (job, watermark) VALUES (?, ?) \
         ON DUPLICATE KEY UPDATE watermark = VALUES(watermark)",
    )
    .bind(job)
    .bind(mark.naive_utc())
    .execute(pool)
    .await?;
    Ok(())
}

fn floor(t: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    t.duration_trunc(step).unwrap_or(t)
}

/// Rolls up every complete hour not yet rolled up, plus those within `lateness`. Returns
/// how many hours were (re)computed.
///
/// # Errors
/// MySQL errors (the watermark only moves after the hours are stored).
pub async fn hourly(pool: &MySqlPool, now: DateTime<Utc>, lateness: Duration) -> Result<usize> {
    let hour = Duration::hours(1);
    let end = floor(now, hour);
    let start = match watermark(pool, "rollup_hourly").await? {
        Some(mark) => mark.min(floor(now - lateness, hour)),
        None => {
            let first: Option<NaiveDateTime> =
                sqlx::query_scalar("SELECT MIN(scheduled_at) FROM ping_results")
                    .fetch_one(pool)
                    .await?;
            first.map_or(end, |f| floor(f.and_utc(), hour))
        }
    };
    let mut hours = 0;
    let mut bucket_start = start;
    while bucket_start < end {
        let buckets = raw_buckets(pool, bucket_start, bucket_start + hour).await?;
        store(
            pool,
            "ping_stats_hourly",
            "bucket_start",
            bucket_start.naive_utc(),
            &buckets,
        )
        .await?;
        bucket_start += hour;
        hours += 1;
    }
    if end > start {
        set_watermark(pool, "rollup_hourly", end).await?;
    }
    Ok(hours)
}

/// Rolls up every complete day whose hours are all rolled up, plus those within
/// `lateness`. Returns how many days were (re)computed.
///
/// # Errors
/// MySQL errors.
pub async fn daily(pool: &MySqlPool, lateness: Duration) -> Result<usize> {
    let day = Duration::days(1);
    let Some(hourly_mark) = watermark(pool, "rollup_hourly").await? else {
        return Ok(0);
    };
    let end = floor(hourly_mark, day);
    let start = match watermark(pool, "rollup_daily").await? {
        Some(mark) => mark.min(floor(end - lateness, day)),
        None => {
            let first: Option<NaiveDateTime> =
                sqlx::query_scalar("SELECT MIN(bucket_start) FROM ping_stats_hourly")
                    .fetch_one(pool)
                    .await?;
            first.map_or(end, |f| floor(f.and_utc(), day))
        }
    };
    let mut days = 0;
    let mut day_start = start;
    while day_start < end {
        let rows: Vec<HourlyRow> = sqlx::query_as(
            "SELECT monitor_id, checks, failures, latency_min, latency_max, latency_sum, \
             CAST(latency_histogram AS CHAR) FROM ping_stats_hourly \
             WHERE bucket_start >= ? AND bucket_start < ?",
        )
        .bind(day_start.naive_utc())
        .bind((day_start + day).naive_utc())
        .fetch_all(pool)
        .await?;
        let mut buckets: BTreeMap<u64, Bucket> = BTreeMap::new();
        for (monitor, checks, failures, min, max, sum, histogram) in rows {
            buckets.entry(monitor).or_default().merge(&Bucket {
                checks: u64::from(checks),
                failures: u64::from(failures),
                latency_min: min,
                latency_max: max,
                latency_sum: sum,
                histogram: serde_json::from_str(&histogram).unwrap_or_default(),
            });
        }
        store(
            pool,
            "ping_stats_daily",
            "day",
            day_start.naive_utc(),
            &buckets,
        )
        .await?;
        day_start += day;
        days += 1;
    }
    if end > start {
        set_watermark(pool, "rollup_daily", end).await?;
    }
    Ok(days)
}

/// Deletes hourly buckets older than `retention` (daily ones are kept). Returns rows removed.
///
/// # Errors
/// MySQL errors.
pub async fn expire_hourly(
    pool: &MySqlPool,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<u64> {
    let cutoff = (now - retention).naive_utc();
    let mut removed = 0;
    loop {
        // In chunks, so a large backlog does not hold one huge transaction.
        let done = sqlx::query("DELETE FROM ping_stats_hourly WHERE bucket_start < ? LIMIT 10000")
            .bind(cutoff)
            .execute(pool)
            .await?
            .rows_affected();
        removed += done;
        if done < 10_000 {
            return Ok(removed);
        }
    }
}

/// Aggregates of the raw rows in `[from, to)`, per monitor.
async fn raw_buckets(
    pool: &MySqlPool,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BTreeMap<u64, Bucket>> {
    let mut sql = String::from(
        "SELECT monitor_id, COUNT(*), CAST(SUM(ok = 0) AS UNSIGNED), MIN(latency_ms), MAX(latency_ms), \
         CAST(SUM(latency_ms) AS UNSIGNED)",
    );
    let mut lower = 0;
    for bound in BOUNDS_MS {
        sql.push_str(&format!(
            ", CAST(SUM(latency_ms >= {lower} AND latency_ms < {bound}) AS UNSIGNED)"
        ));
        lower = bound;
    }
    sql.push_str(&format!(", CAST(SUM(latency_ms >= {lower}) AS UNSIGNED)"));
    sql.push_str(
        " FROM ping_results WHERE scheduled_at >= ? AND scheduled_at < ? GROUP BY monitor_id",
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(from.naive_utc())
        .bind(to.naive_utc())
        .fetch_all(pool)
        .await?;
    use sqlx::Row;
    let mut buckets = BTreeMap::new();
    for row in rows {
        let histogram = (6..6 + BOUNDS_MS.len() + 1)
            .map(|i| row.try_get::<u64, _>(i).unwrap_or(0))
            .collect();
        buckets.insert(
            row.try_get::<u64, _>(0)?,
            Bucket {
                checks: u64::try_from(row.try_get::<i64, _>(1)?).unwrap_or(0),
                failures: row.try_get::<u64, _>(2).unwrap_or(0),
                latency_min: row.try_get(3)?,
                latency_max: row.try_get(4)?,
                latency_sum: row.try_get::<u64, _>(5).unwrap_or(0),
                histogram,
            },
        );
    }
    Ok(buckets)
}

/// Replaces the buckets of `at` in `table` (whose time column is `column`).
async fn store(
    pool: &MySqlPool,
    table: &str,
    column: &str,
    at: NaiveDateTime,
    buckets: &BTreeMap<u64, Bucket>,
) -> Result<()> {
    let rows: Vec<(&u64, &Bucket)> = buckets.iter().collect();
    for chunk in rows.chunks(500) {
        let mut upsert = sqlx::QueryBuilder::new(format!(
            "INSERT INTO {table} (monitor_id, {column}, checks, failures, latency_min, latency_max, \
             latency_sum, latency_p95, latency_histogram) "
        ));
        upsert.push_values(chunk, |mut row, (monitor, bucket)| {
            row.push_bind(**monitor)
                .push_bind(at)
                .push_bind(bucket.checks)
                .push_bind(bucket.failures)
                .push_bind(bucket.latency_min)
                .push_bind(bucket.latency_max)
                .push_bind(bucket.latency_sum)
                .push_bind(bucket.p95())
                .push_bind(serde_json::to_string(&bucket.histogram).expect("counts serialise"));
        });
        upsert.push(
            " ON DUPLICATE KEY UPDATE checks = VALUES(checks), failures = VALUES(failures), \
             latency_min = VALUES(latency_min), latency_max = VALUES(latency_max), \
             latency_sum = VALUES(latency_sum), latency_p95 = VALUES(latency_p95), \
             latency_histogram = VALUES(latency_histogram)",
        );
        upsert.build().execute(pool).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_the_bucket_bound_capped_at_the_maximum() {
        let mut histogram = vec![0; BOUNDS_MS.len() + 1];
        histogram[1] = 90; // 5-10 ms
        histogram[9] = 10; // 300-500 ms
        let bucket = Bucket {
            checks: 100,
            failures: 0,
            latency_min: Some(6),
            latency_max: Some(420),
            latency_sum: 0,
            histogram,
        };
        assert_eq!(
            bucket.p95(),
            Some(420),
            "the 95th check is in 300-500, capped at 420"
        );
        let mut fast = bucket.clone();
        fast.histogram[1] = 96;
        fast.histogram[9] = 4;
        fast.checks = 100;
        assert_eq!(fast.p95(), Some(10));
    }

    #[test]
    fn merged_buckets_add_up() {
        let a = Bucket {
            checks: 2,
            failures: 1,
            latency_min: Some(5),
            latency_max: Some(9),
            latency_sum: 14,
            histogram: vec![0, 2],
        };
        let b = Bucket {
            checks: 1,
            failures: 0,
            latency_min: Some(3),
            latency_max: Some(30),
            latency_sum: 30,
            histogram: vec![1, 0, 1],
        };
        let mut merged = Bucket::default();
        merged.merge(&a);
        merged.merge(&b);
        assert_eq!(
            merged,
            Bucket {
                checks: 3,
                failures: 1,
                latency_min: Some(3),
                latency_max: Some(30),
                latency_sum: 44,
                histogram: vec![1, 2, 1]
            }
        );
    }
}
