//! The notification message: published by alert evaluation to the `notifications` queue,
//! delivered by the notifier. Its `key` is the idempotency key stored under a UNIQUE
//! constraint in `notifications`, so a redelivered message is never sent twice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ErrorKind;

/// One notification to deliver to one channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Contract version ([`super::VERSION`]).
    pub v: u16,
    /// Idempotency key (see [`Notification::rule_key`] and [`Notification::level_key`]).
    pub key: String,
    /// What happened.
    pub kind: NotificationKind,
    /// Escalation level (1-based) for [`NotificationKind::Escalation`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<u32>,
    /// The channel's id in MySQL.
    pub channel_id: u64,
    /// The incident this belongs to (also PagerDuty's `dedup_key`).
    pub incident_id: String,
    /// Which monitor.
    pub monitor: MonitorRef,
    /// Failed checks in a row when this was raised (0 for a recovery).
    pub consecutive_failures: u32,
    /// When the monitor went down (the incident's start).
    pub since: DateTime<Utc>,
    /// The incident's first error, or the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Class of that error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<ErrorKind>,
    /// The slot of the check result that raised it (event time).
    pub slot: DateTime<Utc>,
    /// When evaluation raised it (wall clock).
    pub created_at: DateTime<Utc>,
}

/// What a notification reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// An AlertRule's failure alert.
    Failure,
    /// An AlertRule's recovery alert.
    Recovery,
    /// An EscalationPolicy level.
    Escalation,
}

impl NotificationKind {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failure => "failure",
            Self::Recovery => "recovery",
            Self::Escalation => "escalation",
        }
    }
}

/// Identifies the monitor in a message a person reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorRef {
    /// Id in MySQL.
    pub id: u64,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The checked URL.
    pub url: String,
}

impl Notification {
    /// Key of an AlertRule notification. The failure count is part of it: a failure alert
    /// sent again after the cooldown (same incident, more failures) is a new notification,
    /// while the same result processed twice yields the same key.
    pub fn rule_key(
        incident_id: &str,
        rule_id: u64,
        kind: NotificationKind,
        consecutive_failures: u32,
    ) -> String {
        format!(
            "{incident_id}/rule/{rule_id}/{}/{consecutive_failures}",
            kind.as_str()
        )
    }

    /// Key of the recovery message to a channel that received an escalation during the
    /// incident: once per incident per channel.
    pub fn recovery_key(incident_id: &str, channel_id: u64) -> String {
        format!("{incident_id}/recovered/channel/{channel_id}")
    }

    /// Key of an escalation level: once per incident per level.
    pub fn level_key(incident_id: &str, policy_id: u64, level: u32) -> String {
        format!("{incident_id}/policy/{policy_id}/level/{level}")
    }
}
