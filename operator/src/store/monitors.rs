//! The `monitors` row (config and the check config the scheduler dispatches) and the
//! monitor's initial `monitor_state`.

use std::collections::BTreeMap;

use crds::{Health, Monitor, contract::CheckConfig};

use super::{Change, Store, Table, change, lock_row};
use crate::{Error, Result};

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

impl Store {
    /// Inserts or updates a monitor.
    ///
    /// A changed interval or an unpaused monitor gets `next_check_at = NULL`, so the
    /// scheduler places its next slot by the new interval instead of keeping one computed
    /// from the old. Pausing sets health `Paused`; unpausing returns it to `Pending` (no
    /// alerts until the next result).
    ///
    /// # Errors
    /// MySQL errors; [`Error::NoCredentialsKey`] when credentials must be stored and no key
    /// is configured.
    pub async fn upsert_monitor(&self, row: &MonitorRow<'_>) -> Result<Change> {
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
        let interval_ms = u32::try_from(spec.interval().as_millis()).unwrap_or(u32::MAX);
        let timeout_ms = u32::try_from(spec.timeout().as_millis()).unwrap_or(u32::MAX);

        let mut tx = self.pool.begin().await?;
        let existing = lock_row(&mut tx, Table::Monitors, row.uid, row.namespace, row.name).await?;
        let change = change(existing, row.generation);
        let id = match existing {
            None => sqlx::query(
                "INSERT INTO monitors (uid, namespace, name, generation, labels, check_type, url, \
                     interval_ms, timeout_ms, paused, check_config, credentials) \
                     VALUES (?, ?, ?, ?, ?, 'HTTP', ?, ?, ?, ?, ?, ?)",
            )
            .bind(row.uid)
            .bind(row.namespace)
            .bind(row.name)
            .bind(row.generation)
            .bind(&labels)
            .bind(&spec.url)
            .bind(interval_ms)
            .bind(timeout_ms)
            .bind(spec.paused)
            .bind(&config)
            .bind(&credentials)
            .execute(&mut *tx)
            .await?
            .last_insert_id(),
            Some((id, _)) => {
                sqlx::query(
                    "UPDATE monitors SET \
                       next_check_at = IF(interval_ms <> ? OR (paused = 1 AND ? = 0), NULL, next_check_at), \
                       namespace = ?, name = ?, generation = ?, labels = ?, url = ?, interval_ms = ?, \
                       timeout_ms = ?, paused = ?, check_config = ?, credentials = ? \
                     WHERE id = ?",
                )
                .bind(interval_ms)
                .bind(spec.paused)
                .bind(row.namespace)
                .bind(row.name)
                .bind(row.generation)
                .bind(&labels)
                .bind(&spec.url)
                .bind(interval_ms)
                .bind(timeout_ms)
                .bind(spec.paused)
                .bind(&config)
                .bind(&credentials)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                id
            }
        };
        let health = if spec.paused {
            Health::Paused
        } else {
            Health::Pending
        };
        // New monitors start Pending (or Paused). A monitor being paused becomes Paused; one
        // being unpaused goes back to Pending. Otherwise the checker owns health.
        sqlx::query(
            "INSERT INTO monitor_state (monitor_id, health, health_since) VALUES (?, ?, NOW(3)) \
             ON DUPLICATE KEY UPDATE \
               health_since = IF((health = 'Paused') <> (VALUES(health) = 'Paused'), NOW(3), health_since), \
               consecutive_failures = IF(VALUES(health) = 'Paused', 0, consecutive_failures), \
               health = IF((health = 'Paused') <> (VALUES(health) = 'Paused'), VALUES(health), health)",
        )
        .bind(id)
        .bind(health.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(change)
    }
}
