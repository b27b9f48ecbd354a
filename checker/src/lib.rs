//! The Uptime Sentinel checker.
//!
//! ```text
//!  RabbitMQ "checks" ──► consumer (manual ack, prefetch) ──► batch
//!        batch ──► every check concurrently, under one global limit (semaphore)
//!                    └─ probe: DNS → connect → TLS → request → body (capped) → assertions
//!              ──► Redis telemetry stream (one pipelined XADD per batch)
//!              ──► MySQL monitor_state (one transaction per batch, row-locked)
//!              ──► ack   (any failure: nack and requeue; a malformed batch: reject → checks.dead)
//! ```
//!
//! Module map: `probe` (one check), `state` (consecutive counts and health), `telemetry`
//! (Redis stream), `consumer` (the loop, acks, shutdown), `metrics`, `cli`.
#![forbid(unsafe_code)]

pub mod cli;
pub mod consumer;
pub mod metrics;
pub mod probe;
pub mod state;
pub mod telemetry;

/// Errors of the checker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// MySQL failed.
    #[error("failed to talk to MySQL: {0}")]
    Database(#[from] sqlx::Error),
    /// Redis failed.
    #[error("failed to talk to Redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// RabbitMQ failed.
    #[error("failed to talk to RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    /// Shared plumbing failed (endpoints, credentials key).
    #[error("{0}")]
    Common(#[from] common::Error),
}

/// Result with the checker's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
