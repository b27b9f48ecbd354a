//! Connecting to MySQL and applying the schema.
//!
//! The migrations in `migrations/` are embedded at build time, so the operator image
//! carries its schema and `operator migrate` (or the operator at start) brings any
//! database up to date. sqlx records applied versions in `_sqlx_migrations`, so running
//! them again is a no-op, and concurrent runs are serialised by sqlx's migration lock.

use std::time::Duration;

use sqlx::{MySqlPool, migrate::Migrator, mysql::MySqlPoolOptions};

use crate::Result;

/// The project's migrations, embedded.
pub static MIGRATOR: Migrator = sqlx::migrate!("../migrations");

/// How long to wait for a connection before giving up: long enough for a database that is
/// still starting, short enough that a wrong URL is reported promptly.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens a pool to `url`.
///
/// # Errors
/// [`crate::Error::Database`] when the server cannot be reached in time.
pub async fn connect(url: &str, max_connections: u32) -> Result<MySqlPool> {
    Ok(MySqlPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(url)
        .await?)
}

/// Applies every pending migration; returns how many were applied.
///
/// # Errors
/// [`crate::Error::Migrate`] when one fails (the database is left at the last good
/// version: MySQL DDL cannot be rolled back).
pub async fn migrate(pool: &MySqlPool) -> Result<usize> {
    let before = applied(pool).await;
    MIGRATOR.run(pool).await?;
    Ok(applied(pool).await.saturating_sub(before))
}

async fn applied(pool: &MySqlPool) -> usize {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1")
        .fetch_one(pool)
        .await
        .map_or(0, |n| usize::try_from(n).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrate_applies_everything_once() {
        let db = sentinel_testkit::TestDb::create_empty().await;
        let pool = connect(&db.url, 2).await.unwrap();
        assert_eq!(migrate(&pool).await.unwrap(), MIGRATOR.iter().count());
        assert_eq!(migrate(&pool).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn an_unreachable_database_is_a_clear_error() {
        let error = connect("mysql://root@127.0.0.1:1/none", 1)
            .await
            .unwrap_err();
        assert!(
            error.to_string().starts_with("failed to talk to MySQL"),
            "{error}"
        );
    }
}
