//! Validation: one case per rule, for the semantic `validate()` and for each CEL rule of
//! the schema (evaluated client-side exactly as the API server would).

use crds::{
    AlertRule, EscalationPolicy, Monitor, NotificationChannel, Problem, Validate,
    validation::cel_problems,
};

fn monitor(spec: &str) -> Monitor {
    let yaml = format!(
        "apiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {{name: m, namespace: default}}\nspec:\n{spec}"
    );
    serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("fixture does not parse: {e}\n{yaml}"))
}

fn rule(spec: &str) -> AlertRule {
    let yaml = format!(
        "apiVersion: uptimesentinel.io/v1alpha1\nkind: AlertRule\nmetadata: {{name: r, namespace: default}}\nspec:\n{spec}"
    );
    serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("fixture does not parse: {e}\n{yaml}"))
}

fn policy(spec: &str) -> EscalationPolicy {
    let yaml = format!(
        "apiVersion: uptimesentinel.io/v1alpha1\nkind: EscalationPolicy\nmetadata: {{name: p, namespace: default}}\nspec:\n{spec}"
    );
    serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("fixture does not parse: {e}\n{yaml}"))
}

fn channel(spec: &str) -> NotificationChannel {
    let yaml = format!(
        "apiVersion: uptimesentinel.io/v1alpha1\nkind: NotificationChannel\nmetadata: {{name: c, namespace: default}}\nspec:\n{spec}"
    );
    serde_yaml::from_str(&yaml).unwrap_or_else(|e| panic!("fixture does not parse: {e}\n{yaml}"))
}

/// Asserts that `problems` has one at `field` whose message contains `text`.
#[track_caller]
fn assert_problem(problems: &[Problem], field: &str, text: &str) {
    assert!(
        problems
            .iter()
            .any(|p| p.field == field && p.message.contains(text)),
        "expected a problem at {field} containing {text:?}, got {problems:#?}"
    );
}

const GOOD_MONITOR: &str = "  url: https://example.com/health\n  interval: 30s\n  timeout: 5s\n";

#[test]
fn valid_specs_have_no_problems() {
    assert_eq!(monitor(GOOD_MONITOR).validate(), vec![]);
    assert_eq!(
        rule("  monitorRef: web\n  channelRef: slack\n").validate(),
        vec![]
    );
    assert_eq!(
        policy("  levels:\n  - {afterFailures: 3, channelRef: a}\n  - {afterFailures: 10, channelRef: b}\n")
            .validate(),
        vec![]
    );
    assert_eq!(
        channel("  type: slack\n  secretRef: {name: s}\n").validate(),
        vec![]
    );
}

#[test]
fn defaults_fill_unset_fields() {
    let m = monitor("  url: http://a.example\n");
    assert_eq!(m.spec.interval, "60s");
    assert_eq!(m.spec.timeout, "5s");
    assert!(m.spec.follow_redirects && m.spec.tls_verify && !m.spec.paused);
    let r = rule("  monitorRef: web\n  channelRef: slack\n");
    assert_eq!(r.spec.failure_threshold, 3);
    assert_eq!(r.spec.cooldown, "1h");
    assert!(r.spec.enabled);
}

/// Monitor: every semantic rule, one invalid spec each, with the field path expected.
#[test]
fn invalid_monitor_specs_are_rejected_with_their_field_path() {
    let cases: &[(&str, &str, &str)] = &[
        ("  url: ftp://example.com/\n", "spec.url", "scheme \"ftp\""),
        ("  url: not a url\n", "spec.url", "is not a URL"),
        (
            "  url: https://user:pw@example.com/\n",
            "spec.url",
            "credentials",
        ),
        (
            "  url: https://example.com\n  interval: 30 seconds\n",
            "spec.interval",
            "failed to parse duration",
        ),
        (
            "  url: https://example.com\n  interval: 5s\n  timeout: 1s\n",
            "spec.interval",
            "below the minimum of 10s",
        ),
        (
            "  url: https://example.com\n  interval: 25h\n",
            "spec.interval",
            "above the maximum of 24h",
        ),
        (
            "  url: https://example.com\n  timeout: 5x\n",
            "spec.timeout",
            "unknown unit",
        ),
        (
            "  url: https://example.com\n  interval: 30s\n  timeout: 30s\n",
            "spec.timeout",
            "shorter than the interval",
        ),
        (
            "  url: https://example.com\n  timeout: 0s\n",
            "spec.timeout",
            "greater than 0",
        ),
        (
            "  url: https://example.com\n  expect: {statusCodes: [\"299-200\"]}\n",
            "spec.expect.statusCodes[0]",
            "is empty",
        ),
        (
            "  url: https://example.com\n  expect: {statusCodes: [\"200\", \"700\"]}\n",
            "spec.expect.statusCodes[1]",
            "not an HTTP status code",
        ),
        (
            "  url: https://example.com\n  expect: {statusCodes: [\"2xx\"]}\n",
            "spec.expect.statusCodes[0]",
            "not a status code or range",
        ),
        (
            "  url: https://example.com\n  expect: {bodyContains: [\"\"]}\n",
            "spec.expect.bodyContains[0]",
            "must not be empty",
        ),
        (
            "  url: https://example.com\n  expect: {bodyContains: [ok], bodyNotContains: [ok]}\n",
            "spec.expect.bodyNotContains",
            "required and forbidden",
        ),
        (
            "  url: https://example.com\n  expect: {json: [{path: status, equals: ok}]}\n",
            "spec.expect.json[0].path",
            "must start with $",
        ),
        (
            "  url: https://example.com\n  timeout: 2s\n  expect: {maxResponseTime: 3s}\n",
            "spec.expect.maxResponseTime",
            "must not exceed timeout",
        ),
        (
            "  url: https://example.com\n  headers: [{name: \"Bad Header\", value: x}]\n",
            "spec.headers[0].name",
            "not a valid header name",
        ),
        (
            "  url: https://example.com\n  headers: [{name: Accept, value: a}, {name: accept, value: b}]\n",
            "spec.headers[1].name",
            "given twice",
        ),
        (
            "  url: https://example.com\n  headers: [{name: X-Token}]\n",
            "spec.headers[0]",
            "exactly one of value or valueFrom",
        ),
        (
            "  url: https://example.com\n  headers: [{name: Authorization, value: Bearer abc}]\n",
            "spec.headers[0].value",
            "use valueFrom with a Secret",
        ),
        (
            "  url: https://example.com\n  headers: [{name: X-Token, valueFrom: {name: Bad_Name, key: token}}]\n",
            "spec.headers[0].valueFrom.name",
            "not a valid object name",
        ),
        (
            "  url: https://example.com\n  body: '{}'\n",
            "spec.body",
            "method other than GET",
        ),
        (
            "  url: http://example.com\n  certificateExpiry: {warningDays: 14}\n",
            "spec.certificateExpiry",
            "only be checked on https",
        ),
        (
            "  url: https://example.com\n  certificateExpiry: {warningDays: 0}\n",
            "spec.certificateExpiry.warningDays",
            "outside 1-365",
        ),
    ];
    assert!(cases.len() >= 20);
    for (spec, field, text) in cases {
        let problems = monitor(spec).spec.validate();
        assert_problem(&problems, field, text);
    }
}

#[test]
fn a_huge_request_body_is_rejected() {
    let mut m = monitor("  url: https://example.com\n  method: POST\n");
    m.spec.body = Some("x".repeat(70_000));
    assert_problem(&m.spec.validate(), "spec.body", "at most 65536");
}

#[test]
fn invalid_alert_rules_are_rejected_with_their_field_path() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "  channelRef: slack\n",
            "spec.monitorRef",
            "give monitorRef",
        ),
        (
            "  monitorRef: web\n  monitorSelector: {matchLabels: {a: b}}\n  channelRef: slack\n",
            "spec.monitorRef",
            "not both",
        ),
        (
            "  monitorRef: Web_1\n  channelRef: slack\n",
            "spec.monitorRef",
            "not a valid object name",
        ),
        (
            "  monitorRef: web\n  channelRef: \"\"\n",
            "spec.channelRef",
            "must not be empty",
        ),
        (
            "  monitorRef: web\n  channelRef: slack\n  failureThreshold: 0\n",
            "spec.failureThreshold",
            "at least 1",
        ),
        (
            "  monitorRef: web\n  channelRef: slack\n  cooldown: 1 hour\n",
            "spec.cooldown",
            "failed to parse duration",
        ),
        (
            "  monitorRef: web\n  channelRef: slack\n  cooldown: 200h\n",
            "spec.cooldown",
            "maximum of 168h",
        ),
        (
            "  monitorSelector: {}\n  channelRef: slack\n",
            "spec.monitorSelector",
            "selects nothing",
        ),
        (
            "  monitorSelector: {matchExpressions: [{key: tier, operator: Near}]}\n  channelRef: slack\n",
            "spec.monitorSelector.matchExpressions[0].operator",
            "unknown operator",
        ),
        (
            "  monitorSelector: {matchExpressions: [{key: tier, operator: In}]}\n  channelRef: slack\n",
            "spec.monitorSelector.matchExpressions[0].values",
            "at least one value",
        ),
        (
            "  monitorSelector: {matchExpressions: [{key: tier, operator: Exists, values: [x]}]}\n  channelRef: slack\n",
            "spec.monitorSelector.matchExpressions[0].values",
            "takes no values",
        ),
    ];
    for (spec, field, text) in cases {
        assert_problem(&rule(spec).spec.validate(), field, text);
    }
}

#[test]
fn invalid_escalation_policies_are_rejected_with_their_field_path() {
    let cases: &[(&str, &str, &str)] = &[
        ("  levels: []\n", "spec.levels", "at least one level"),
        (
            "  levels:\n  - {afterFailures: 5, channelRef: a}\n  - {afterFailures: 5, channelRef: b}\n",
            "spec.levels[1].afterFailures",
            "duplicate escalation level",
        ),
        (
            "  levels:\n  - {afterFailures: 10, channelRef: a}\n  - {afterFailures: 5, channelRef: b}\n",
            "spec.levels[1].afterFailures",
            "increasing order",
        ),
        (
            "  levels:\n  - {afterFailures: 0, channelRef: a}\n",
            "spec.levels[0].afterFailures",
            "at least 1",
        ),
        (
            "  levels:\n  - {afterFailures: 1, channelRef: NotAName}\n",
            "spec.levels[0].channelRef",
            "not a valid object name",
        ),
        (
            "  monitorRef: a\n  monitorSelector: {matchLabels: {a: b}}\n  levels:\n  - {afterFailures: 1, channelRef: a}\n",
            "spec.monitorRef",
            "not both",
        ),
    ];
    for (spec, field, text) in cases {
        assert_problem(&policy(spec).spec.validate(), field, text);
    }
    let mut many = policy("  levels:\n  - {afterFailures: 1, channelRef: a}\n");
    many.spec.levels = (1..=21)
        .map(|n| crds::EscalationLevel {
            after_failures: n,
            channel_ref: "a".into(),
        })
        .collect();
    assert_problem(&many.spec.validate(), "spec.levels", "at most 20");
}

#[test]
fn invalid_notification_channels_are_rejected_with_their_field_path() {
    let cases: &[(&str, &str, &str)] = &[
        ("  type: sms\n", "spec.type", "unknown channel type \"sms\""),
        (
            "  type: slack\n",
            "spec.secretRef",
            "needs a Secret with key webhookUrl",
        ),
        ("  type: email\n", "spec.email", "needs the email block"),
        (
            "  type: webhook\n  secretRef: {name: s}\n",
            "spec.webhook",
            "needs the webhook block",
        ),
        (
            "  type: telegram\n  secretRef: {name: s}\n",
            "spec.telegram",
            "needs the telegram block",
        ),
        (
            "  type: telegram\n  secretRef: {name: s}\n  telegram: {chatId: \"my chat\"}\n",
            "spec.telegram.chatId",
            "neither a numeric chat id",
        ),
        (
            "  type: webhook\n  secretRef: {name: s}\n  webhook: {url: \"ftp://x\"}\n",
            "spec.webhook.url",
            "not supported",
        ),
        (
            "  type: slack\n  secretRef: {name: s}\n  discord: {}\n",
            "spec.discord",
            "remove them or change the type",
        ),
        (
            "  type: email\n  email: {smtpHost: mail, from: nobody, to: [a@b.c]}\n",
            "spec.email.from",
            "not an email address",
        ),
        (
            "  type: email\n  email: {smtpHost: mail, from: a@b.c, to: []}\n",
            "spec.email.to",
            "at least one recipient",
        ),
        (
            "  type: email\n  email: {smtpHost: mail, from: a@b.c, to: [\"x y\"]}\n",
            "spec.email.to[0]",
            "not an email address",
        ),
        (
            "  type: pagerduty\n  secretRef: {name: s}\n  pagerduty: {apiUrl: \"gopher://x\"}\n",
            "spec.pagerduty.apiUrl",
            "not supported",
        ),
        (
            "  type: discord\n  secretRef: {name: \"\"}\n",
            "spec.secretRef.name",
            "must not be empty",
        ),
    ];
    for (spec, field, text) in cases {
        assert_problem(&channel(spec).spec.validate(), field, text);
    }
}

/// Each CEL rule of the schemas, evaluated client-side on an object that breaks only it.
#[test]
fn each_cel_rule_rejects_what_it_guards() {
    let cel = |problems: Vec<Problem>, text: &str| {
        assert!(
            problems.iter().any(|p| p.message.contains(text)),
            "expected CEL problem {text:?}, got {problems:#?}"
        );
    };
    assert_eq!(cel_problems(&monitor(GOOD_MONITOR)), vec![]);
    cel(
        cel_problems(&monitor(
            "  url: https://a.example\n  interval: 30s\n  timeout: 30s\n",
        )),
        "timeout must be shorter than interval",
    );
    cel(
        cel_problems(&monitor(
            "  url: https://a.example\n  interval: 5s\n  timeout: 1s\n",
        )),
        "interval must be at least 10s",
    );
    cel(
        cel_problems(&monitor("  url: https://a.example\n  interval: 25h\n")),
        "interval must be at most 24h",
    );
    cel(
        cel_problems(&monitor(
            "  url: https://a.example\n  timeout: 2s\n  expect: {maxResponseTime: 3s}\n",
        )),
        "maxResponseTime must not exceed timeout",
    );
    cel(
        cel_problems(&monitor("  url: https://a.example\n  body: x\n")),
        "request body needs a method",
    );
    cel(
        cel_problems(&monitor(
            "  url: https://a.example\n  headers: [{name: X-A}]\n",
        )),
        "exactly one of value or valueFrom",
    );
    cel(
        cel_problems(&rule("  channelRef: c\n")),
        "exactly one of monitorRef or monitorSelector",
    );
    cel(
        cel_problems(&rule(
            "  monitorRef: m\n  channelRef: c\n  cooldown: 200h\n",
        )),
        "cooldown must be at most 168h",
    );
    cel(
        cel_problems(&policy(
            "  monitorRef: a\n  monitorSelector: {matchLabels: {a: b}}\n  levels: [{afterFailures: 1, channelRef: a}]\n",
        )),
        "not both",
    );
    cel(
        cel_problems(&policy(
            "  levels:\n  - {afterFailures: 5, channelRef: a}\n  - {afterFailures: 5, channelRef: b}\n",
        )),
        "two levels have the same afterFailures",
    );
    cel(
        cel_problems(&channel("  type: email\n")),
        "type email needs the email block",
    );
    cel(
        cel_problems(&channel("  type: webhook\n  secretRef: {name: s}\n")),
        "type webhook needs the webhook block",
    );
    cel(
        cel_problems(&channel("  type: telegram\n  secretRef: {name: s}\n")),
        "type telegram needs the telegram block",
    );
    cel(cel_problems(&channel("  type: slack\n")), "needs secretRef");
}

#[test]
fn object_validate_combines_semantic_and_cel_problems_without_repeating_a_field() {
    let m = monitor("  url: https://a.example\n  interval: 30s\n  timeout: 30s\n");
    let problems = m.validate();
    let at_timeout = problems
        .iter()
        .filter(|p| p.field == "spec.timeout")
        .count();
    assert_eq!(at_timeout, 1, "{problems:#?}");
}

#[test]
fn unknown_enum_values_fail_to_parse_with_the_field_named() {
    let yaml = "apiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {name: m}\nspec:\n  url: https://a.example\n  method: FETCH\n";
    let error = serde_yaml::from_str::<Monitor>(yaml)
        .unwrap_err()
        .to_string();
    assert!(error.contains("unknown variant `FETCH`"), "{error}");
    assert!(error.contains("spec.method"), "{error}");
}

#[test]
fn cel_problems_carry_the_rule_field_path() {
    let problems = cel_problems(&monitor(
        "  url: https://a.example\n  interval: 30s\n  timeout: 30s\n",
    ));
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert_eq!(problems[0].field, "spec.timeout");
}
