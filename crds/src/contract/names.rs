//! Names of the RabbitMQ queues and Redis keys, in one place so the binaries agree.
//!
//! RabbitMQ names are fixed (tests isolate themselves with a vhost each); Redis keys carry
//! a prefix (default `sentinel:`, tests use a unique one) so several installations or test
//! runs can share one Redis.

/// RabbitMQ topology names.
#[derive(Clone, Copy, Debug)]
pub struct QueueNames;

impl QueueNames {
    /// Direct exchange the scheduler and evaluation publish to.
    pub const EXCHANGE: &'static str = "sentinel";
    /// Dead-letter exchange: expired checks, rejected and undeliverable messages.
    pub const DEAD_LETTER_EXCHANGE: &'static str = "sentinel.dead";
    /// Check batches (routing key = queue name).
    pub const CHECKS: &'static str = "checks";
    /// Check batches that expired in the queue or were rejected as malformed.
    pub const CHECKS_DEAD: &'static str = "checks.dead";
    /// Notifications to deliver.
    pub const NOTIFICATIONS: &'static str = "notifications";
    /// Notifications that failed every retry, or were malformed.
    pub const NOTIFICATIONS_DEAD: &'static str = "notifications.dead";
}

/// Redis key names under a prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Names {
    prefix: String,
}

impl Default for Names {
    fn default() -> Self {
        Self::new("sentinel:")
    }
}

impl Names {
    /// Key names under `prefix` (e.g. `sentinel:`; include the separator).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    /// The prefix itself.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Stream of [`super::TelemetryRecord`]s (field `r` holds the JSON).
    pub fn telemetry_stream(&self) -> String {
        format!("{}telemetry", self.prefix)
    }

    /// Consumer group of the ingestors on the telemetry stream.
    pub fn telemetry_group(&self) -> &'static str {
        "ingestor"
    }

    /// Stream of telemetry entries the ingestor could not decode, with the reason.
    pub fn telemetry_dead_stream(&self) -> String {
        format!("{}telemetry:dead", self.prefix)
    }

    /// Hash with a monitor's live state (consecutive failures, health …).
    pub fn monitor_state(&self, monitor_id: u64) -> String {
        format!("{}state:{monitor_id}", self.prefix)
    }

    /// Cooldown marker of an AlertRule for a monitor (expires with the cooldown).
    pub fn cooldown(&self, rule_id: u64, monitor_id: u64) -> String {
        format!("{}cooldown:{rule_id}:{monitor_id}", self.prefix)
    }

    /// Version counter the operator bumps when rules, policies or channels change.
    pub fn config_version(&self) -> String {
        format!("{}config-version", self.prefix)
    }
}
