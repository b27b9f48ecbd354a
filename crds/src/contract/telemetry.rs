//! The telemetry record: one check result, written by the checker to the Redis stream and
//! bulk-inserted by the ingestor into `ping_results`. `(monitor_id, scheduled_at)` is the
//! row's primary key, so a result delivered twice is stored once.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One check result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TelemetryRecord {
    /// Contract version ([`super::VERSION`]).
    pub v: u16,
    /// The monitor's id in MySQL.
    pub monitor_id: u64,
    /// The slot the check was scheduled for (identity, partition key).
    pub scheduled_at: DateTime<Utc>,
    /// When the request started (start − slot is the schedule lag).
    pub started_at: DateTime<Utc>,
    /// Config generation the check ran with.
    pub generation: i64,
    /// Whether every assertion held.
    pub ok: bool,
    /// HTTP status, when a response arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
    /// Total latency in milliseconds (until the body was read or the check gave up).
    pub latency_ms: u32,
    /// The phases of the latency that the client could measure.
    #[serde(default, skip_serializing_if = "Timings::is_empty")]
    pub timings: Timings,
    /// Why the check failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// A short message (at most 512 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Expiry of the TLS leaf certificate (https only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_expires_at: Option<DateTime<Utc>>,
}

/// Latency phases in milliseconds; `None` where not measured (e.g. a reused connection
/// has no connect or TLS phase).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// DNS resolution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_ms: Option<u32>,
    /// TCP connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u32>,
    /// TLS handshake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ms: Option<u32>,
    /// From request start to the first response byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<u32>,
}

impl Timings {
    /// True when nothing was measured.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Classes of check failure, stable names for metrics labels, MySQL and status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The host name did not resolve.
    Dns,
    /// TCP connection refused, reset or unreachable.
    Connect,
    /// TLS handshake or certificate verification failed.
    Tls,
    /// The check exceeded its timeout (including slow bodies).
    Timeout,
    /// The status code is outside the accepted ranges.
    Status,
    /// A body, JSON or response-time assertion failed.
    Assertion,
    /// The body exceeded the read cap.
    BodyTooLarge,
    /// Too many redirects or a redirect loop.
    Redirect,
    /// The certificate expires within the warning window.
    Certificate,
    /// The server spoke something that is not valid HTTP.
    Protocol,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Every kind, for metrics initialisation and docs.
    pub const ALL: [Self; 11] = [
        Self::Dns,
        Self::Connect,
        Self::Tls,
        Self::Timeout,
        Self::Status,
        Self::Assertion,
        Self::BodyTooLarge,
        Self::Redirect,
        Self::Certificate,
        Self::Protocol,
        Self::Other,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Timeout => "timeout",
            Self::Status => "status",
            Self::Assertion => "assertion",
            Self::BodyTooLarge => "body_too_large",
            Self::Redirect => "redirect",
            Self::Certificate => "certificate",
            Self::Protocol => "protocol",
            Self::Other => "other",
        }
    }

    /// Parses a stable name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}
