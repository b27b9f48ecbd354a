//! Daily partitions of `ping_results`: partitions for today and the next days always
//! exist, partitions past the raw retention are dropped.
//!
//! ```text
//!  … | p20261121 | p20261122 | p20261123 (today) | … | p20261130 | p_future (MAXVALUE, empty)
//!       ▲ dropped once older than the retention        ▲ split off p_future ahead of time
//! ```
//!
//! New days are split off the catch-all `p_future` with `REORGANIZE PARTITION`, which is
//! instant while `p_future` is empty, as it is when maintenance runs at least once within
//! the look-ahead. (Should rows have landed in it, the reorganisation moves them into the
//! right days: correct, only slower.) Dropping a partition deletes its day's rows at once,
//! without a long DELETE. Names are `pYYYYMMDD`; bounds are `< next day 00:00:00`, so month
//! and year boundaries need nothing special.

use chrono::{Days, NaiveDate, NaiveDateTime};
use sqlx::MySqlPool;

use crate::Result;

/// The partition name of `day`.
pub fn name(day: NaiveDate) -> String {
    format!("p{}", day.format("%Y%m%d"))
}

fn day_of(name: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(name.strip_prefix('p')?, "%Y%m%d").ok()
}

/// The daily partitions that exist, oldest first.
///
/// # Errors
/// MySQL errors.
pub async fn daily_partitions(pool: &MySqlPool) -> Result<Vec<NaiveDate>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(partition_name AS CHAR) FROM information_schema.partitions \
         WHERE table_schema = DATABASE() AND table_name = 'ping_results' AND partition_name IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    let mut days: Vec<NaiveDate> = names.iter().filter_map(|n| day_of(n)).collect();
    days.sort();
    Ok(days)
}

/// What one maintenance run changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Maintenance {
    /// Days added.
    pub created: Vec<NaiveDate>,
    /// Days dropped.
    pub dropped: Vec<NaiveDate>,
}

/// Makes partitions exist for `today` and the next `ahead` days, and drops those whose
/// whole day is older than `retention_days` before `today`.
///
/// # Errors
/// MySQL errors (e.g. the table is not partitioned as the migration created it).
pub async fn maintain(
    pool: &MySqlPool,
    now: NaiveDateTime,
    ahead: u32,
    retention_days: u32,
) -> Result<Maintenance> {
    let today = now.date();
    let existing = daily_partitions(pool).await?;
    let last = existing.last().copied();
    let wanted_until = today + Days::new(u64::from(ahead));
    let mut created = Vec::new();
    let mut day = last.map_or(today, |l| (l + Days::new(1)).max(today));
    // Days before the newest existing partition are already covered by it.
    while day <= wanted_until {
        created.push(day);
        day = day + Days::new(1);
    }
    // After a gap (maintenance did not run for days) the first new partition also covers
    // the days in between: RANGE partitions are contiguous.
    if !created.is_empty() {
        let parts: Vec<String> = created
            .iter()
            .map(|d| {
                format!(
                    "PARTITION {} VALUES LESS THAN ('{} 00:00:00')",
                    name(*d),
                    (*d + Days::new(1)).format("%Y-%m-%d")
                )
            })
            .collect();
        let sql = format!(
            "ALTER TABLE ping_results REORGANIZE PARTITION p_future INTO ({}, PARTITION p_future VALUES LESS THAN (MAXVALUE))",
            parts.join(", ")
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
    }
    let cutoff = today - Days::new(u64::from(retention_days));
    let mut all = existing;
    all.extend(created.iter().copied());
    // Keep at least one daily partition: dropping every one would leave nothing below
    // p_future for old stragglers.
    let dropped: Vec<NaiveDate> = all
        .iter()
        .copied()
        .filter(|d| *d < cutoff)
        .take(all.len().saturating_sub(1))
        .collect();
    if !dropped.is_empty() {
        let names: Vec<String> = dropped.iter().map(|d| name(*d)).collect();
        let sql = format!(
            "ALTER TABLE ping_results DROP PARTITION {}",
            names.join(", ")
        );
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await?;
    }
    Ok(Maintenance { created, dropped })
}
