//! Incidents: one row per outage, opened when a monitor goes Down and resolved when it
//! comes back Up, with its duration, first error and longest failure streak. All writes run
//! inside the batch's state transaction, under the monitor's state row lock, so two
//! replicas never open two incidents for one outage (and `uq_incidents_open` would refuse a
//! second open one anyway).

use chrono::{DateTime, NaiveDateTime, Utc};
use crds::contract::{ErrorKind, TelemetryRecord};
use sqlx::MySqlConnection;

use common::text::truncate;

use crate::Result;

/// An incident as notifications describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incident {
    /// UUIDv7 (also PagerDuty's dedup_key).
    pub id: String,
    /// The slot of the first failed check.
    pub opened_at: DateTime<Utc>,
    /// That check's error.
    pub first_error: Option<String>,
    /// Its class.
    pub first_error_kind: Option<ErrorKind>,
}

type Row = (String, NaiveDateTime, Option<String>, Option<String>);

fn from_row((id, opened_at, first_error, kind): Row) -> Incident {
    Incident {
        id,
        opened_at: opened_at.and_utc(),
        first_error,
        first_error_kind: kind
            .and_then(|k| serde_json::from_value(serde_json::Value::String(k)).ok()),
    }
}

/// Opens an incident for `monitor_id` from the failed `record`, or returns the one that is
/// already open (state written before incidents existed, or by an interrupted run).
///
/// # Errors
/// MySQL errors.
pub async fn open(
    tx: &mut MySqlConnection,
    monitor_id: u64,
    record: &TelemetryRecord,
) -> Result<Incident> {
    if let Some(row) = sqlx::query_as::<_, Row>(
        "SELECT id, opened_at, first_error, first_error_kind FROM incidents WHERE open_monitor_id = ?",
    )
    .bind(monitor_id)
    .fetch_optional(&mut *tx)
    .await?
    {
        return Ok(from_row(row));
    }
    let incident = Incident {
        id: uuid::Uuid::now_v7().to_string(),
        opened_at: record.scheduled_at,
        first_error: record.error.clone(),
        first_error_kind: record.error_kind,
    };
    sqlx::query(
        "INSERT INTO incidents (id, monitor_id, opened_at, opened_slot, first_error_kind, \
         first_error, max_consecutive_failures) VALUES (?, ?, ?, ?, ?, ?, 1)",
    )
    .bind(&incident.id)
    .bind(monitor_id)
    .bind(record.scheduled_at.naive_utc())
    .bind(record.scheduled_at.naive_utc())
    .bind(record.error_kind.map(|k| k.as_str()))
    .bind(record.error.as_deref().map(|e| truncate(e, 512)))
    .execute(&mut *tx)
    .await?;
    Ok(incident)
}

/// The incident `id`.
///
/// # Errors
/// MySQL errors.
pub async fn get(tx: &mut MySqlConnection, id: &str) -> Result<Option<Incident>> {
    Ok(sqlx::query_as::<_, Row>(
        "SELECT id, opened_at, first_error, first_error_kind FROM incidents WHERE id = ?",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .map(from_row))
}

/// Resolves incident `id` at `slot` (the first passing check); `failures` is the streak
/// that ended. Resolving twice changes nothing.
///
/// # Errors
/// MySQL errors.
pub async fn resolve(
    tx: &mut MySqlConnection,
    id: &str,
    slot: DateTime<Utc>,
    failures: u32,
) -> Result<Option<Incident>> {
    sqlx::query(
        "UPDATE incidents SET resolved_at = ?, \
           duration_ms = GREATEST(0, TIMESTAMPDIFF(MICROSECOND, opened_at, ?) DIV 1000), \
           max_consecutive_failures = GREATEST(max_consecutive_failures, ?) \
         WHERE id = ? AND resolved_at IS NULL",
    )
    .bind(slot.naive_utc())
    .bind(slot.naive_utc())
    .bind(failures)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    get(tx, id).await
}
