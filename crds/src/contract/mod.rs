//! The contract between the binaries: what travels through RabbitMQ and Redis, and the
//! names of the queues and keys it travels through.
//!
//! ```text
//!  operator (scheduler) ──CheckBatch──► RabbitMQ "checks" ──► checker
//!  checker ──TelemetryRecord──► Redis stream "telemetry" ──► ingestor ──► MySQL ping_results
//!  checker ──Notification──► RabbitMQ "notifications" ──► notifier ──► email, Slack, …
//! ```
//!
//! Every message is JSON with a `v` field (the contract version, [`VERSION`]). A reader
//! rejects a version it does not know with [`crate::Error::UnsupportedVersion`] (the
//! message is dead-lettered, never guessed at). Additive changes (a new optional field)
//! keep the version; anything else bumps it, and readers learn the new version before
//! writers start sending it.

mod check_batch;
mod json_path;
mod names;
mod notification;
mod telemetry;

pub use check_batch::{
    CheckBatch, CheckConfig, CheckExpectations, CheckHeader, CheckRequest, HeaderSource,
    JsonExpectation, SealedCredentials,
};
pub use json_path::{JsonPath, JsonStep, comparable_text};
pub use names::{Names, QueueNames};
pub use notification::{MonitorRef, Notification, NotificationKind};
pub use telemetry::{ErrorKind, TelemetryRecord, Timings};

use crate::{Error, Result};

/// The contract version this build writes and reads.
pub const VERSION: u16 = 1;

/// A contract message: it says which contract version wrote it.
pub trait Versioned {
    /// The `v` field.
    fn version(&self) -> u16;
}

impl Versioned for CheckBatch {
    fn version(&self) -> u16 {
        self.v
    }
}

impl Versioned for TelemetryRecord {
    fn version(&self) -> u16 {
        self.v
    }
}

impl Versioned for Notification {
    fn version(&self) -> u16 {
        self.v
    }
}

/// Decodes a contract message and checks its version, so a message from a newer writer is
/// reported as such rather than as a confusing field error. One parse on the happy path
/// (the ingestor decodes tens of thousands per second); the version envelope is read
/// separately only to explain a failure.
///
/// # Errors
/// [`Error::Decode`] for malformed JSON or fields, [`Error::UnsupportedVersion`] for an
/// unknown `v`.
pub fn decode<T: serde::de::DeserializeOwned + Versioned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        v: u16,
    }
    let unsupported = |found| Error::UnsupportedVersion {
        what,
        found,
        supported: VERSION,
    };
    match serde_json::from_slice::<T>(bytes) {
        Ok(message) if message.version() == VERSION => Ok(message),
        Ok(message) => Err(unsupported(message.version())),
        Err(source) => match serde_json::from_slice::<Envelope>(bytes) {
            Ok(envelope) if envelope.v != VERSION => Err(unsupported(envelope.v)),
            _ => Err(Error::Decode { what, source }),
        },
    }
}

/// Encodes a contract message (they are plain data: this cannot fail).
pub fn encode<T: serde::Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message).expect("contract messages serialise to JSON")
}
