//! Command-line pieces every binary shares: the logging flags and duration parsing.

use std::time::Duration;

use crate::logging;

/// `--log-level` and `--log-text`, flattened into each binary's arguments.
#[derive(Clone, Debug, clap::Args)]
pub struct LogArgs {
    /// Log filter (`info`, `debug`, `checker=debug,lapin=info`); `RUST_LOG` wins when set.
    #[arg(
        long,
        env = "SENTINEL_LOG_LEVEL",
        default_value = "info",
        global = true
    )]
    pub log_level: String,
    /// Human-readable logs instead of JSON (for a terminal).
    #[arg(long, env = "SENTINEL_LOG_TEXT", global = true)]
    pub log_text: bool,
}

impl LogArgs {
    /// Installs the logger these flags describe.
    pub fn init(&self) {
        logging::init(&self.log_level, !self.log_text);
    }
}

/// Parses a Go-style duration flag (`30s`, `1m`, `250ms`).
///
/// # Errors
/// A message saying what is wrong with the text.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    crds::duration::parse(text).map_err(|e| e.to_string())
}

/// The readiness check of a MySQL pool: `SELECT 1`.
///
/// # Errors
/// `MySQL unavailable: …`.
pub async fn mysql_ready(pool: &sqlx::MySqlPool) -> Result<(), String> {
    sqlx::query("SELECT 1")
        .execute(pool)
        .await
        .map(|_| ())
        .map_err(|e| format!("MySQL unavailable: {e}"))
}
