//! Runtime plumbing shared by the operator, the checker and the ingestor, so each binary
//! does these things the same way and none of them writes them again:
//!
//! ```text
//!  cli          logging flags, duration parsing, the MySQL readiness check
//!  logging      JSON logs with an env filter
//!  shutdown     one SIGTERM / Ctrl-C future for every task
//!  http         /healthz, /readyz (a readiness probe you pass in), /metrics
//!  amqp         RabbitMQ connection with capped backoff, and the topology (declared
//!               idempotently by whichever component starts first)
//!  credentials  sealing Secret values (AES-256-GCM) for MySQL, opening them where used
//! ```
#![forbid(unsafe_code)]

pub mod amqp;
pub mod cli;
pub mod credentials;
pub mod http;
pub mod logging;
pub mod shutdown;
pub mod text;

/// Errors of the shared plumbing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The credentials key is malformed.
    #[error(
        "failed to read the credentials key: it must be 32 bytes, base64-encoded (generate one with `head -c32 /dev/urandom | base64`)"
    )]
    BadCredentialsKey,
    /// Credentials must be stored or opened but no key is configured.
    #[error(
        "failed to handle credentials: no credentials key is configured (set SENTINEL_CREDENTIALS_KEY)"
    )]
    NoCredentialsKey,
    /// Sealed credentials could not be opened.
    #[error("failed to open sealed credentials: wrong key or damaged value")]
    OpenCredentials,
    /// RabbitMQ refused or dropped the connection, or a topology declaration failed.
    #[error("failed to talk to RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    /// RabbitMQ did not confirm a published message (negative ack, or unroutable).
    #[error("RabbitMQ did not confirm a published message")]
    NotConfirmed,
    /// A socket could not be bound or served.
    #[error("failed to {action} {address}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The address.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
