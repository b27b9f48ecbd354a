//! The `notifications` table as an outbox and a delivery ledger: every SQL statement about
//! a notification's life lives here.
//!
//! ```text
//!  evaluation ─INSERT IGNORE (key UNIQUE)─► pending ──claim──► sending ──► sent
//!                                              │                  │  └──► retry ──(due)──► sending …
//!                                              │                  └─────► failed (dead-lettered)
//!                                              └─(channel gone or disabled)─► skipped
//! ```
//!
//! A claim is a conditional UPDATE, so two notifiers (or a redelivered message and the
//! relay) never both send: only the one whose UPDATE matched sends. `next_attempt_at` is
//! the claim's lease while `sending` (a notifier that dies mid-send is taken over when it
//! expires) and the due time while `pending` or `retry`.

use std::time::Duration;

use crds::contract::Notification;
use sqlx::{MySqlConnection, MySqlPool};

use common::text::truncate;

use crate::Result;

/// How long a `pending` row waits for its queued message before the relay delivers it
/// (the message may never have reached RabbitMQ).
pub const RELAY_GRACE: Duration = Duration::from_secs(10);

/// Inserts a notification (status `pending`) unless its key exists. Returns whether it
/// was new: only new notifications are published.
///
/// # Errors
/// MySQL errors.
pub async fn insert(tx: &mut MySqlConnection, notification: &Notification) -> Result<bool> {
    let done = sqlx::query(
        "INSERT IGNORE INTO notifications (idempotency_key, incident_id, monitor_id, channel_id, \
         kind, level, slot, payload, next_attempt_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, NOW(3) + INTERVAL ? MICROSECOND)",
    )
    .bind(&notification.key)
    .bind(&notification.incident_id)
    .bind(notification.monitor.id)
    .bind(notification.channel_id)
    .bind(notification.kind.as_str())
    .bind(notification.level)
    .bind(notification.slot.naive_utc())
    .bind(String::from_utf8_lossy(&crds::contract::encode(notification)).into_owned())
    .bind(micros(RELAY_GRACE))
    .execute(&mut *tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Channels that received an escalation during `incident_id`.
///
/// # Errors
/// MySQL errors.
pub async fn escalated_channels(tx: &mut MySqlConnection, incident_id: &str) -> Result<Vec<u64>> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT channel_id FROM notifications \
         WHERE incident_id = ? AND kind = 'escalation' ORDER BY channel_id",
    )
    .bind(incident_id)
    .fetch_all(&mut *tx)
    .await?)
}

/// The outcome of [`claim`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// This caller sends; this is attempt number `attempt` (1-based).
    Send {
        /// 1-based attempt number.
        attempt: u32,
    },
    /// Already sent, failed or skipped: nothing to do.
    Done,
    /// Another notifier holds it, or its retry is not due yet: nothing to do now.
    Elsewhere,
    /// No such notification.
    Missing,
}

/// Claims `key` for one delivery attempt holding a lease of `lease`.
///
/// # Errors
/// MySQL errors.
pub async fn claim(pool: &MySqlPool, key: &str, lease: Duration) -> Result<Claim> {
    // LAST_INSERT_ID(expr) hands the new attempt count back in the UPDATE's own reply,
    // saving a round trip on the hot path.
    let claimed = sqlx::query(
        "UPDATE notifications SET status = 'sending', attempts = LAST_INSERT_ID(attempts + 1), \
           next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND \
         WHERE idempotency_key = ? AND (status = 'pending' \
           OR (status IN ('retry', 'sending') AND next_attempt_at <= NOW(3)))",
    )
    .bind(micros(lease))
    .bind(key)
    .execute(pool)
    .await?;
    if claimed.rows_affected() == 1 {
        let attempt = u32::try_from(claimed.last_insert_id()).unwrap_or(u32::MAX);
        return Ok(Claim::Send { attempt });
    }
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM notifications WHERE idempotency_key = ?")
            .bind(key)
            .fetch_optional(pool)
            .await?;
    Ok(match status.as_deref() {
        None => Claim::Missing,
        Some("sent" | "failed" | "skipped") => Claim::Done,
        Some(_) => Claim::Elsewhere,
    })
}

/// Records a successful delivery.
///
/// # Errors
/// MySQL errors.
pub async fn mark_sent(pool: &MySqlPool, key: &str) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET status = 'sent', sent_at = NOW(3), last_error = NULL \
         WHERE idempotency_key = ?",
    )
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records a failed attempt and when to try again.
///
/// # Errors
/// MySQL errors.
pub async fn mark_retry(pool: &MySqlPool, key: &str, error: &str, after: Duration) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET status = 'retry', last_error = ?, \
           next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND \
         WHERE idempotency_key = ? AND status = 'sending'",
    )
    .bind(truncate(error, 512))
    .bind(micros(after))
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

/// Records the end of a notification that will not be sent: `failed` (every attempt
/// failed, or a permanent error) or `skipped` (its channel is gone or disabled).
///
/// # Errors
/// MySQL errors.
pub async fn mark_final(pool: &MySqlPool, key: &str, status: &str, error: &str) -> Result<()> {
    sqlx::query("UPDATE notifications SET status = ?, last_error = ? WHERE idempotency_key = ?")
        .bind(status)
        .bind(truncate(error, 512))
        .bind(key)
        .execute(pool)
        .await?;
    Ok(())
}

/// Moves a `pending` notification to the relay `after` from now without counting an
/// attempt (its channel is busy).
///
/// # Errors
/// MySQL errors.
pub async fn defer(pool: &MySqlPool, key: &str, after: Duration) -> Result<()> {
    sqlx::query(
        "UPDATE notifications SET next_attempt_at = NOW(3) + INTERVAL ? MICROSECOND \
         WHERE idempotency_key = ? AND status = 'pending'",
    )
    .bind(micros(after))
    .bind(key)
    .execute(pool)
    .await?;
    Ok(())
}

/// Up to `limit` notifications whose time has come: retries that are due, leases that
/// expired, pending rows whose message did not arrive within [`RELAY_GRACE`]. Returns the
/// stored payloads.
///
/// # Errors
/// MySQL errors.
pub async fn due(pool: &MySqlPool, limit: u32) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT payload FROM notifications \
         WHERE status IN ('pending', 'retry', 'sending') AND next_attempt_at <= NOW(3) \
         ORDER BY next_attempt_at LIMIT ?",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}
