//! The Uptime Sentinel checker.
//!
//! ```text
//!  RabbitMQ "checks" ──► consumer (manual ack, prefetch) ──► batch
//!        batch ──► every check concurrently, under one global limit (semaphore)
//!                    └─ probe: DNS → connect → TLS → request → body (capped) → assertions
//!              ──► Redis telemetry stream (one pipelined XADD per batch)
//!              ──► MySQL monitor_state (one transaction per batch, row-locked)
//!                    └─ alert evaluation: incidents, rules, escalation → notifications rows
//!              ──► publish new notifications ──► ack
//!                  (any failure: nack and requeue; a malformed batch: reject → checks.dead)
//!
//!  `checker notify`: RabbitMQ "notifications" ──► claim ──► email/Slack/webhook/… ──► ack
//! ```
//!
//! Module map: `probe` (one check), `state` (consecutive counts and health), `alerting`
//! (evaluation), `notify` (delivery), `telemetry` (Redis stream), `consumer` (the check
//! loop), `queue` (the consume loop both modes share), `metrics`, `cli`.
#![forbid(unsafe_code)]

pub mod alerting;
pub mod cli;
pub mod consumer;
pub mod limits;
pub mod metrics;
pub mod notify;
pub mod probe;
pub mod queue;
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
    /// A notification channel's stored row cannot be used.
    #[error("channel {channel} is unusable: {message}")]
    Channel {
        /// `namespace/name`.
        channel: String,
        /// What is wrong (never a secret value).
        message: String,
    },
    /// A delivery attempt failed.
    #[error("delivery failed: {message}")]
    Delivery {
        /// Whether retrying cannot help.
        permanent: bool,
        /// What happened (never a URL or token).
        message: String,
    },
}

/// Result with the checker's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
