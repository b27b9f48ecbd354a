//! MySQL writes for the four kinds: one upsert and one delete each, keyed by the object's
//! Kubernetes UID. The reconcilers (cluster and standalone) call these and nothing else
//! touches the config tables.
//!
//! Every upsert runs in one transaction that first locks the object's row (`SELECT … FOR
//! UPDATE` by uid), so concurrent reconciles of the same object serialise, and that
//! removes a stale row with the same namespace/name but another uid (an object deleted
//! without cleanup and then re-created).

mod channels;
pub mod monitors;
pub mod rules;

use sqlx::MySqlPool;

use common::credentials::Sealer;

/// What an upsert did, for Events and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The row was inserted.
    Created,
    /// The spec changed (a new generation).
    Updated,
    /// Same generation; the row was rewritten (labels or referenced Secrets may differ).
    Refreshed,
}

/// The config tables, plus the key that seals credentials before they are stored.
#[derive(Clone, Debug)]
pub struct Store {
    pool: MySqlPool,
    sealer: Option<Sealer>,
}

/// Which table a kind lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    /// `monitors`.
    Monitors,
    /// `alert_rules`.
    AlertRules,
    /// `escalation_policies` (levels cascade).
    EscalationPolicies,
    /// `notification_channels`.
    NotificationChannels,
}

impl Table {
    /// The SQL table name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Monitors => "monitors",
            Self::AlertRules => "alert_rules",
            Self::EscalationPolicies => "escalation_policies",
            Self::NotificationChannels => "notification_channels",
        }
    }

    /// Every table, in the order standalone mode applies them (channels before the rules
    /// that refer to them).
    pub const ALL: [Self; 4] = [
        Self::NotificationChannels,
        Self::Monitors,
        Self::AlertRules,
        Self::EscalationPolicies,
    ];
}

impl Store {
    /// A store over `pool`; `sealer` is needed as soon as an object carries credentials.
    pub fn new(pool: MySqlPool, sealer: Option<Sealer>) -> Self {
        Self { pool, sealer }
    }

    /// The pool (status sync and `operator status` read through it).
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Deletes the object with `uid` from `table` (dependent rows cascade). Returns whether
    /// a row existed. Deleting what is not there is not an error: cleanup is idempotent.
    ///
    /// # Errors
    /// MySQL errors.
    pub async fn delete(&self, table: Table, uid: &str) -> Result<bool, sqlx::Error> {
        let sql = match table {
            Table::Monitors => "DELETE FROM monitors WHERE uid = ?",
            Table::AlertRules => "DELETE FROM alert_rules WHERE uid = ?",
            Table::EscalationPolicies => "DELETE FROM escalation_policies WHERE uid = ?",
            Table::NotificationChannels => "DELETE FROM notification_channels WHERE uid = ?",
        };
        let done = sqlx::query(sql).bind(uid).execute(&self.pool).await?;
        Ok(done.rows_affected() > 0)
    }

    /// Uids currently stored in `table`.
    ///
    /// # Errors
    /// MySQL errors.
    pub async fn uids(&self, table: Table) -> Result<Vec<String>, sqlx::Error> {
        let sql = match table {
            Table::Monitors => "SELECT uid FROM monitors",
            Table::AlertRules => "SELECT uid FROM alert_rules",
            Table::EscalationPolicies => "SELECT uid FROM escalation_policies",
            Table::NotificationChannels => "SELECT uid FROM notification_channels",
        };
        sqlx::query_scalar(sql).fetch_all(&self.pool).await
    }
}

/// Locks the row of `uid` in `table` and returns its (id, generation), and deletes a
/// stale row holding the same namespace/name under another uid.
async fn lock_row(
    tx: &mut sqlx::MySqlConnection,
    table: Table,
    uid: &str,
    namespace: &str,
    name: &str,
) -> Result<Option<(u64, i64)>, sqlx::Error> {
    let (select, delete_stale) = match table {
        Table::Monitors => (
            "SELECT id, generation FROM monitors WHERE uid = ? FOR UPDATE",
            "DELETE FROM monitors WHERE namespace = ? AND name = ? AND uid <> ?",
        ),
        Table::AlertRules => (
            "SELECT id, generation FROM alert_rules WHERE uid = ? FOR UPDATE",
            "DELETE FROM alert_rules WHERE namespace = ? AND name = ? AND uid <> ?",
        ),
        Table::EscalationPolicies => (
            "SELECT id, generation FROM escalation_policies WHERE uid = ? FOR UPDATE",
            "DELETE FROM escalation_policies WHERE namespace = ? AND name = ? AND uid <> ?",
        ),
        Table::NotificationChannels => (
            "SELECT id, generation FROM notification_channels WHERE uid = ? FOR UPDATE",
            "DELETE FROM notification_channels WHERE namespace = ? AND name = ? AND uid <> ?",
        ),
    };
    sqlx::query(delete_stale)
        .bind(namespace)
        .bind(name)
        .bind(uid)
        .execute(&mut *tx)
        .await?;
    sqlx::query_as::<_, (u64, i64)>(select)
        .bind(uid)
        .fetch_optional(&mut *tx)
        .await
}

fn change(existing: Option<(u64, i64)>, generation: i64) -> Change {
    match existing {
        None => Change::Created,
        Some((_, stored)) if stored != generation => Change::Updated,
        Some(_) => Change::Refreshed,
    }
}
