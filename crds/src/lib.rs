//! Uptime Sentinel's shared vocabulary.
//!
//! ```text
//!  crds (this crate)
//!  ├── monitor, alert_rule,            the four CustomResources (group uptimesentinel.io,
//!  │   escalation_policy,              version v1alpha1): spec + status types, schema
//!  │   notification_channel            (incl. CEL rules) and a semantic `validate()` each
//!  ├── validation                      `Problem` (field path + message) and the `Validate` trait
//!  ├── duration                        Go-style durations ("30s", "1h30m") as CEL's duration() reads them
//!  ├── contract                        what travels between the binaries: check batches
//!  │                                   (RabbitMQ), telemetry records (Redis), notifications
//!  │                                   (RabbitMQ), and the queue/key names
//!  └── generate                        the CRD YAML that `crdgen` writes and the drift test checks
//! ```
//!
//! The crate holds types and pure functions only: no I/O, no clients, so every binary and
//! test can depend on it cheaply.
#![forbid(unsafe_code)]
// kube's `#[kube(printcolumn(...))]` repeats `type_ = "string"` across columns by design;
// clippy reads the repeated key as a duplicated attribute.
#![allow(clippy::duplicated_attributes)]

pub mod alert_rule;
pub mod contract;
pub mod duration;
pub mod escalation_policy;
pub mod generate;
pub mod manifest;
pub mod monitor;
pub mod notification_channel;
pub mod selector;
pub mod validation;

pub use alert_rule::{AlertRule, AlertRuleSpec, AlertRuleStatus, AlertType};
pub use escalation_policy::{
    EscalationLevel, EscalationPolicy, EscalationPolicySpec, EscalationPolicyStatus,
};
pub use monitor::{Health, Monitor, MonitorSpec, MonitorStatus};
pub use notification_channel::{
    ChannelType, NotificationChannel, NotificationChannelSpec, NotificationChannelStatus,
};
pub use validation::{Problem, Validate};

/// The API group of every Uptime Sentinel resource.
pub const GROUP: &str = "uptimesentinel.io";
/// The API version of every Uptime Sentinel resource.
pub const VERSION: &str = "v1alpha1";
/// The category that makes `kubectl get sentinel` list all four kinds.
pub const CATEGORY: &str = "sentinel";

/// Errors of this crate: decoding contract messages and parsing durations.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A contract message was not valid JSON for its type.
    #[error("failed to decode {what}: {source}")]
    Decode {
        /// Which message type was being decoded.
        what: &'static str,
        /// The serde error (it names the field and position).
        #[source]
        source: serde_json::Error,
    },
    /// A contract message carries a version this build does not understand.
    #[error(
        "failed to decode {what}: unsupported contract version {found} (this build reads {supported})"
    )]
    UnsupportedVersion {
        /// Which message type was being decoded.
        what: &'static str,
        /// The version found in the message.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// A duration string could not be parsed.
    #[error("failed to parse duration {input:?}: {reason}")]
    Duration {
        /// The text that was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Rendering the CRD YAML failed (only possible if a schema cannot be serialised).
    #[error("failed to render CRD YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
