//! The check batch: what the scheduler publishes to the `checks` queue, carrying everything
//! the checker needs so it never reads MySQL in its hot path.
//!
//! The operator turns a Monitor spec into a [`CheckConfig`] once (stored as JSON in
//! `monitors.check_config`); the scheduler adds the monitor id and the slot to make a
//! [`CheckRequest`], and groups up to 50 of them into a [`CheckBatch`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::monitor::{MonitorSpec, StatusRange};

/// A batch of due checks (one RabbitMQ message).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckBatch {
    /// Contract version ([`super::VERSION`]).
    pub v: u16,
    /// Unique per published batch (for logs and tracing).
    pub batch_id: uuid::Uuid,
    /// When the scheduler published it.
    pub dispatched_at: DateTime<Utc>,
    /// The checks, at most the configured batch size (default 50).
    pub checks: Vec<CheckRequest>,
}

/// One check of one monitor for one slot. `(monitor_id, slot)` is its identity: a
/// redelivered batch produces the same identities, so results are stored once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckRequest {
    /// The monitor's id in MySQL (`monitors.id`).
    pub monitor_id: u64,
    /// The scheduled slot this check is for (not when it runs).
    pub slot: DateTime<Utc>,
    /// Header values from Secrets, still sealed (see the `common::credentials` module):
    /// only a checker holding the credentials key can open them, so RabbitMQ never
    /// carries them in plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<SealedCredentials>,
    /// What to check and how.
    #[serde(flatten)]
    pub config: CheckConfig,
}

/// Sealed credentials and the owner they were sealed for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCredentials {
    /// The monitor's uid (the sealing's associated data).
    pub owner: String,
    /// The sealed text (`v1:…`).
    pub sealed: String,
}

/// How to check a monitor: derived from its spec, stored with it, copied into each request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckConfig {
    /// Namespace of the Monitor (for logs and notifications).
    pub namespace: String,
    /// Name of the Monitor.
    pub name: String,
    /// `metadata.generation` the config was built from; results carry it so a check
    /// dispatched before an edit is recognisable.
    pub generation: i64,
    /// Interval in milliseconds (a queued check older than this has expired).
    pub interval_ms: u64,
    /// Total timeout in milliseconds.
    pub timeout_ms: u64,
    /// The URL.
    pub url: String,
    /// HTTP method, upper case.
    pub method: String,
    /// Request headers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<CheckHeader>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Follow redirects.
    pub follow_redirects: bool,
    /// Verify TLS.
    pub tls_verify: bool,
    /// Assertions.
    pub expect: CheckExpectations,
    /// Fail when the certificate expires within this many days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_warning_days: Option<u32>,
}

/// One header and where its value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckHeader {
    /// Header name.
    pub name: String,
    /// Where the value comes from.
    pub value: HeaderSource,
}

/// An inline value, or a reference to a Secret key that the checker resolves (so secret
/// values are never stored in MySQL nor carried through RabbitMQ).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeaderSource {
    /// A non-secret value.
    Inline(String),
    /// A key of a Secret in the monitor's namespace.
    Secret {
        /// Secret name.
        name: String,
        /// Key in the Secret.
        key: String,
    },
}

/// Assertions, normalised: ranges parsed, durations in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckExpectations {
    /// Accepted status ranges (never empty: the default is 200-399).
    pub status: Vec<StatusRange>,
    /// Texts the body must contain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_contains: Vec<String>,
    /// Texts the body must not contain.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_not_contains: Vec<String>,
    /// JSON values the body must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json: Vec<JsonExpectation>,
    /// Slowest acceptable response in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_response_ms: Option<u64>,
}

/// The value at `path` must compare equal to `equals`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonExpectation {
    /// Path as written in the manifest (`$.status`).
    pub path: String,
    /// Expected text.
    pub equals: String,
}

impl CheckConfig {
    /// Builds the check config of a validated Monitor spec.
    pub fn from_spec(namespace: &str, name: &str, generation: i64, spec: &MonitorSpec) -> Self {
        let expect = spec.expect.clone().unwrap_or_default();
        Self {
            namespace: namespace.to_string(),
            name: name.to_string(),
            generation,
            interval_ms: millis(spec.interval()),
            timeout_ms: millis(spec.timeout()),
            url: spec.url.clone(),
            method: spec.method.as_str().to_string(),
            headers: spec
                .headers
                .iter()
                .map(|h| CheckHeader {
                    name: h.name.clone(),
                    value: match (&h.value, &h.value_from) {
                        (_, Some(secret)) => HeaderSource::Secret {
                            name: secret.name.clone(),
                            key: secret.key.clone(),
                        },
                        (value, None) => HeaderSource::Inline(value.clone().unwrap_or_default()),
                    },
                })
                .collect(),
            body: spec.body.clone(),
            follow_redirects: spec.follow_redirects,
            tls_verify: spec.tls_verify,
            expect: CheckExpectations {
                status: spec.status_ranges(),
                body_contains: expect.body_contains,
                body_not_contains: expect.body_not_contains,
                json: expect
                    .json
                    .into_iter()
                    .map(|j| JsonExpectation {
                        path: j.path,
                        equals: j.equals,
                    })
                    .collect(),
                max_response_ms: expect
                    .max_response_time
                    .as_deref()
                    .and_then(|d| crate::duration::parse(d).ok())
                    .map(millis),
            },
            certificate_warning_days: spec.certificate_expiry.as_ref().map(|c| c.warning_days),
        }
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
