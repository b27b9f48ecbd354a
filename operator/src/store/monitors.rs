//! The `monitors` row (config and the check config the scheduler dispatches) and the
//! monitor's initial `monitor_state`.
//!
//! Monitors are the one kind that comes by the ten thousand, so they are stored in
//! batches: one transaction and a handful of multi-row statements per batch instead of
//! four round trips and a commit per object (a first apply of 50,000 monitors went from
//! minutes to seconds). A single upsert is a batch of one, so both paths share one SQL.

use std::collections::{BTreeMap, HashMap};

use crds::{Health, Monitor, contract::CheckConfig};
use sqlx::{MySql, QueryBuilder};

use super::{Change, Store, change};
use crate::{Error, Result};

/// Largest batch [`Store::upsert_monitors`] sends in one statement (12 parameters per row
/// stay far below MySQL's 65,535 placeholders, and a batch's locks are short).
pub const MAX_BATCH: usize = 500;

/// What is stored for a monitor, built from a validated object.
#[derive(Clone, Debug)]
pub struct MonitorRow<'a> {
    /// Kubernetes UID.
    pub uid: &'a str,
    /// Namespace.
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// `metadata.generation`.
    pub generation: i64,
    /// The object.
    pub monitor: &'a Monitor,
    /// Header values from Secrets, keyed `secretName/key` (sealed before storing).
    pub credentials: BTreeMap<String, String>,
}

/// The column values of one row, computed before the transaction starts.
struct Columns<'a> {
    row: &'a MonitorRow<'a>,
    labels: String,
    config: String,
    credentials: Option<String>,
    interval_ms: u32,
    timeout_ms: u32,
    health: Health,
}

impl Store {
    /// Inserts or updates a monitor: a batch of one (see [`Store::upsert_monitors`]).
    ///
    /// # Errors
    /// As [`Store::upsert_monitors`].
    pub async fn upsert_monitor(&self, row: &MonitorRow<'_>) -> Result<Change> {
        let changes = self.upsert_monitors(std::slice::from_ref(row)).await?;
        Ok(changes[0])
    }

    /// Inserts or updates `rows` (distinct uids) in one transaction: all or none.
    /// Returns what happened to each row, in order. Callers split large sets into
    /// [`MAX_BATCH`]-sized calls.
    ///
    /// A changed interval or an unpaused monitor gets `next_check_at = NULL`, so the
    /// scheduler places its next slot by the new interval instead of keeping one computed
    /// from the old. Pausing sets health `Paused`; unpausing returns it to `Pending` (no
    /// alerts until the next result). A stale row with a row's namespace/name under another
    /// uid (an object deleted without cleanup and re-created) is removed first.
    ///
    /// # Errors
    /// MySQL errors; [`Error::NoCredentialsKey`] when credentials must be stored and no key
    /// is configured.
    pub async fn upsert_monitors(&self, rows: &[MonitorRow<'_>]) -> Result<Vec<Change>> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let columns = rows
            .iter()
            .map(|row| self.columns(row))
            .collect::<Result<Vec<_>>>()?;

        let mut tx = self.pool.begin().await?;
        let mut stale = QueryBuilder::<MySql>::new("DELETE FROM monitors WHERE ");
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                stale.push(" OR ");
            }
            stale.push("(namespace = ").push_bind(row.namespace);
            stale.push(" AND name = ").push_bind(row.name);
            stale.push(" AND uid <> ").push_bind(row.uid).push(")");
        }
        stale.build().execute(&mut *tx).await?;

        // Locked before the upsert so `Change` reports what was there before it.
        let mut lock =
            QueryBuilder::<MySql>::new("SELECT uid, id, generation FROM monitors WHERE uid IN (");
        let mut uids = lock.separated(", ");
        for row in rows {
            uids.push_bind(row.uid);
        }
        lock.push(") FOR UPDATE");
        let existing: HashMap<String, (u64, i64)> = lock
            .build_query_as::<(String, u64, i64)>()
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(uid, id, generation)| (uid, (id, generation)))
            .collect();

        // `next_check_at` is assigned first: MySQL evaluates the assignments left to
        // right, so its condition still sees the old interval and paused flag.
        let mut upsert = QueryBuilder::<MySql>::new(
            "INSERT INTO monitors (uid, namespace, name, generation, labels, check_type, url, \
             interval_ms, timeout_ms, paused, check_config, credentials) ",
        );
        upsert.push_values(&columns, |mut values, c| {
            values
                .push_bind(c.row.uid)
                .push_bind(c.row.namespace)
                .push_bind(c.row.name)
                .push_bind(c.row.generation)
                .push_bind(&c.labels)
                .push_bind("HTTP")
                .push_bind(&c.row.monitor.spec.url)
                .push_bind(c.interval_ms)
                .push_bind(c.timeout_ms)
                .push_bind(c.row.monitor.spec.paused)
                .push_bind(&c.config)
                .push_bind(&c.credentials);
        });
        upsert.push(
            " ON DUPLICATE KEY UPDATE \
               next_check_at = IF(interval_ms <> VALUES(interval_ms) \
                 OR (paused = 1 AND VALUES(paused) = 0), NULL, next_check_at), \
               namespace = VALUES(namespace), name = VALUES(name), \
               generation = VALUES(generation), labels = VALUES(labels), url = VALUES(url), \
               interval_ms = VALUES(interval_ms), timeout_ms = VALUES(timeout_ms), \
               paused = VALUES(paused), check_config = VALUES(check_config), \
               credentials = VALUES(credentials)",
        );
        upsert.build().execute(&mut *tx).await?;

        let mut ids = QueryBuilder::<MySql>::new("SELECT uid, id FROM monitors WHERE uid IN (");
        let mut uids = ids.separated(", ");
        for row in rows {
            uids.push_bind(row.uid);
        }
        ids.push(")");
        let ids: HashMap<String, u64> = ids
            .build_query_as::<(String, u64)>()
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .collect();

        // New monitors start Pending (or Paused). A monitor being paused becomes Paused;
        // one being unpaused goes back to Pending. Otherwise the checker owns health.
        let mut state = QueryBuilder::<MySql>::new(
            "INSERT INTO monitor_state (monitor_id, health, health_since) ",
        );
        state.push_values(&columns, |mut values, c| {
            values
                .push_bind(ids.get(c.row.uid).copied().unwrap_or_default())
                .push_bind(c.health.as_str())
                .push("NOW(3)");
        });
        state.push(
            " ON DUPLICATE KEY UPDATE \
               health_since = IF((health = 'Paused') <> (VALUES(health) = 'Paused'), NOW(3), health_since), \
               consecutive_failures = IF(VALUES(health) = 'Paused', 0, consecutive_failures), \
               health = IF((health = 'Paused') <> (VALUES(health) = 'Paused'), VALUES(health), health)",
        );
        state.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows
            .iter()
            .map(|row| change(existing.get(row.uid).copied(), row.generation))
            .collect())
    }

    fn columns<'a>(&self, row: &'a MonitorRow<'a>) -> Result<Columns<'a>> {
        let spec = &row.monitor.spec;
        let labels =
            serde_json::to_string(&crds::monitor::labels(row.monitor)).expect("labels serialise");
        let config = CheckConfig::from_spec(row.namespace, row.name, row.generation, spec);
        let config = serde_json::to_string(&config).expect("check config serialises");
        let credentials = if row.credentials.is_empty() {
            None
        } else {
            let sealer = self
                .sealer
                .as_ref()
                .ok_or(Error::Credentials(common::Error::NoCredentialsKey))?;
            Some(sealer.seal(row.uid, &row.credentials))
        };
        Ok(Columns {
            row,
            labels,
            config,
            credentials,
            interval_ms: u32::try_from(spec.interval().as_millis()).unwrap_or(u32::MAX),
            timeout_ms: u32::try_from(spec.timeout().as_millis()).unwrap_or(u32::MAX),
            health: if spec.paused {
                Health::Paused
            } else {
                Health::Pending
            },
        })
    }
}
