//! A fresh MariaDB database per test, with the project's migrations applied.

use sqlx::{
    Connection, Executor, MySqlConnection, MySqlPool, migrate::Migrator, mysql::MySqlPoolOptions,
};

/// The project's migrations (`migrations/`), embedded.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// The server URL without a database (`SENTINEL_TEST_MYSQL_URL`, default
/// `mysql://root@127.0.0.1:3306`).
pub fn mysql_server_url() -> String {
    std::env::var("SENTINEL_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_string())
}

/// A uniquely named database, dropped when this value is dropped.
pub struct TestDb {
    /// Database name (`sentinel_test_<suffix>`).
    pub name: String,
    /// URL of the database, for binaries started by the test.
    pub url: String,
    /// A pool connected to it.
    pub pool: MySqlPool,
}

impl TestDb {
    /// Creates the database and applies every migration.
    ///
    /// # Panics
    /// When MariaDB is unreachable or a migration fails.
    pub async fn create() -> Self {
        let db = Self::create_empty().await;
        MIGRATOR
            .run(&db.pool)
            .await
            .unwrap_or_else(|e| panic!("failed to migrate {}: {e}", db.name));
        db
    }

    /// Creates the database without applying migrations.
    ///
    /// # Panics
    /// When MariaDB is unreachable.
    pub async fn create_empty() -> Self {
        let server = mysql_server_url();
        let name = format!("sentinel_test_{}", crate::unique_suffix());
        let mut admin = MySqlConnection::connect(&server).await.unwrap_or_else(|e| {
            panic!("failed to connect to MariaDB at {server} (run scripts/services.sh): {e}")
        });
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
            )))
            .await
            .unwrap_or_else(|e| panic!("failed to create database {name}: {e}"));
        let _ = admin.close().await;
        let url = format!("{}/{name}", server.trim_end_matches('/'));
        let pool = MySqlPoolOptions::new()
            .max_connections(8)
            .connect(&url)
            .await
            .unwrap_or_else(|e| panic!("failed to connect to {url}: {e}"));
        Self { name, url, pool }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // The pool's connections belong to the test's runtime, which is blocked while
        // this runs: dropping the database through a fresh connection of our own avoids
        // waiting on them (idle sessions do not block DROP DATABASE).
        let name = self.name.clone();
        crate::run_detached(async move {
            if let Ok(mut admin) = MySqlConnection::connect(&mysql_server_url()).await {
                // A test that panicked mid-transaction leaves a lock behind that only its
                // (now blocked) runtime would release: give up rather than hang.
                let _ = admin.execute("SET SESSION lock_wait_timeout = 10").await;
                let _ = admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS `{name}`"
                    )))
                    .await;
                let _ = admin.close().await;
            }
        });
    }
}
