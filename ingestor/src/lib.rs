//! The Uptime Sentinel ingestor.
//!
//! ```text
//!  ingest      Redis stream (consumer group) ──► ping_results (multi-row INSERT IGNORE) ──► XACK
//!  partitions  daily partitions ahead of time, old days dropped (raw retention)
//!  rollup      ping_results ──► ping_stats_hourly ──► ping_stats_daily (idempotent, watermarks)
//!  maintain    the periodic loop running partitions and rollups
//! ```
#![forbid(unsafe_code)]

pub mod cli;
pub mod ingest;
pub mod maintain;
pub mod metrics;
pub mod partitions;
pub mod rollup;

/// Errors of the ingestor.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// MySQL failed.
    #[error("failed to talk to MySQL: {0}")]
    Database(#[from] sqlx::Error),
    /// Redis failed.
    #[error("failed to talk to Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// Shared plumbing failed.
    #[error("{0}")]
    Common(#[from] common::Error),
}

/// Result with the ingestor's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
