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

/// A monitor row for tests that need monitors without running the operator.
#[derive(Clone, Debug)]
pub struct SeedMonitor {
    /// `monitors.id` (the uid is `uid-<name>`, the namespace `shop`).
    pub id: u64,
    /// Name, unique per test database.
    pub name: String,
    /// Checked URL.
    pub url: String,
    /// Interval in ms.
    pub interval_ms: u32,
    /// The stored check config JSON (`{}` when the test does not dispatch).
    pub check_config: String,
}

impl SeedMonitor {
    /// A monitor `name` with id `id` checking `url` every 10 s.
    pub fn new(id: u64, name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            id,
            name: name.into(),
            url: url.into(),
            interval_ms: 10_000,
            check_config: "{}".into(),
        }
    }
}

impl TestDb {
    /// Inserts `monitors` in bulk and, when `with_state`, their (Pending) `monitor_state`
    /// rows, as the operator would have stored them.
    ///
    /// # Panics
    /// When an insert fails.
    pub async fn insert_monitors(&self, monitors: &[SeedMonitor], with_state: bool) {
        for chunk in monitors.chunks(1000) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO monitors (id, uid, namespace, name, generation, labels, url, interval_ms, timeout_ms, check_config) ",
            );
            insert.push_values(chunk, |mut row, m| {
                row.push_bind(m.id)
                    .push_bind(format!("uid-{}", m.name))
                    .push_bind("shop")
                    .push_bind(&m.name)
                    .push_bind(1)
                    .push_bind("{}")
                    .push_bind(&m.url)
                    .push_bind(m.interval_ms)
                    .push_bind(m.interval_ms / 2)
                    .push_bind(&m.check_config);
            });
            insert
                .build()
                .execute(&self.pool)
                .await
                .expect("insert monitors");
            if with_state {
                let mut state = sqlx::QueryBuilder::new("INSERT INTO monitor_state (monitor_id) ");
                state.push_values(chunk, |mut row, m| {
                    row.push_bind(m.id);
                });
                state
                    .build()
                    .execute(&self.pool)
                    .await
                    .expect("insert monitor states");
            }
        }
    }
}

/// The uid [`TestDb::insert_channel`] gives channel `name` (credentials are sealed with
/// the uid as associated data, so a test sealing them needs it).
pub fn channel_uid(name: &str) -> String {
    format!("uid-channel-{name}")
}

impl TestDb {
    /// Inserts a NotificationChannel row in namespace `shop` as the operator would store
    /// it: `settings` is the type's block (`{"webhook": {"url": …}}`), `sealed` the
    /// credentials sealed for [`channel_uid`]. Returns its id.
    ///
    /// # Panics
    /// When the insert fails.
    pub async fn insert_channel(
        &self,
        name: &str,
        channel_type: &str,
        settings: serde_json::Value,
        sealed: Option<String>,
    ) -> u64 {
        sqlx::query(
            "INSERT INTO notification_channels (uid, namespace, name, generation, channel_type, \
             enabled, settings, secret_name, credentials) VALUES (?, 'shop', ?, 1, ?, 1, ?, ?, ?)",
        )
        .bind(channel_uid(name))
        .bind(name)
        .bind(channel_type)
        .bind(settings.to_string())
        .bind(sealed.as_ref().map(|_| format!("{name}-secret")))
        .bind(sealed)
        .execute(&self.pool)
        .await
        .expect("insert a channel")
        .last_insert_id()
    }

    /// Inserts an AlertRule row in namespace `shop` for monitor `monitor` (by name).
    /// Returns its id.
    ///
    /// # Panics
    /// When the insert fails.
    pub async fn insert_rule(
        &self,
        name: &str,
        monitor: &str,
        channel: &str,
        alert_type: &str,
        failure_threshold: u32,
        cooldown_ms: u64,
    ) -> u64 {
        sqlx::query(
            "INSERT INTO alert_rules (uid, namespace, name, generation, monitor_ref, channel_ref, \
             alert_type, failure_threshold, cooldown_ms, enabled) VALUES (?, 'shop', ?, 1, ?, ?, ?, ?, ?, 1)",
        )
        .bind(format!("uid-rule-{name}"))
        .bind(name)
        .bind(monitor)
        .bind(channel)
        .bind(alert_type)
        .bind(failure_threshold)
        .bind(cooldown_ms)
        .execute(&self.pool)
        .await
        .expect("insert a rule")
        .last_insert_id()
    }

    /// Inserts an EscalationPolicy covering every monitor of namespace `shop`, with
    /// `levels` as `(afterFailures, channel name)` in order. Returns its id.
    ///
    /// # Panics
    /// When an insert fails.
    pub async fn insert_policy(&self, name: &str, levels: &[(u32, &str)]) -> u64 {
        let id = sqlx::query(
            "INSERT INTO escalation_policies (uid, namespace, name, generation, enabled) \
             VALUES (?, 'shop', ?, 1, 1)",
        )
        .bind(format!("uid-policy-{name}"))
        .bind(name)
        .execute(&self.pool)
        .await
        .expect("insert a policy")
        .last_insert_id();
        for (index, (after, channel)) in levels.iter().enumerate() {
            sqlx::query(
                "INSERT INTO escalation_levels (policy_id, level, after_failures, channel_ref) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(id)
            .bind(index as u32 + 1)
            .bind(after)
            .bind(channel)
            .execute(&self.pool)
            .await
            .expect("insert a level");
        }
        id
    }
}
