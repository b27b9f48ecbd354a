//! `EscalationPolicy`: ordered levels that notify more people as an outage goes on.
//!
//! Level N fires when `consecutiveFailures == afterFailures` exactly (the seed's rule), once
//! per incident per level. Levels are numbered by their position (1, 2, 3 …), so
//! `afterFailures` must strictly increase.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validation::{Problem, Validate, check_object_name};

/// At most this many levels: more is a paging tree, not an escalation policy.
pub const MAX_LEVELS: usize = 20;

/// Desired state of an EscalationPolicy.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "uptimesentinel.io",
    version = "v1alpha1",
    kind = "EscalationPolicy",
    plural = "escalationpolicies",
    namespaced,
    status = "EscalationPolicyStatus",
    derive = "PartialEq",
    shortname = "ep",
    category = "sentinel",
    cel,
    doc = "Ordered escalation levels: level N notifies its channel when a monitor's consecutive failures reach exactly its afterFailures, once per incident.",
    printcolumn(name = "MONITOR", type_ = "string", json_path = ".spec.monitorRef"),
    printcolumn(name = "LEVELS", type_ = "integer", json_path = ".status.levels"),
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
    validation = Rule::new("!(has(self.monitorRef) && has(self.monitorSelector))").message("give monitorRef or monitorSelector, not both"),
    validation = Rule::new("self.levels.all(l, self.levels.exists_one(m, m.afterFailures == l.afterFailures))").message("two levels have the same afterFailures").field_path(".levels")
)]
#[serde(rename_all = "camelCase")]
pub struct EscalationPolicySpec {
    /// Name of one Monitor in this namespace. With neither `monitorRef` nor
    /// `monitorSelector` the policy covers every monitor in the namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_ref: Option<String>,
    /// Selects Monitors in this namespace by label, including ones created later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitor_selector: Option<LabelSelector>,
    /// The levels in order: level 1 first. `afterFailures` must strictly increase.
    #[schemars(length(min = 1, max = 20))]
    pub levels: Vec<EscalationLevel>,
    /// A disabled policy never fires. Default `true`.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

fn default_true() -> bool {
    true
}

/// One escalation level.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EscalationLevel {
    /// Fire when the monitor has failed exactly this many checks in a row.
    #[schemars(range(min = 1, max = 100000))]
    pub after_failures: u32,
    /// Name of the NotificationChannel (same namespace) this level notifies.
    #[schemars(length(min = 1, max = 253))]
    pub channel_ref: String,
}

/// Observed state of an EscalationPolicy.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EscalationPolicyStatus {
    /// Number of levels stored (shown by `kubectl get ep`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<u32>,
    /// The spec generation the operator last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` says whether the policy is valid, its channels exist, and it is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl Validate for EscalationPolicySpec {
    fn validate(&self) -> Vec<Problem> {
        let mut problems = Vec::new();
        crate::alert_rule::check_monitor_target(
            self.monitor_ref.as_deref(),
            self.monitor_selector.as_ref(),
            false,
            &mut problems,
        );
        if self.levels.is_empty() {
            problems.push(Problem::new("spec.levels", "needs at least one level"));
        }
        if self.levels.len() > MAX_LEVELS {
            problems.push(Problem::new(
                "spec.levels",
                format!(
                    "has {} levels; at most {MAX_LEVELS} are allowed",
                    self.levels.len()
                ),
            ));
        }
        let mut previous: Option<u32> = None;
        for (i, level) in self.levels.iter().enumerate() {
            let path = format!("spec.levels[{i}]");
            if level.after_failures == 0 {
                problems.push(Problem::new(
                    format!("{path}.afterFailures"),
                    "must be at least 1",
                ));
            }
            if let Some(before) = previous {
                if level.after_failures == before {
                    problems.push(Problem::new(
                        format!("{path}.afterFailures"),
                        format!(
                            "duplicate escalation level: level {} also fires at {before} failures",
                            i
                        ),
                    ));
                } else if level.after_failures < before {
                    problems.push(Problem::new(
                        format!("{path}.afterFailures"),
                        format!(
                            "{} is below level {}'s {before}: levels must escalate in increasing order",
                            level.after_failures, i
                        ),
                    ));
                }
            }
            previous = Some(previous.map_or(level.after_failures, |p| p.max(level.after_failures)));
            check_object_name(
                &format!("{path}.channelRef"),
                &level.channel_ref,
                &mut problems,
            );
        }
        problems
    }
}

impl Validate for EscalationPolicy {
    /// The spec's semantic rules plus the schema's CEL rules, evaluated client-side.
    fn validate(&self) -> Vec<Problem> {
        let mut problems = self.spec.validate();
        crate::monitor::merge_cel(&mut problems, crate::validation::cel_problems(self));
        problems
    }
}
