//! `AlertRule`: when to notify a channel about a monitor's failures and recoveries.
//!
//! The rules are the seed's (`seeds/001`, section 2): a failure alert fires when
//! `consecutiveFailures >= failureThreshold`, at most once per `cooldown` per
//! (rule, monitor); `Recovery` and `Both` rules fire once on Down → Up.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    duration,
    validation::{Problem, Validate, check_object_name},
};

/// The longest cooldown: a week. Longer would silence a real second outage.
pub const MAX_COOLDOWN: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// Desired state of an AlertRule.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "uptimesentinel.io",
    version = "v1alpha1",
    kind = "AlertRule",
    namespaced,
    status = "AlertRuleStatus",
    derive = "PartialEq",
    shortname = "ar",
    category = "sentinel",
    cel,
    doc = "Notifies a channel when selected monitors fail (after a threshold, with a cooldown) or recover.",
    printcolumn(name = "MONITOR", type_ = "string", json_path = ".spec.monitorRef"),
    printcolumn(name = "CHANNEL", type_ = "string", json_path = ".spec.channelRef"),
    printcolumn(name = "TYPE", type_ = "string", json_path = ".spec.type"),
    printcolumn(
        name = "THRESHOLD",
        type_ = "integer",
        json_path = ".spec.failureThreshold"
    ),
    printcolumn(name = "COOLDOWN", type_ = "string", json_path = ".spec.cooldown"),
    printcolumn(name = "ENABLED", type_ = "boolean", json_path = ".spec.enabled"),
    printcolumn(
        name = "READY",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "AGE",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("has(self.monitorRef) != has(self.monitorSelector)").message("give exactly one of monitorRef or monitorSelector"),
    validation = Rule::new("duration(self.cooldown) <= duration('168h')").message("cooldown must be at most 168h (7 days)").field_path(".cooldown")
)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleSpec {
    /// Name of one Monitor in this namespace. Exactly one of `monitorRef` and
    /// `monitorSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_ref: Option<String>,
    /// Selects Monitors in this namespace by label, including ones created later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_selector: Option<LabelSelector>,
    /// Name of the NotificationChannel (same namespace) to notify.
    #[schemars(length(min = 1, max = 253))]
    pub channel_ref: String,
    /// `Failure` (down alerts), `Recovery` (recovery alerts) or `Both`. Default `Failure`.
    #[serde(default, rename = "type")]
    pub alert_type: AlertType,
    /// Consecutive failed checks before the first failure alert. At least 1. Default 3.
    #[serde(default = "default_threshold")]
    #[schemars(range(min = 1, max = 10000))]
    pub failure_threshold: u32,
    /// After an alert, further failure alerts for the same monitor wait this long (Go
    /// duration, e.g. `1h`). `0s` disables the cooldown. Default `1h`.
    #[serde(default = "default_cooldown")]
    #[schemars(regex(pattern = r"^([0-9]+(ms|s|m|h))+$"))]
    pub cooldown: String,
    /// A disabled rule never fires. Default `true`.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_threshold() -> u32 {
    3
}
fn default_cooldown() -> String {
    "1h".into()
}
fn default_true() -> bool {
    true
}

/// Which transitions an AlertRule notifies about.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AlertType {
    /// Failure alerts only.
    #[default]
    Failure,
    /// Recovery alerts only.
    Recovery,
    /// Failure and recovery alerts.
    Both,
}

impl AlertType {
    /// The name as stored in MySQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failure => "Failure",
            Self::Recovery => "Recovery",
            Self::Both => "Both",
        }
    }
}

/// Observed state of an AlertRule.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleStatus {
    /// The spec generation the operator last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` says whether the rule is valid, its channel exists, and it is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl AlertRuleSpec {
    /// The cooldown, parsed; an invalid value yields the default (1 h).
    pub fn cooldown(&self) -> std::time::Duration {
        duration::parse(&self.cooldown).unwrap_or(std::time::Duration::from_secs(3600))
    }
}

/// Checks the `monitorRef` / `monitorSelector` pair. `required` says whether one of them
/// must be given (AlertRule) or neither means "all monitors" (EscalationPolicy).
pub(crate) fn check_monitor_target(
    monitor_ref: Option<&str>,
    selector: Option<&LabelSelector>,
    required: bool,
    problems: &mut Vec<Problem>,
) {
    match (monitor_ref, selector) {
        (Some(_), Some(_)) => problems.push(Problem::new(
            "spec.monitorRef",
            "give monitorRef or monitorSelector, not both",
        )),
        (None, None) if required => problems.push(Problem::new(
            "spec.monitorRef",
            "give monitorRef (one monitor) or monitorSelector (monitors by label)",
        )),
        _ => {}
    }
    if let Some(name) = monitor_ref {
        check_object_name("spec.monitorRef", name, problems);
    }
    if let Some(selector) = selector {
        crate::selector::check("spec.monitorSelector", selector, problems);
    }
}

impl Validate for AlertRuleSpec {
    fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        check_monitor_target(
            self.monitor_ref.as_deref(),
            self.monitor_selector.as_ref(),
            true,
            &mut problems,
        );
        check_object_name("spec.channelRef", &self.channel_ref, &mut problems);
        if self.failure_threshold == 0 {
            problems.push(Problem::new(
                "spec.failureThreshold",
                "must be at least 1 (the number of failed checks in a row before alerting)",
            ));
        }
        match duration::parse(&self.cooldown) {
            Err(e) => problems.push(Problem::new("spec.cooldown", e.to_string())),
            Ok(cooldown) if cooldown > MAX_COOLDOWN => problems.push(Problem::new(
                "spec.cooldown",
                format!("{} is above the maximum of 168h (7 days)", self.cooldown),
            )),
            Ok(_) => {}
        }
        problems
    }
}

impl Validate for AlertRule {
    /// The spec's semantic rules plus the schema's CEL rules, evaluated client-side.
    fn validate(&self) -> Vec<Problem> {
        let mut problems = self.spec.validate();
        crate::monitor::merge_cel(&mut problems, crate::validation::cel_problems(self));
        problems
    }
}
