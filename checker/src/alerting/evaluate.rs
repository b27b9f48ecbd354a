//! The decision rules, without I/O: which notifications a failure or a recovery raises.
//!
//! From the seeds (section 2): an AlertRule raises a failure alert whenever the failure
//! streak is at or above its threshold (the cooldown, applied by the caller, keeps it to
//! one per window); an escalation level fires only when the streak *equals* its
//! `afterFailures`; recovery alerts go out on Down → Up. Disabled rules, policies and
//! channels raise nothing.

use crds::{AlertType, contract::Notification, contract::NotificationKind};

use super::rules::{MonitorInfo, RuleSet};

/// A notification evaluation wants to raise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Idempotency key.
    pub key: String,
    /// What it reports.
    pub kind: NotificationKind,
    /// Escalation level.
    pub level: Option<u32>,
    /// Destination.
    pub channel_id: u64,
    /// `(rule id, cooldown ms)` when the cooldown limiter must agree first.
    pub cooldown: Option<(u64, u64)>,
}

/// What a failed check with `failures` in a row raises, during incident `incident_id`.
pub fn on_failure(
    set: &RuleSet,
    monitor: &MonitorInfo,
    incident_id: &str,
    failures: u32,
) -> Vec<Candidate> {
    let mut raised = Vec::new();
    for rule in set.rules_for(monitor) {
        let Some(channel_id) = rule.channel_id else {
            continue;
        };
        if matches!(rule.alert_type, AlertType::Failure | AlertType::Both)
            && failures >= rule.failure_threshold
        {
            raised.push(Candidate {
                key: Notification::rule_key(
                    incident_id,
                    rule.id,
                    NotificationKind::Failure,
                    failures,
                ),
                kind: NotificationKind::Failure,
                level: None,
                channel_id,
                cooldown: Some((rule.id, rule.cooldown_ms)),
            });
        }
    }
    for policy in set.policies_for(monitor) {
        for level in &policy.levels {
            if level.after_failures != failures {
                continue;
            }
            let Some(channel_id) = level.channel_id else {
                continue;
            };
            raised.push(Candidate {
                key: Notification::level_key(incident_id, policy.id, level.level),
                kind: NotificationKind::Escalation,
                level: Some(level.level),
                channel_id,
                cooldown: None,
            });
        }
    }
    raised
}

/// What recovering from incident `incident_id` raises. `failures` is the streak that
/// ended: a Recovery or Both rule speaks only about outages that reached its threshold
/// (nobody was told about a shorter one). Channels that received an escalation during the
/// incident (`escalated`) hear about the recovery too, once each, unless a rule already
/// tells them (PagerDuty resolves its incident this way).
pub fn on_recovery(
    set: &RuleSet,
    monitor: &MonitorInfo,
    incident_id: &str,
    failures: u32,
    escalated: &[u64],
) -> Vec<Candidate> {
    let mut raised: Vec<Candidate> = set
        .rules_for(monitor)
        .filter(|rule| {
            matches!(rule.alert_type, AlertType::Recovery | AlertType::Both)
                && failures >= rule.failure_threshold
        })
        .filter_map(|rule| {
            Some(Candidate {
                key: Notification::rule_key(incident_id, rule.id, NotificationKind::Recovery, 0),
                kind: NotificationKind::Recovery,
                level: None,
                channel_id: rule.channel_id?,
                cooldown: None,
            })
        })
        .collect();
    for &channel_id in escalated {
        if raised.iter().all(|c| c.channel_id != channel_id) {
            raised.push(Candidate {
                key: Notification::recovery_key(incident_id, channel_id),
                kind: NotificationKind::Recovery,
                level: None,
                channel_id,
                cooldown: None,
            });
        }
    }
    raised
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerting::rules::{Level, Policy, Rule, Target};

    fn monitor() -> MonitorInfo {
        MonitorInfo {
            id: 7,
            namespace: "shop".into(),
            name: "cart".into(),
            url: "http://127.0.0.1/".into(),
            labels: Default::default(),
        }
    }

    /// The seed's configuration (section 2.10): a Failure rule (threshold 5, 1 h) to
    /// email (channel 1); levels at 5 (slack, 2), 10 (pagerduty, 3), 15 (webhook, 4).
    fn seed() -> RuleSet {
        RuleSet {
            rules: vec![Rule {
                id: 1,
                namespace: "shop".into(),
                name: "email".into(),
                target: Target::Name("cart".into()),
                channel_id: Some(1),
                alert_type: AlertType::Failure,
                failure_threshold: 5,
                cooldown_ms: 3_600_000,
                enabled: true,
            }],
            policies: vec![Policy {
                id: 1,
                namespace: "shop".into(),
                name: "oncall".into(),
                target: Target::Namespace,
                levels: [(1, 5, 2), (2, 10, 3), (3, 15, 4)]
                    .into_iter()
                    .map(|(level, after_failures, channel)| Level {
                        level,
                        after_failures,
                        channel_id: Some(channel),
                    })
                    .collect(),
                enabled: true,
            }],
        }
    }

    fn channels(raised: &[Candidate]) -> Vec<(u64, NotificationKind)> {
        raised.iter().map(|c| (c.channel_id, c.kind)).collect()
    }

    #[test]
    fn below_threshold_nothing_at_threshold_rule_and_level_one() {
        let set = seed();
        for failures in 1..5 {
            assert!(on_failure(&set, &monitor(), "i", failures).is_empty());
        }
        assert_eq!(
            channels(&on_failure(&set, &monitor(), "i", 5)),
            vec![
                (1, NotificationKind::Failure),
                (2, NotificationKind::Escalation)
            ]
        );
    }

    #[test]
    fn levels_fire_on_the_exact_count_only() {
        let set = seed();
        let escalations = |failures| -> Vec<Option<u32>> {
            on_failure(&set, &monitor(), "i", failures)
                .into_iter()
                .filter(|c| c.kind == NotificationKind::Escalation)
                .map(|c| c.level)
                .collect()
        };
        assert_eq!(escalations(9), Vec::<Option<u32>>::new());
        assert_eq!(escalations(10), vec![Some(2)]);
        assert_eq!(escalations(11), Vec::<Option<u32>>::new());
        assert_eq!(escalations(15), vec![Some(3)]);
        let six = on_failure(&set, &monitor(), "i", 6);
        assert_eq!(channels(&six), vec![(1, NotificationKind::Failure)]);
        assert_eq!(
            six[0].cooldown,
            Some((1, 3_600_000)),
            "the caller limits it"
        );
    }

    #[test]
    fn the_same_result_yields_the_same_keys() {
        let set = seed();
        assert_eq!(
            on_failure(&set, &monitor(), "i", 5),
            on_failure(&set, &monitor(), "i", 5)
        );
        assert_ne!(
            on_failure(&set, &monitor(), "i", 5)[0].key,
            on_failure(&set, &monitor(), "j", 5)[0].key,
            "another incident, another key"
        );
    }

    #[test]
    fn disabled_rules_and_missing_channels_raise_nothing() {
        let mut set = seed();
        set.rules[0].enabled = false;
        set.policies[0].levels[0].channel_id = None;
        assert!(on_failure(&set, &monitor(), "i", 5).is_empty());
        set.policies[0].enabled = false;
        assert!(on_failure(&set, &monitor(), "i", 10).is_empty());
    }

    #[test]
    fn recovery_tells_recovery_rules_and_escalated_channels_once() {
        let mut set = seed();
        set.rules[0].alert_type = AlertType::Both;
        let raised = on_recovery(&set, &monitor(), "i", 12, &[2, 3, 1]);
        assert_eq!(
            channels(&raised),
            vec![
                (1, NotificationKind::Recovery),
                (2, NotificationKind::Recovery),
                (3, NotificationKind::Recovery)
            ]
        );
        assert!(
            on_recovery(&set, &monitor(), "i", 3, &[]).is_empty(),
            "an outage below the threshold was never announced"
        );
        set.rules[0].alert_type = AlertType::Failure;
        assert!(on_recovery(&set, &monitor(), "i", 12, &[]).is_empty());
    }
}
