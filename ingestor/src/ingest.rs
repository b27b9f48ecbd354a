//! Redis stream → MySQL: read through the consumer group, insert each batch with one
//! multi-row `INSERT IGNORE` in one transaction, and only then acknowledge (and delete) the
//! entries.
//!
//! ```text
//!  XREADGROUP (≤ batch, block ≤ flush interval) ─┐
//!  XAUTOCLAIM (entries idle > claim timeout) ────┴► decode ─ malformed ─► dead stream + ack
//!                                                     └─ INSERT IGNORE … (one transaction)
//!                                                          └─ COMMIT ─► XACK + XDEL
//! ```
//!
//! Crash anywhere before the ack: the entries stay pending and are claimed again (by this
//! consumer when it restarts under the same name, or by any other after the claim
//! timeout); the insert ignores rows already committed, so nothing is lost or doubled.
//! MySQL down: nothing is acknowledged, the same batch is retried with capped exponential
//! backoff, and the stream grows until MySQL returns.

use std::time::Duration;

use crds::contract::{self, Names, TelemetryRecord};
use redis::{
    AsyncCommands,
    aio::ConnectionManager,
    streams::{StreamReadOptions, StreamReadReply},
};
use sqlx::MySqlPool;

use crate::{Result, metrics::Metrics};

/// Tuning.
#[derive(Clone, Debug)]
pub struct Options {
    /// Records per INSERT at most.
    pub batch_size: usize,
    /// How long a read waits for entries before inserting what it has.
    pub flush_interval: Duration,
    /// Entries pending longer than this with another consumer are taken over.
    pub claim_timeout: Duration,
    /// This consumer's name in the group (stable across restarts of the same replica).
    pub consumer: String,
}

/// One stream entry: id and raw payload.
#[derive(Clone, Debug)]
pub struct Entry {
    /// Stream id.
    pub id: String,
    /// The `r` field, if present.
    pub payload: Option<Vec<u8>>,
}

/// The ingestor's stream side.
#[derive(Clone)]
pub struct Ingestor {
    redis: ConnectionManager,
    pool: MySqlPool,
    names: Names,
    options: Options,
    metrics: Metrics,
}

/// What one step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Entries read (new and claimed).
    pub read: usize,
    /// Rows inserted (duplicates of committed rows are not counted).
    pub inserted: u64,
    /// Entries dead-lettered.
    pub dead: usize,
}

impl Ingestor {
    /// Connects to Redis and makes sure the consumer group exists.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn new(
        redis_url: &str,
        pool: MySqlPool,
        names: Names,
        options: Options,
        metrics: Metrics,
    ) -> Result<Self> {
        // Reads block up to the flush interval: the response timeout must be longer (the
        // client's default, 500 ms, would turn every idle read into a timeout error).
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_response_timeout(Some(options.flush_interval + Duration::from_secs(5)));
        let redis =
            ConnectionManager::new_with_config(redis::Client::open(redis_url)?, config).await?;
        let ingestor = Self {
            redis,
            pool,
            names,
            options,
            metrics,
        };
        ingestor.ensure_group().await?;
        Ok(ingestor)
    }

    async fn ensure_group(&self) -> Result<()> {
        let mut redis = self.redis.clone();
        let created: redis::RedisResult<()> = redis
            .xgroup_create_mkstream(
                self.names.telemetry_stream(),
                self.names.telemetry_group(),
                "0",
            )
            .await;
        match created {
            Ok(()) => Ok(()),
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads the next batch: entries pending for this consumer first (after a restart),
    /// then entries idle too long with other consumers, then new ones. (The run loop uses
    /// the three steps separately; this combination is for one-off draining.)
    ///
    /// # Errors
    /// Redis errors.
    pub async fn read(&self) -> Result<Vec<Entry>> {
        let mut entries = self.read_pending().await?;
        if entries.is_empty() {
            entries = self.claim().await?;
        }
        if entries.is_empty() {
            entries = self.read_new().await?;
        }
        Ok(entries)
    }

    /// Entries this consumer read before and never acknowledged (a crash or restart).
    ///
    /// # Errors
    /// Redis errors.
    pub async fn read_pending(&self) -> Result<Vec<Entry>> {
        let mut redis = self.redis.clone();
        let options = StreamReadOptions::default()
            .group(self.names.telemetry_group(), &self.options.consumer)
            .count(self.options.batch_size);
        let mine: StreamReadReply = redis
            .xread_options(&[self.names.telemetry_stream()], &["0"], &options)
            .await?;
        Ok(entries_of(mine))
    }

    /// Takes over entries that other consumers left pending longer than the claim timeout.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn claim(&self) -> Result<Vec<Entry>> {
        let mut redis = self.redis.clone();
        let idle = u64::try_from(self.options.claim_timeout.as_millis()).unwrap_or(u64::MAX);
        let claimed: redis::Value = redis::cmd("XAUTOCLAIM")
            .arg(self.names.telemetry_stream())
            .arg(self.names.telemetry_group())
            .arg(&self.options.consumer)
            .arg(idle)
            .arg("0-0")
            .arg("COUNT")
            .arg(self.options.batch_size)
            .query_async(&mut redis)
            .await?;
        let entries = claimed_entries(claimed);
        if !entries.is_empty() {
            self.metrics.claimed.inc_by(entries.len() as u64);
        }
        Ok(entries)
    }

    /// New entries, waiting at most the flush interval for some to arrive.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn read_new(&self) -> Result<Vec<Entry>> {
        let mut redis = self.redis.clone();
        let block = usize::try_from(self.options.flush_interval.as_millis()).unwrap_or(1000);
        let options = StreamReadOptions::default()
            .group(self.names.telemetry_group(), &self.options.consumer)
            .count(self.options.batch_size)
            .block(block);
        let fresh: StreamReadReply = redis
            .xread_options(&[self.names.telemetry_stream()], &[">"], &options)
            .await?;
        Ok(entries_of(fresh))
    }

    /// Stores `entries` and acknowledges them. Malformed entries go to the dead stream.
    ///
    /// # Errors
    /// MySQL or Redis errors: nothing was acknowledged; retry the same entries.
    pub async fn store(&self, entries: &[Entry]) -> Result<Step> {
        let mut records = Vec::with_capacity(entries.len());
        let mut dead = Vec::new();
        for entry in entries {
            match entry
                .payload
                .as_deref()
                .map(|p| contract::decode::<TelemetryRecord>("telemetry record", p))
            {
                Some(Ok(record)) => records.push(record),
                Some(Err(e)) => dead.push((entry, e.to_string())),
                None => dead.push((entry, "entry has no field r".to_string())),
            }
        }
        let inserted = insert(&self.pool, &records).await?;
        let mut redis = self.redis.clone();
        let mut pipe = redis::pipe();
        for (entry, reason) in &dead {
            pipe.cmd("XADD")
                .arg(self.names.telemetry_dead_stream())
                .arg("*")
                .arg("id")
                .arg(&entry.id)
                .arg("reason")
                .arg(reason)
                .arg("r")
                .arg(entry.payload.clone().unwrap_or_default())
                .ignore();
        }
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        if !ids.is_empty() {
            pipe.cmd("XACK")
                .arg(self.names.telemetry_stream())
                .arg(self.names.telemetry_group())
                .arg(&ids)
                .ignore();
            pipe.cmd("XDEL")
                .arg(self.names.telemetry_stream())
                .arg(&ids)
                .ignore();
        }
        pipe.query_async::<()>(&mut redis).await?;
        self.metrics.inserted.inc_by(inserted);
        self.metrics.dead.inc_by(dead.len() as u64);
        if !dead.is_empty() {
            tracing::warn!(count = dead.len(), first_reason = %dead[0].1, "malformed telemetry entries dead-lettered");
        }
        Ok(Step {
            read: entries.len(),
            inserted,
            dead: dead.len(),
        })
    }

    /// Entries in the stream not yet acknowledged (new plus pending), for `/metrics`.
    ///
    /// # Errors
    /// Redis errors.
    pub async fn backlog(&self) -> Result<u64> {
        let mut redis = self.redis.clone();
        Ok(redis.xlen(self.names.telemetry_stream()).await?)
    }

    /// Runs until `shutdown`. Own pending entries first, then new ones, with up to
    /// [`IN_FLIGHT`] batches being stored at once (reading the next batch overlaps
    /// inserting the last); abandoned entries of other consumers are claimed every half
    /// claim timeout. A batch that cannot be stored is retried with capped exponential
    /// backoff and stays pending meanwhile.
    pub async fn run(
        &self,
        ready: tokio::sync::watch::Sender<bool>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let ready = std::sync::Arc::new(ready);
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let mut tasks = tokio::task::JoinSet::new();
        let mut failures = 0u32;
        let mut pending_done = false;
        let mut last_claim = tokio::time::Instant::now();
        loop {
            while tasks.try_join_next().is_some() {}
            let claim_due = last_claim.elapsed() >= self.options.claim_timeout / 2;
            let read = tokio::select! {
                () = &mut shutdown => break,
                read = async {
                    if !pending_done {
                        self.read_pending().await
                    } else if claim_due {
                        self.claim().await
                    } else {
                        self.read_new().await
                    }
                } => read,
            };
            let entries = match read {
                Ok(entries) => {
                    failures = 0;
                    entries
                }
                Err(e) => {
                    failures += 1;
                    ready.send_replace(false);
                    tracing::warn!(error = %e, "failed to read the telemetry stream");
                    if self.pause(failures, &mut shutdown).await {
                        break;
                    }
                    continue;
                }
            };
            if !pending_done && entries.is_empty() {
                pending_done = true;
            }
            if claim_due && pending_done {
                last_claim = tokio::time::Instant::now();
            }
            if entries.is_empty() {
                continue;
            }
            let permit = tokio::select! {
                () = &mut shutdown => break,
                permit = slots.clone().acquire_owned() => permit.expect("never closed"),
            };
            let ingestor = self.clone();
            let ready = ready.clone();
            tasks.spawn(async move {
                let _permit = permit;
                let mut attempt = 0u32;
                loop {
                    match ingestor.store(&entries).await {
                        Ok(_) => {
                            ready.send_replace(true);
                            break;
                        }
                        Err(e) => {
                            attempt += 1;
                            ready.send_replace(false);
                            tracing::warn!(error = %e, entries = entries.len(), attempt, "failed to store telemetry; retrying the same batch");
                            tokio::time::sleep(common::amqp::backoff(attempt - 1)).await;
                        }
                    }
                }
            });
            if let Ok(backlog) = self.backlog().await {
                self.metrics
                    .backlog
                    .set(i64::try_from(backlog).unwrap_or(i64::MAX));
            }
        }
        // Batches still failing at shutdown stay pending and are stored after a restart.
        let _ = tokio::time::timeout(Duration::from_secs(10), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
    }

    /// Waits the backoff for `failures`; true when shutdown came first.
    async fn pause(
        &self,
        failures: u32,
        shutdown: &mut std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    ) -> bool {
        let wait = common::amqp::backoff(failures.saturating_sub(1));
        tokio::select! {
            () = shutdown.as_mut() => true,
            () = tokio::time::sleep(wait) => false,
        }
    }
}

/// Batches being stored at once: one inserting while the next is read and decoded.
pub const IN_FLIGHT: usize = 2;

/// Inserts `records` with one multi-row INSERT IGNORE in one transaction; returns rows
/// inserted.
///
/// # Errors
/// MySQL errors (the transaction is rolled back).
pub async fn insert(pool: &MySqlPool, records: &[TelemetryRecord]) -> Result<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    let mut insert = sqlx::QueryBuilder::new(
        "INSERT IGNORE INTO ping_results (monitor_id, scheduled_at, started_at, generation, ok, status_code, \
         latency_ms, dns_ms, connect_ms, tls_ms, first_byte_ms, error_kind, error, cert_expires_at) ",
    );
    insert.push_values(records, |mut row, r| {
        row.push_bind(r.monitor_id)
            .push_bind(r.scheduled_at.naive_utc())
            .push_bind(r.started_at.naive_utc())
            .push_bind(r.generation)
            .push_bind(r.ok)
            .push_bind(r.status_code)
            .push_bind(r.latency_ms)
            .push_bind(r.timings.dns_ms)
            .push_bind(r.timings.connect_ms)
            .push_bind(r.timings.tls_ms)
            .push_bind(r.timings.first_byte_ms)
            .push_bind(r.error_kind.map(|k| k.as_str()))
            .push_bind(r.error.as_deref())
            .push_bind(r.cert_expires_at.map(|t| t.naive_utc()));
    });
    let inserted = insert.build().execute(&mut *tx).await?.rows_affected();
    tx.commit().await?;
    Ok(inserted)
}

fn entries_of(reply: StreamReadReply) -> Vec<Entry> {
    reply
        .keys
        .into_iter()
        .flat_map(|key| key.ids)
        .map(|id| Entry {
            payload: id.get::<Vec<u8>>("r"),
            id: id.id,
        })
        .collect()
}

/// Parses XAUTOCLAIM's reply: `[next-cursor, [[id, [field, value, …]], …], …]`.
fn claimed_entries(value: redis::Value) -> Vec<Entry> {
    let redis::Value::Array(parts) = value else {
        return Vec::new();
    };
    let Some(redis::Value::Array(items)) = parts.into_iter().nth(1) else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let redis::Value::Array(pair) = item else {
                return None;
            };
            let mut pair = pair.into_iter();
            let id: String = redis::from_redis_value(pair.next()?).ok()?;
            let fields: Vec<Vec<u8>> = match pair.next()? {
                redis::Value::Array(fields) => fields
                    .into_iter()
                    .filter_map(|f| redis::from_redis_value(f).ok())
                    .collect(),
                _ => Vec::new(),
            };
            let payload = fields
                .chunks(2)
                .find(|kv| kv.first().map(Vec::as_slice) == Some(b"r"))
                .and_then(|kv| kv.get(1).cloned());
            Some(Entry { id, payload })
        })
        .collect()
}
