//! The Uptime Sentinel checker: consumes check batches from RabbitMQ, runs the HTTP checks, buffers results in Redis and evaluates alerts.
//!
//! Only the command line exists yet; the pipeline arrives with the check-pipeline and alerting issues. Running it
//! says so and exits non-zero, so nothing mistakes it for a working component.
#![forbid(unsafe_code)]

/// Errors of the checker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The component is not built yet.
    #[error(
        "the checker is not implemented yet (it arrives with the check-pipeline and alerting issues)"
    )]
    NotImplemented,
}

/// Command line of the checker.
#[derive(Debug, clap::Parser)]
#[command(
    name = "checker",
    version,
    about = "Uptime Sentinel checker: consumes check batches from RabbitMQ, runs the HTTP checks, buffers results in Redis and evaluates alerts"
)]
pub struct Args {}

impl Args {
    /// Runs the checker.
    ///
    /// # Errors
    /// [`Error::NotImplemented`] until the component is built.
    pub fn run(self) -> Result<(), Error> {
        let Self {} = self;
        Err(Error::NotImplemented)
    }
}
