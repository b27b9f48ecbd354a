//! The Uptime Sentinel ingestor: drains the Redis telemetry buffer into partitioned MySQL tables and computes rollups.
//!
//! Only the command line exists yet; the pipeline arrives with the ingestor issue. Running it
//! says so and exits non-zero, so nothing mistakes it for a working component.
#![forbid(unsafe_code)]

/// Errors of the ingestor.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The component is not built yet.
    #[error("the ingestor is not implemented yet (it arrives with the ingestor issue)")]
    NotImplemented,
}

/// Command line of the ingestor.
#[derive(Debug, clap::Parser)]
#[command(
    name = "ingestor",
    version,
    about = "Uptime Sentinel ingestor: drains the Redis telemetry buffer into partitioned MySQL tables and computes rollups"
)]
pub struct Args {}

impl Args {
    /// Runs the ingestor.
    ///
    /// # Errors
    /// [`Error::NotImplemented`] until the component is built.
    pub fn run(self) -> Result<(), Error> {
        let Self {} = self;
        Err(Error::NotImplemented)
    }
}
