//! Label selectors (`monitorSelector`) as Kubernetes defines them: `matchLabels` plus
//! `matchExpressions` with `In`, `NotIn`, `Exists`, `DoesNotExist`. Used to validate a
//! selector and to decide whether a monitor's labels are selected.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::validation::Problem;

/// Problems with a selector's operators and values, reported under `field`.
pub fn check(field: &str, selector: &LabelSelector, problems: &mut Vec<Problem>) {
    let labels = selector.match_labels.as_ref().map_or(0, BTreeMap::len);
    let expressions = selector.match_expressions.as_deref().unwrap_or_default();
    if labels == 0 && expressions.is_empty() {
        problems.push(Problem::new(
            field,
            "selects nothing: give matchLabels or matchExpressions (an empty selector would match every monitor; omit the selector instead)",
        ));
    }
    for (i, expression) in expressions.iter().enumerate() {
        let path = format!("{field}.matchExpressions[{i}]");
        let values = expression.values.as_deref().unwrap_or_default();
        match expression.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => problems.push(Problem::new(
                format!("{path}.values"),
                format!("operator {} needs at least one value", expression.operator),
            )),
            "Exists" | "DoesNotExist" if !values.is_empty() => problems.push(Problem::new(
                format!("{path}.values"),
                format!("operator {} takes no values", expression.operator),
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => problems.push(Problem::new(
                format!("{path}.operator"),
                format!("unknown operator {other:?} (use In, NotIn, Exists or DoesNotExist)"),
            )),
        }
    }
}

/// Whether `labels` are selected by `selector` (all requirements must hold).
pub fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_match = selector.match_expressions.iter().flatten().all(|e| {
        let values = e.values.as_deref().unwrap_or_default();
        let value = labels.get(&e.key);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_match && expressions_match
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn match_labels_and_expressions_must_all_hold() {
        let selector = LabelSelector {
            match_labels: Some(labels(&[("team", "web")])),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["prod".into(), "staging".into()]),
            }]),
        };
        assert!(matches(
            &selector,
            &labels(&[("team", "web"), ("tier", "prod")])
        ));
        assert!(!matches(
            &selector,
            &labels(&[("team", "web"), ("tier", "dev")])
        ));
        assert!(!matches(&selector, &labels(&[("tier", "prod")])));
    }

    #[test]
    fn not_in_and_does_not_exist_accept_missing_labels() {
        let selector = LabelSelector {
            match_labels: None,
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "NotIn".into(),
                    values: Some(vec!["dev".into()]),
                },
                LabelSelectorRequirement {
                    key: "skip".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
            ]),
        };
        assert!(matches(&selector, &labels(&[])));
        assert!(!matches(&selector, &labels(&[("skip", "yes")])));
    }
}
