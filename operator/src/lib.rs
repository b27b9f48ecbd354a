//! The Uptime Sentinel operator.
//!
//! ```text
//!  cli        command line: `crd`, `migrate` (later: `run`, `status`, `validate`)
//!  database   connecting to MySQL and applying the embedded migrations
//!  logging    JSON logs with an env filter
//! ```
//!
//! The controllers, scheduler, status sync and leader election arrive with their issues;
//! this crate already owns the schema migrations because the operator is what applies
//! them at start (and `operator migrate` applies them by hand).
#![forbid(unsafe_code)]

pub mod cli;
pub mod database;
pub mod logging;

/// Errors of the operator library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// MySQL could not be reached or refused a query.
    #[error("failed to talk to MySQL: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed to apply.
    #[error("failed to apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The CRD YAML could not be rendered.
    #[error("failed to render CRDs: {0}")]
    Crd(#[from] crds::Error),
}

/// Result with the operator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
