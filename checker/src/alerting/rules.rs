//! The rule cache: every AlertRule, EscalationPolicy and channel, held in memory so that
//! evaluating a result never queries MySQL for rules.
//!
//! Refresh: every `refresh` interval (default 5 s) the cache reads a fingerprint of the
//! three config tables (row count, newest `updated_at`, sum of generations) in one small
//! query, and reloads only when it changed. The operator's upserts and deletes change
//! one of the three, so no explicit "bump" can be forgotten and a missed notification of
//! a change is impossible. Staleness bound: a change is applied at most one refresh
//! interval plus one load after the operator committed it. The monitor side (name,
//! labels) is not cached: it is read with the state rows each batch already locks.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use crds::AlertType;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use sqlx::MySqlPool;

use crate::Result;

/// The monitor a result belongs to, as evaluation needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorInfo {
    /// `monitors.id`.
    pub id: u64,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// The checked URL.
    pub url: String,
    /// Labels (for selectors).
    pub labels: BTreeMap<String, String>,
}

/// Which monitors a rule or policy covers (always within its own namespace).
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    /// One monitor by name.
    Name(String),
    /// Monitors whose labels match.
    Selector(LabelSelector),
    /// Every monitor in the namespace (policies with neither ref nor selector).
    Namespace,
}

impl Target {
    fn from_columns(name: Option<String>, selector: Option<String>) -> Result<Self, String> {
        match (name, selector) {
            (Some(name), _) => Ok(Self::Name(name)),
            (None, Some(json)) => serde_json::from_str(&json)
                .map(Self::Selector)
                .map_err(|e| format!("unreadable monitor selector: {e}")),
            (None, None) => Ok(Self::Namespace),
        }
    }

    fn matches(&self, monitor: &MonitorInfo) -> bool {
        match self {
            Self::Name(name) => *name == monitor.name,
            Self::Selector(selector) => crds::selector::matches(selector, &monitor.labels),
            Self::Namespace => true,
        }
    }
}

/// An AlertRule.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// `alert_rules.id`.
    pub id: u64,
    /// Namespace.
    pub namespace: String,
    /// Name (for logs).
    pub name: String,
    /// Covered monitors.
    pub target: Target,
    /// The channel's id; `None` when the channel does not exist or is disabled.
    pub channel_id: Option<u64>,
    /// Failure, Recovery or Both.
    pub alert_type: AlertType,
    /// Failures in a row before a failure alert.
    pub failure_threshold: u32,
    /// At most one failure alert per this many milliseconds per monitor.
    pub cooldown_ms: u64,
    /// Disabled rules never fire.
    pub enabled: bool,
}

/// One escalation level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Level {
    /// 1-based.
    pub level: u32,
    /// Fires when failures in a row equal this exactly.
    pub after_failures: u32,
    /// The channel's id; `None` when missing or disabled.
    pub channel_id: Option<u64>,
}

/// An EscalationPolicy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// `escalation_policies.id`.
    pub id: u64,
    /// Namespace.
    pub namespace: String,
    /// Name (for logs).
    pub name: String,
    /// Covered monitors.
    pub target: Target,
    /// Levels in order.
    pub levels: Vec<Level>,
    /// Disabled policies never fire.
    pub enabled: bool,
}

/// Every rule and policy, as of one load.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuleSet {
    /// AlertRules.
    pub rules: Vec<Rule>,
    /// EscalationPolicies.
    pub policies: Vec<Policy>,
}

impl RuleSet {
    /// Enabled rules covering `monitor`.
    pub fn rules_for<'a>(&'a self, monitor: &'a MonitorInfo) -> impl Iterator<Item = &'a Rule> {
        self.rules.iter().filter(move |rule| {
            rule.enabled && rule.namespace == monitor.namespace && rule.target.matches(monitor)
        })
    }

    /// Enabled policies covering `monitor`. Policies that name or select the monitor
    /// override namespace-wide ones (the seeds' "monitor-specific policies override global
    /// ones"): the namespace-wide policies apply only to monitors no other policy covers.
    pub fn policies_for<'a>(&'a self, monitor: &MonitorInfo) -> Vec<&'a Policy> {
        let covering: Vec<&Policy> = self
            .policies
            .iter()
            .filter(|p| p.enabled && p.namespace == monitor.namespace && p.target.matches(monitor))
            .collect();
        if covering.iter().any(|p| p.target != Target::Namespace) {
            covering
                .into_iter()
                .filter(|p| p.target != Target::Namespace)
                .collect()
        } else {
            covering
        }
    }
}

/// Loads every rule and policy, resolving channel names to ids.
///
/// # Errors
/// MySQL errors. Rows that cannot be read (a damaged selector) are skipped with a warning
/// naming the object, so one bad row never stops alerting for the others.
pub async fn load(pool: &MySqlPool) -> Result<RuleSet> {
    let channels: HashMap<(String, String), u64> = sqlx::query_as::<_, (u64, String, String)>(
        "SELECT id, namespace, name FROM notification_channels WHERE enabled = 1",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|(id, namespace, name)| ((namespace, name), id))
    .collect();
    let channel = |namespace: &str, name: &str| {
        channels
            .get(&(namespace.to_string(), name.to_string()))
            .copied()
    };

    type RuleRow = (
        u64,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        u32,
        u64,
        bool,
    );
    let rule_rows: Vec<RuleRow> = sqlx::query_as(
        "SELECT id, namespace, name, monitor_ref, monitor_selector, channel_ref, alert_type, \
         failure_threshold, cooldown_ms, enabled FROM alert_rules ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let mut rules = Vec::with_capacity(rule_rows.len());
    for (
        id,
        namespace,
        name,
        monitor_ref,
        selector,
        channel_ref,
        kind,
        threshold,
        cooldown,
        enabled,
    ) in rule_rows
    {
        let alert_type = match kind.as_str() {
            "Failure" => AlertType::Failure,
            "Recovery" => AlertType::Recovery,
            "Both" => AlertType::Both,
            other => {
                tracing::warn!(rule = %format!("{namespace}/{name}"), alert_type = other, "unknown alert type: rule skipped");
                continue;
            }
        };
        let target = match Target::from_columns(monitor_ref, selector) {
            Ok(target) => target,
            Err(e) => {
                tracing::warn!(rule = %format!("{namespace}/{name}"), error = %e, "rule skipped");
                continue;
            }
        };
        rules.push(Rule {
            id,
            channel_id: channel(&namespace, &channel_ref),
            namespace,
            name,
            target,
            alert_type,
            failure_threshold: threshold,
            cooldown_ms: cooldown,
            enabled,
        });
    }

    let mut levels: HashMap<u64, Vec<(u32, u32, String)>> = HashMap::new();
    for (policy_id, level, after, channel_ref) in sqlx::query_as::<_, (u64, u32, u32, String)>(
        "SELECT policy_id, level, after_failures, channel_ref FROM escalation_levels \
         ORDER BY policy_id, level",
    )
    .fetch_all(pool)
    .await?
    {
        levels
            .entry(policy_id)
            .or_default()
            .push((level, after, channel_ref));
    }
    type PolicyRow = (u64, String, String, Option<String>, Option<String>, bool);
    let policy_rows: Vec<PolicyRow> = sqlx::query_as(
        "SELECT id, namespace, name, monitor_ref, monitor_selector, enabled \
             FROM escalation_policies ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    let mut policies = Vec::with_capacity(policy_rows.len());
    for (id, namespace, name, monitor_ref, selector, enabled) in policy_rows {
        let target = match Target::from_columns(monitor_ref, selector) {
            Ok(target) => target,
            Err(e) => {
                tracing::warn!(policy = %format!("{namespace}/{name}"), error = %e, "policy skipped");
                continue;
            }
        };
        let levels = levels
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .map(|(level, after_failures, channel_ref)| Level {
                level,
                after_failures,
                channel_id: channel(&namespace, &channel_ref),
            })
            .collect();
        policies.push(Policy {
            id,
            namespace,
            name,
            target,
            levels,
            enabled,
        });
    }
    Ok(RuleSet { rules, policies })
}

/// What changes whenever a rule, policy or channel is created, changed or deleted.
async fn fingerprint(pool: &MySqlPool) -> Result<String> {
    let fingerprint: Option<String> = sqlx::query_scalar(
        "SELECT CONCAT_WS('|', \
           (SELECT CONCAT(COUNT(*), ',', COALESCE(MAX(updated_at), ''), ',', COALESCE(SUM(generation), 0)) FROM alert_rules), \
           (SELECT CONCAT(COUNT(*), ',', COALESCE(MAX(updated_at), ''), ',', COALESCE(SUM(generation), 0)) FROM escalation_policies), \
           (SELECT CONCAT(COUNT(*), ',', COALESCE(MAX(updated_at), ''), ',', COALESCE(SUM(generation), 0), ',', SUM(enabled)) FROM notification_channels))",
    )
    .fetch_one(pool)
    .await?;
    Ok(fingerprint.unwrap_or_default())
}

/// The shared, periodically refreshed [`RuleSet`].
#[derive(Debug, Default)]
pub struct RuleCache {
    current: RwLock<Arc<RuleSet>>,
    fingerprint: Mutex<String>,
}

impl RuleCache {
    /// A cache loaded now.
    ///
    /// # Errors
    /// MySQL errors.
    pub async fn load(pool: &MySqlPool) -> Result<Self> {
        let cache = Self::default();
        cache.refresh(pool).await?;
        Ok(cache)
    }

    /// The rules as of the last refresh.
    pub fn get(&self) -> Arc<RuleSet> {
        self.current.read().expect("rule cache lock").clone()
    }

    /// Reloads when the config tables changed since the last load. Returns whether it
    /// reloaded.
    ///
    /// # Errors
    /// MySQL errors (the previous rules stay in use).
    pub async fn refresh(&self, pool: &MySqlPool) -> Result<bool> {
        let seen = fingerprint(pool).await?;
        if *self.fingerprint.lock().expect("fingerprint lock") == seen && !seen.is_empty() {
            return Ok(false);
        }
        let set = load(pool).await?;
        tracing::info!(
            rules = set.rules.len(),
            policies = set.policies.len(),
            "alert rules loaded"
        );
        *self.current.write().expect("rule cache lock") = Arc::new(set);
        *self.fingerprint.lock().expect("fingerprint lock") = seen;
        Ok(true)
    }

    /// Refreshes every `every` until `shutdown`.
    pub async fn run_refresh(
        self: Arc<Self>,
        pool: MySqlPool,
        every: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticker.tick() => {
                    if let Err(e) = self.refresh(&pool).await {
                        tracing::warn!(error = %e, "failed to refresh alert rules; keeping the loaded ones");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn monitor(name: &str, labels: &[(&str, &str)]) -> MonitorInfo {
        MonitorInfo {
            id: 1,
            namespace: "shop".into(),
            name: name.into(),
            url: "http://127.0.0.1/".into(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
        }
    }

    fn policy(id: u64, namespace: &str, target: Target) -> Policy {
        Policy {
            id,
            namespace: namespace.into(),
            name: format!("p{id}"),
            target,
            levels: Vec::new(),
            enabled: true,
        }
    }

    fn selector(key: &str, value: &str) -> Target {
        Target::Selector(LabelSelector {
            match_labels: Some([(key.to_string(), value.to_string())].into()),
            ..LabelSelector::default()
        })
    }

    #[test]
    fn specific_policies_override_namespace_wide_ones() {
        let set = RuleSet {
            rules: Vec::new(),
            policies: vec![
                policy(1, "shop", Target::Namespace),
                policy(2, "shop", selector("tier", "gold")),
                policy(3, "other", Target::Namespace),
                policy(4, "shop", Target::Name("checkout".into())),
            ],
        };
        let ids =
            |m: &MonitorInfo| -> Vec<u64> { set.policies_for(m).iter().map(|p| p.id).collect() };
        assert_eq!(
            ids(&monitor("cart", &[])),
            vec![1],
            "only the namespace-wide one"
        );
        assert_eq!(ids(&monitor("cart", &[("tier", "gold")])), vec![2]);
        assert_eq!(ids(&monitor("checkout", &[("tier", "gold")])), vec![2, 4]);
    }

    #[test]
    fn rules_match_by_name_or_selector_in_their_namespace_only() {
        let rule = |id, namespace: &str, target, enabled| Rule {
            id,
            namespace: namespace.into(),
            name: format!("r{id}"),
            target,
            channel_id: Some(1),
            alert_type: AlertType::Failure,
            failure_threshold: 1,
            cooldown_ms: 1,
            enabled,
        };
        let set = RuleSet {
            rules: vec![
                rule(1, "shop", Target::Name("cart".into()), true),
                rule(2, "shop", selector("tier", "gold"), true),
                rule(3, "other", Target::Name("cart".into()), true),
                rule(4, "shop", Target::Name("cart".into()), false),
            ],
            policies: Vec::new(),
        };
        let m = monitor("cart", &[("tier", "gold")]);
        let ids: Vec<u64> = set.rules_for(&m).map(|r| r.id).collect();
        assert_eq!(ids, vec![1, 2]);
    }
}
