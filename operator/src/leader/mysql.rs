//! The lease as a MySQL row (standalone mode: several operator processes on one database).
//!
//! Decided inside one transaction with the row locked, against the database's clock only,
//! so the processes' own clocks do not matter.

use sqlx::MySqlPool;

use super::{LeaseBackend, Timing};
use crate::Result;

/// A `leader_leases` row named `name`.
#[derive(Clone, Debug)]
pub struct MySqlLease {
    pool: MySqlPool,
    name: String,
}

impl MySqlLease {
    /// The lease `name` in `pool`'s database.
    pub fn new(pool: MySqlPool, name: impl Into<String>) -> Self {
        Self {
            pool,
            name: name.into(),
        }
    }

    /// The current holder, if the lease is unexpired.
    ///
    /// # Errors
    /// MySQL errors.
    pub async fn holder(&self) -> Result<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT holder FROM leader_leases WHERE name = ? AND expires_at > NOW(3)",
        )
        .bind(&self.name)
        .fetch_optional(&self.pool)
        .await?)
    }
}

impl LeaseBackend for MySqlLease {
    async fn try_acquire_or_renew(&self, identity: &str, timing: Timing) -> Result<bool> {
        let micros = u64::try_from(timing.lease_duration.as_micros()).unwrap_or(u64::MAX);
        // Make sure the row exists (as an expired lease) before locking it: locking a
        // missing row takes gap locks, and racing inserts under gap locks deadlock.
        sqlx::query(
            "INSERT IGNORE INTO leader_leases (name, holder, renewed_at, expires_at) \
             VALUES (?, '', NOW(3), NOW(3))",
        )
        .bind(&self.name)
        .execute(&self.pool)
        .await?;
        let mut tx = self.pool.begin().await?;
        let current: Option<(String, bool)> = sqlx::query_as(
            "SELECT holder, expires_at > NOW(3) FROM leader_leases WHERE name = ? FOR UPDATE",
        )
        .bind(&self.name)
        .fetch_optional(&mut *tx)
        .await?;
        let ours = match current {
            None => false,
            Some((holder, valid)) if holder == identity || !valid => {
                sqlx::query(
                    "UPDATE leader_leases SET transitions = transitions + IF(holder = ? OR holder = '', 0, 1), \
                     holder = ?, renewed_at = NOW(3), expires_at = NOW(3) + INTERVAL ? MICROSECOND \
                     WHERE name = ?",
                )
                .bind(identity)
                .bind(identity)
                .bind(micros)
                .bind(&self.name)
                .execute(&mut *tx)
                .await?;
                true
            }
            Some(_) => false,
        };
        tx.commit().await?;
        Ok(ours)
    }

    async fn release(&self, identity: &str) -> Result<()> {
        sqlx::query("UPDATE leader_leases SET expires_at = NOW(3) WHERE name = ? AND holder = ?")
            .bind(&self.name)
            .bind(identity)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
