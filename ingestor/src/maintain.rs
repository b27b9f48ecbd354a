//! The periodic maintenance: partitions ahead and behind, hourly and daily rollups, hourly
//! retention. Runs at start and then every interval; safe on several replicas at once
//! (every step is idempotent, and DDL on one table is serialised by MySQL).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::MySqlPool;

use crate::{Result, metrics::Metrics, partitions, rollup};

/// Tuning.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Days of partitions kept ahead of today.
    pub partitions_ahead: u32,
    /// Days of raw results kept.
    pub raw_retention_days: u32,
    /// How late a result may arrive and still update its rollup bucket.
    pub lateness: chrono::Duration,
    /// How long hourly buckets are kept (daily ones are kept for ever).
    pub hourly_retention: chrono::Duration,
    /// How often maintenance runs.
    pub interval: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            partitions_ahead: 7,
            raw_retention_days: 30,
            lateness: chrono::Duration::hours(2),
            hourly_retention: chrono::Duration::days(90),
            interval: Duration::from_secs(60),
        }
    }
}

/// One maintenance run at `now`.
///
/// # Errors
/// MySQL errors (the next run retries).
pub async fn run_once(pool: &MySqlPool, now: DateTime<Utc>, options: &Options) -> Result<()> {
    let changed = partitions::maintain(
        pool,
        now.naive_utc(),
        options.partitions_ahead,
        options.raw_retention_days,
    )
    .await?;
    if !changed.created.is_empty() || !changed.dropped.is_empty() {
        tracing::info!(
            created = changed.created.len(),
            dropped = changed.dropped.len(),
            "partitions maintained"
        );
    }
    rollup::hourly(pool, now, options.lateness).await?;
    rollup::daily(pool, options.lateness).await?;
    rollup::expire_hourly(pool, now, options.hourly_retention).await?;
    Ok(())
}

/// Runs maintenance every interval until `shutdown`.
pub async fn run(
    pool: MySqlPool,
    options: Options,
    metrics: Metrics,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(options.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            _ = ticker.tick() => {}
        }
        if let Err(e) = run_once(&pool, Utc::now(), &options).await {
            metrics.maintenance_failures.inc();
            tracing::warn!(error = %e, "maintenance failed; retrying next interval");
        }
    }
}
