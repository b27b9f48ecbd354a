//! The scheduler (leader only): every tick, due monitors become check batches on RabbitMQ.
//!
//! ```text
//!  tick (1 s) ─► first slots for new monitors (spread by a hash of the id)
//!            └─► N workers at once, each looping over slices of due monitors:
//!                  BEGIN; SELECT … WHERE paused = 0 AND next_check_at <= now + lookahead
//!                         ORDER BY next_check_at LIMIT slice FOR UPDATE SKIP LOCKED
//!                  group by interval, chunk into batches of ≤ 50, publish, await confirms
//!                  UPDATE next_check_at = slot + interval (drift-free); COMMIT
//! ```
//!
//! Two schedulers (a leader hand-over, or two standalone processes) cannot dispatch the
//! same slot: the rows are locked until their slot has advanced, and a second scheduler
//! skips locked rows. A publish that is not confirmed rolls back: the slot stays due and
//! is dispatched on a later tick (at-least-once; the result row is unique per slot).
//! Every message expires after its monitors' interval, into `checks.dead`, so a queue
//! that backs up during an outage never replays stale checks.

mod publisher;
pub mod slots;

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, NaiveDateTime, Utc};
use crds::contract::{self, CheckBatch, CheckConfig, CheckRequest, SealedCredentials};
use prometheus::{Histogram, HistogramOpts, IntCounter, Registry};
use sqlx::MySqlPool;
use tokio::sync::{Mutex, watch};

pub use publisher::Publisher;

use crate::Result;

/// The longest pause between failed dispatch attempts.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(3);

/// Where "now" comes from: the wall clock, or a test's hand.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Tuning.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Checks per RabbitMQ message.
    pub batch_size: usize,
    /// Due monitors locked and dispatched per transaction.
    pub slice_size: usize,
    /// How often to look for due monitors.
    pub tick: Duration,
    /// Dispatch slots due within this much of now already, so that a check starts at its
    /// slot instead of up to one tick late; the checker holds an early check until its
    /// slot. Zero dispatches only what is due.
    pub lookahead: Duration,
    /// Slices dispatched at once, each with its own transaction and RabbitMQ connection.
    /// A slice spends most of its time waiting (locking read, confirms, commit), so one
    /// worker tops out at a few thousand checks/s on a busy machine; `SKIP LOCKED` keeps
    /// concurrent slices disjoint.
    pub workers: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batch_size: 50,
            slice_size: 500,
            tick: Duration::from_secs(1),
            lookahead: Duration::ZERO,
            workers: 1,
        }
    }
}

/// What one tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Monitors that got their first slot.
    pub scheduled: usize,
    /// Checks dispatched.
    pub dispatched: usize,
    /// Batches published.
    pub batches: usize,
}

/// Scheduler metrics.
#[derive(Clone)]
pub struct Metrics {
    dispatched: IntCounter,
    batches: IntCounter,
    failures: IntCounter,
    lag: Histogram,
}

impl Metrics {
    /// Creates and registers the metrics.
    ///
    /// # Panics
    /// When registered twice in one registry.
    pub fn register(registry: &Registry) -> Self {
        let dispatched = IntCounter::new(
            "sentinel_scheduler_checks_dispatched_total",
            "Checks dispatched",
        )
        .expect("valid metric");
        let batches = IntCounter::new(
            "sentinel_scheduler_batches_total",
            "Check batches published and confirmed",
        )
        .expect("valid metric");
        let failures = IntCounter::new(
            "sentinel_scheduler_dispatch_failures_total",
            "Ticks that failed (MySQL or RabbitMQ); their slots stay due",
        )
        .expect("valid metric");
        let lag = Histogram::with_opts(
            HistogramOpts::new(
                "sentinel_scheduler_dispatch_lag_seconds",
                "Dispatch time minus slot time",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0]),
        )
        .expect("valid metric");
        for metric in [
            Box::new(dispatched.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(batches.clone()),
            Box::new(failures.clone()),
            Box::new(lag.clone()),
        ] {
            registry.register(metric).expect("metrics registered once");
        }
        Self {
            dispatched,
            batches,
            failures,
            lag,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DueRow {
    id: u64,
    uid: String,
    next_check_at: NaiveDateTime,
    interval_ms: u32,
    check_config: String,
    credentials: Option<String>,
}

/// The scheduler.
pub struct Scheduler<C: Clock> {
    pool: MySqlPool,
    /// One publisher per worker (a worker locks only its own).
    publishers: Vec<Mutex<Publisher>>,
    clock: C,
    options: Options,
    metrics: Metrics,
}

impl<C: Clock> Scheduler<C> {
    /// A scheduler reading `pool`, publishing through `publisher`.
    pub fn new(
        pool: MySqlPool,
        publisher: Publisher,
        clock: C,
        options: Options,
        metrics: Metrics,
    ) -> Self {
        let mut publishers = Vec::with_capacity(options.workers.max(1));
        for _ in 1..options.workers.max(1) {
            publishers.push(Mutex::new(publisher.sibling()));
        }
        publishers.insert(0, Mutex::new(publisher));
        Self {
            pool,
            publishers,
            clock,
            options,
            metrics,
        }
    }

    /// Whether RabbitMQ is connected (for `/readyz`).
    pub fn connected(&self) -> bool {
        // A publisher in use is mid-publish, hence connected.
        self.publishers
            .iter()
            .all(|p| p.try_lock().map_or(true, |p| p.connected()))
    }

    /// Ticks while `leader` says so, until `shutdown`. Failures back off (capped
    /// exponential) and are retried; nothing unconfirmed is ever advanced.
    pub async fn run(
        mut self,
        mut leader: watch::Receiver<bool>,
        ready: watch::Sender<bool>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut failures = 0u32;
        loop {
            // Retries back off, but never past MAX_RETRY_WAIT: every second of waiting after
            // the broker is back is a second of slots dispatched late or skipped.
            let wait = if failures == 0 {
                self.options.tick
            } else {
                common::amqp::backoff(failures - 1).min(MAX_RETRY_WAIT)
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
                _ = leader.changed() => {}
            }
            if !*leader.borrow() {
                continue;
            }
            match self.tick().await {
                Ok(report) => {
                    failures = 0;
                    ready.send_replace(true);
                    if report.dispatched > 0 {
                        tracing::debug!(?report, "dispatched");
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    ready.send_replace(false);
                    self.metrics.failures.inc();
                    tracing::warn!(error = %e, attempt = failures, "dispatch failed; slots stay due");
                }
            }
        }
    }

    /// One tick: first slots for new monitors, then every due slot.
    ///
    /// # Errors
    /// MySQL or RabbitMQ failures; slots of the failing slice stay due.
    pub async fn tick(&mut self) -> Result<TickReport> {
        let now = self.clock.now();
        let mut report = TickReport {
            scheduled: self.assign_first_slots(now).await?,
            ..TickReport::default()
        };
        let workers = self
            .publishers
            .iter()
            .map(|publisher| self.drain(now, publisher));
        let mut failure = None;
        for outcome in futures::future::join_all(workers).await {
            match outcome {
                Ok((checks, batches)) => {
                    report.dispatched += checks;
                    report.batches += batches;
                }
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        failure.map_or(Ok(report), Err)
    }

    /// One worker: dispatches slices until one comes back short (nothing more is due).
    async fn drain(
        &self,
        now: DateTime<Utc>,
        publisher: &Mutex<Publisher>,
    ) -> Result<(usize, usize)> {
        let mut publisher = publisher.lock().await;
        let (mut dispatched, mut published) = (0, 0);
        loop {
            let (checks, batches) = self.dispatch_slice(now, &mut publisher).await?;
            dispatched += checks;
            published += batches;
            if checks < self.options.slice_size {
                return Ok((dispatched, published));
            }
        }
    }

    /// Gives monitors without a slot (new, re-timed or unpaused) their first one.
    async fn assign_first_slots(&self, now: DateTime<Utc>) -> Result<usize> {
        let fresh: Vec<(u64, u32)> = sqlx::query_as(
            "SELECT id, interval_ms FROM monitors WHERE next_check_at IS NULL AND paused = 0 LIMIT 10000",
        )
        .fetch_all(&self.pool)
        .await?;
        for chunk in fresh.chunks(500) {
            let mut update =
                sqlx::QueryBuilder::new("UPDATE monitors SET next_check_at = CASE id ");
            for (id, interval) in chunk {
                update
                    .push("WHEN ")
                    .push_bind(*id)
                    .push(" THEN ")
                    .push_bind(slots::first_slot(*id, u64::from(*interval), now).naive_utc())
                    .push(" ");
            }
            update.push("END WHERE next_check_at IS NULL AND id IN (");
            let mut ids = update.separated(", ");
            for (id, _) in chunk {
                ids.push_bind(*id);
            }
            update.push(")");
            update.build().execute(&self.pool).await?;
        }
        Ok(fresh.len())
    }

    /// Locks one slice of due monitors, publishes their checks, advances their slots.
    /// Returns (checks, batches).
    async fn dispatch_slice(
        &self,
        now: DateTime<Utc>,
        publisher: &mut Publisher,
    ) -> Result<(usize, usize)> {
        // READ COMMITTED: the locking read takes record locks only, no gap locks, so a
        // second scheduler skipping our rows cannot deadlock with our slot updates (which
        // move index entries into gaps it would otherwise hold).
        let mut connection = self.pool.acquire().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .execute(&mut *connection)
            .await?;
        let mut tx = sqlx::Connection::begin(&mut *connection).await?;
        let rows: Vec<DueRow> = sqlx::query_as(
            "SELECT id, uid, next_check_at, interval_ms, CAST(check_config AS CHAR) AS check_config, credentials \
             FROM monitors WHERE paused = 0 AND next_check_at <= ? \
             ORDER BY next_check_at LIMIT ? FOR UPDATE SKIP LOCKED",
        )
        .bind((now + chrono::TimeDelta::from_std(self.options.lookahead).unwrap_or_default()).naive_utc())
        .bind(u64::try_from(self.options.slice_size).unwrap_or(u64::MAX))
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok((0, 0));
        }
        // Group by interval so each message's expiry (its interval) fits all its checks.
        let mut by_interval: BTreeMap<u32, Vec<CheckRequest>> = BTreeMap::new();
        for row in &rows {
            let config: CheckConfig = match serde_json::from_str(&row.check_config) {
                Ok(config) => config,
                Err(e) => {
                    tracing::error!(monitor_id = row.id, error = %e, "stored check config does not decode; slot skipped");
                    continue;
                }
            };
            let slot = row.next_check_at.and_utc();
            self.metrics
                .lag
                .observe((now - slot).num_milliseconds().max(0) as f64 / 1000.0);
            by_interval
                .entry(row.interval_ms)
                .or_default()
                .push(CheckRequest {
                    monitor_id: row.id,
                    slot,
                    credentials: row.credentials.clone().map(|sealed| SealedCredentials {
                        owner: row.uid.clone(),
                        sealed,
                    }),
                    config,
                });
        }
        let mut batches = Vec::new();
        for (interval, requests) in by_interval {
            for chunk in requests.chunks(self.options.batch_size.max(1)) {
                batches.push((
                    CheckBatch {
                        v: contract::VERSION,
                        batch_id: uuid::Uuid::now_v7(),
                        dispatched_at: now,
                        checks: chunk.to_vec(),
                    },
                    u64::from(interval),
                ));
            }
        }
        if let Err(e) = publisher.publish(&batches).await {
            tx.rollback().await?;
            return Err(e);
        }
        let mut update = sqlx::QueryBuilder::new("UPDATE monitors SET next_check_at = CASE id ");
        for row in &rows {
            let next =
                slots::next_slot(row.next_check_at.and_utc(), u64::from(row.interval_ms), now);
            update
                .push("WHEN ")
                .push_bind(row.id)
                .push(" THEN ")
                .push_bind(next.naive_utc())
                .push(" ");
        }
        update.push("END WHERE id IN (");
        let mut ids = update.separated(", ");
        for row in &rows {
            ids.push_bind(row.id);
        }
        update.push(")");
        update.build().execute(&mut *tx).await?;
        tx.commit().await?;
        self.metrics.dispatched.inc_by(rows.len() as u64);
        self.metrics.batches.inc_by(batches.len() as u64);
        Ok((rows.len(), batches.len()))
    }
}
