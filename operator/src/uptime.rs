//! Uptime % and average latency per monitor over 24 hours, 7 days and 30 days, from the
//! three tiers without double counting:
//!
//! ```text
//!  window start ──────────────────────────────────────────────────────────► now
//!  │ ping_stats_daily (whole days  │ ping_stats_hourly (whole hours │ ping_results (raw, not
//!  │ before the daily watermark)   │ before the hourly watermark)   │ yet rolled up)
//! ```
//!
//! The watermarks (`job_watermarks`: `rollup_daily`, `rollup_hourly`) are the exclusive ends
//! of what the ingestor has rolled up. Without them (no rollups yet) everything comes from
//! the raw table. The window start is rounded up to the tier's boundary, so a window can
//! be a fraction of a day shorter than nominal; for uptime percentages that is immaterial.
//!
//! Computed for all monitors in a few grouped queries, so the status sync can refresh
//! 10,000 monitors without 30,000 queries.

use std::collections::HashMap;

use chrono::{DateTime, Duration, DurationRound, NaiveDateTime, Utc};
use sqlx::MySqlPool;

use crate::Result;

/// Totals of one monitor over one window.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    /// Checks counted.
    pub checks: u64,
    /// Failed checks.
    pub failures: u64,
    /// Sum of latencies in ms.
    pub latency_sum: u64,
}

impl Totals {
    /// Share of successful checks in percent; `None` without checks.
    pub fn uptime_percent(&self) -> Option<f64> {
        (self.checks > 0).then(|| 100.0 * (self.checks - self.failures) as f64 / self.checks as f64)
    }

    /// Mean latency in ms; `None` without checks.
    pub fn average_latency_ms(&self) -> Option<f64> {
        (self.checks > 0).then(|| self.latency_sum as f64 / self.checks as f64)
    }

    fn add(&mut self, other: Totals) {
        self.checks += other.checks;
        self.failures += other.failures;
        self.latency_sum += other.latency_sum;
    }
}

/// The three windows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Uptimes {
    /// Last 24 hours.
    pub day: Totals,
    /// Last 7 days.
    pub week: Totals,
    /// Last 30 days.
    pub month: Totals,
}

/// Formats an uptime for status: two decimals and a percent sign (`"99.95%"`).
pub fn format_percent(totals: &Totals) -> Option<String> {
    totals.uptime_percent().map(|p| format!("{p:.2}%"))
}

/// Uptimes of every monitor with data, at `now`.
///
/// # Errors
/// MySQL errors.
pub async fn all(pool: &MySqlPool, now: DateTime<Utc>) -> Result<HashMap<u64, Uptimes>> {
    let hourly_mark = watermark(pool, "rollup_hourly").await?;
    let daily_mark = watermark(pool, "rollup_daily").await?;
    let mut out: HashMap<u64, Uptimes> = HashMap::new();
    for (days, pick) in [
        (
            1,
            (|u: &mut Uptimes| &mut u.day) as fn(&mut Uptimes) -> &mut Totals,
        ),
        (7, |u: &mut Uptimes| &mut u.week),
        (30, |u: &mut Uptimes| &mut u.month),
    ] {
        let start = now - Duration::days(days);
        for (monitor, totals) in window(pool, start, now, hourly_mark, daily_mark).await? {
            pick(out.entry(monitor).or_default()).add(totals);
        }
    }
    Ok(out)
}

async fn watermark(pool: &MySqlPool, job: &str) -> Result<Option<DateTime<Utc>>> {
    let mark: Option<NaiveDateTime> =
        sqlx::query_scalar("SELECT watermark FROM job_watermarks WHERE job = ?")
            .bind(job)
            .fetch_optional(pool)
            .await?;
    Ok(mark.map(|m| m.and_utc()))
}

type Row = (u64, i64, i64, i64);

/// Totals per monitor over `[start, now)`.
///
/// Segments: daily `D = [d0, d1)` (whole days up to the daily watermark), hourly
/// `[h0, h1)` minus `D` (whole hours up to the hourly watermark), raw for the rest (the
/// partial first hour and everything after both watermarks).
async fn window(
    pool: &MySqlPool,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
    hourly_mark: Option<DateTime<Utc>>,
    daily_mark: Option<DateTime<Utc>>,
) -> Result<Vec<(u64, Totals)>> {
    let h0 = ceil(start, Duration::hours(1)).min(now);
    let h1 = hourly_mark.map_or(h0, |m| m.clamp(h0, now));
    let d0 = ceil(start, Duration::days(1)).min(now);
    let d1 = daily_mark.map_or(d0, |m| m.clamp(d0, now));

    let mut segments: Vec<(&str, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    segments.push(("daily", d0, d1));
    if d1 > d0 {
        segments.push(("hourly", h0, h1.min(d0)));
        segments.push(("hourly", d1.max(h0), h1));
    } else {
        segments.push(("hourly", h0, h1));
    }
    segments.push(("raw", start, h0));
    segments.push(("raw", h1.max(d1).max(h0), now));

    let mut rows: Vec<Row> = Vec::new();
    for (tier, from, to) in segments {
        if to <= from {
            continue;
        }
        let query = match tier {
            "daily" => sqlx::query_as::<_, Row>(
                "SELECT monitor_id, CAST(SUM(checks) AS SIGNED), CAST(SUM(failures) AS SIGNED), \
                 CAST(SUM(latency_sum) AS SIGNED) FROM ping_stats_daily \
                 WHERE day >= ? AND day < ? GROUP BY monitor_id",
            )
            .bind(from.naive_utc())
            .bind(to.naive_utc()),
            "hourly" => sqlx::query_as::<_, Row>(
                "SELECT monitor_id, CAST(SUM(checks) AS SIGNED), CAST(SUM(failures) AS SIGNED), \
                 CAST(SUM(latency_sum) AS SIGNED) FROM ping_stats_hourly \
                 WHERE bucket_start >= ? AND bucket_start < ? GROUP BY monitor_id",
            )
            .bind(from.naive_utc())
            .bind(to.naive_utc()),
            _ => sqlx::query_as::<_, Row>(
                "SELECT monitor_id, COUNT(*), CAST(SUM(ok = 0) AS SIGNED), CAST(SUM(latency_ms) AS SIGNED) \
                 FROM ping_results WHERE scheduled_at >= ? AND scheduled_at < ? GROUP BY monitor_id",
            )
            .bind(from.naive_utc())
            .bind(to.naive_utc()),
        };
        rows.extend(query.fetch_all(pool).await?);
    }
    let mut totals: HashMap<u64, Totals> = HashMap::new();
    for (monitor, checks, failures, latency_sum) in rows {
        totals.entry(monitor).or_default().add(Totals {
            checks: u64::try_from(checks).unwrap_or(0),
            failures: u64::try_from(failures).unwrap_or(0),
            latency_sum: u64::try_from(latency_sum).unwrap_or(0),
        });
    }
    Ok(totals.into_iter().collect())
}

/// Rounds `t` up to a multiple of `step` (unchanged when already on one).
fn ceil(t: DateTime<Utc>, step: Duration) -> DateTime<Utc> {
    let floor = t.duration_trunc(step).unwrap_or(t);
    if floor == t { t } else { floor + step }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use sentinel_testkit::TestDb;

    use super::*;

    async fn raw(db: &TestDb, monitor: u64, at: DateTime<Utc>, ok: bool, latency: u32) {
        sqlx::query(
            "INSERT INTO ping_results (monitor_id, scheduled_at, started_at, generation, ok, latency_ms) \
             VALUES (?, ?, ?, 1, ?, ?)",
        )
        .bind(monitor)
        .bind(at.naive_utc())
        .bind(at.naive_utc())
        .bind(ok)
        .bind(latency)
        .execute(&db.pool)
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn raw_rows_alone_give_uptime_per_window() {
        let db = TestDb::create().await;
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 30, 0).unwrap();
        raw(&db, 1, now - Duration::hours(1), true, 100).await;
        raw(&db, 1, now - Duration::hours(2), false, 300).await;
        raw(&db, 1, now - Duration::days(3), false, 50).await;
        raw(&db, 1, now - Duration::days(40), false, 50).await;
        let uptimes = all(&db.pool, now).await.unwrap();
        let u = uptimes[&1];
        assert_eq!((u.day.checks, u.day.failures), (2, 1));
        assert_eq!(format_percent(&u.day).as_deref(), Some("50.00%"));
        assert_eq!(u.day.average_latency_ms(), Some(200.0));
        assert_eq!((u.week.checks, u.week.failures), (3, 2));
        assert_eq!(
            (u.month.checks, u.month.failures),
            (3, 2),
            "40 days ago is outside"
        );
    }

    #[tokio::test]
    async fn rolled_up_periods_come_from_the_rollups_and_are_not_counted_twice() {
        let db = TestDb::create().await;
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 30, 0).unwrap();
        // Rolled up: hourly up to 12:00 today, daily up to today 00:00.
        for (job, mark) in [
            ("rollup_hourly", "2026-11-23 12:00:00"),
            ("rollup_daily", "2026-11-23 00:00:00"),
        ] {
            sqlx::query("INSERT INTO job_watermarks (job, watermark) VALUES (?, ?)")
                .bind(job)
                .bind(mark)
                .execute(&db.pool)
                .await
                .unwrap();
        }
        // A raw row inside a rolled-up hour must not be counted again.
        raw(
            &db,
            1,
            Utc.with_ymd_and_hms(2026, 11, 23, 11, 10, 0).unwrap(),
            false,
            999,
        )
        .await;
        // Current hour: raw.
        raw(
            &db,
            1,
            Utc.with_ymd_and_hms(2026, 11, 23, 12, 10, 0).unwrap(),
            true,
            10,
        )
        .await;
        sqlx::query(
            "INSERT INTO ping_stats_hourly (monitor_id, bucket_start, checks, failures, latency_sum, latency_histogram) \
             VALUES (1, '2026-11-23 11:00:00', 100, 1, 1000, '[]'), (1, '2026-11-22 13:00:00', 100, 0, 1000, '[]')",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO ping_stats_daily (monitor_id, day, checks, failures, latency_sum, latency_histogram) \
             VALUES (1, '2026-11-20', 1000, 10, 5000, '[]'), (1, '2026-10-01', 1000, 1000, 5000, '[]')",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        let u = all(&db.pool, now).await.unwrap()[&1];
        // 24 h (from the 22nd 12:30): the first partial day comes from the hourly buckets
        // (22nd 13:00), today's whole hours too (11:00), then raw (12:10).
        assert_eq!((u.day.checks, u.day.failures), (201, 1));
        // 7 d: whole days 17th-22nd from daily (only the 20th has a row), today's whole
        // hours from hourly (11:00), the current hour raw. The 22nd 13:00 hourly bucket is
        // inside a whole day, so the daily tier owns it.
        assert_eq!((u.week.checks, u.week.failures), (1101, 11));
        // 30 d: 1 October is outside (window starts 24 October).
        assert_eq!(u.month.checks, 1101);
    }
}
