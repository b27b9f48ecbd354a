//! Standalone mode against the real MariaDB: manifests appear, change and disappear and the
//! rows follow; `validate` reports each problem at its line with exit status 1; `status`
//! prints the table from known rows.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use common::credentials::Sealer;
use operator::{
    standalone::run::DirectoryReconciler,
    store::{Store, Table},
};
use sentinel_testkit::{SeedMonitor, TestDb};

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let path = std::env::temp_dir().join(format!(
            "sentinel-test-{}",
            sentinel_testkit::unique_suffix()
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join(name), text).unwrap();
    }
    fn remove(&self, name: &str) {
        std::fs::remove_file(self.0.join(name)).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const CHANNEL: &str = "\
apiVersion: uptimesentinel.io/v1alpha1
kind: NotificationChannel
metadata: {name: slack}
spec: {type: slack, secretRef: {name: slack-webhook}}
---
apiVersion: v1
kind: Secret
metadata: {name: slack-webhook}
stringData: {webhookUrl: 'https://hooks.example/secret-path'}
";

fn monitor(name: &str, interval: &str, labels: &str) -> String {
    format!(
        "apiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {{name: {name}, labels: {labels}}}\nspec: {{url: 'https://{name}.example', interval: {interval}}}\n"
    )
}

const RULE: &str = "\
apiVersion: uptimesentinel.io/v1alpha1
kind: AlertRule
metadata: {name: team-alerts}
spec:
  monitorSelector: {matchLabels: {team: shop}}
  channelRef: slack
";

async fn count(db: &TestDb, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

fn store(db: &TestDb) -> Store {
    Store::new(
        db.pool.clone(),
        Some(Sealer::from_base64(&Sealer::generate_key()).unwrap()),
    )
}

#[tokio::test]
async fn rows_follow_files_that_appear_change_and_disappear() {
    let db = TestDb::create().await;
    let dir = TempDir::new();
    dir.write("channel.yaml", CHANNEL);
    dir.write("web.yaml", &monitor("web", "30s", "{team: shop}"));
    dir.write("rule.yaml", RULE);
    let mut reconciler = DirectoryReconciler::new(dir.0.clone(), store(&db));

    let report = reconciler.pass().await.unwrap();
    assert_eq!((report.applied, report.failed, report.removed), (3, 0, 0));
    assert_eq!(
        (
            count(&db, "monitors").await,
            count(&db, "alert_rules").await,
            count(&db, "notification_channels").await
        ),
        (1, 1, 1)
    );
    let unchanged = reconciler.pass().await.unwrap();
    assert_eq!(unchanged.applied, 0, "nothing changed, nothing re-applied");

    dir.write("web.yaml", &monitor("web", "2m", "{team: shop}"));
    assert_eq!(reconciler.pass().await.unwrap().applied, 1);
    let interval: u32 = sqlx::query_scalar("SELECT interval_ms FROM monitors WHERE name = 'web'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(interval, 120_000);

    // A half-saved file must not delete anything.
    dir.write(
        "broken.yaml",
        "apiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {name: x\n",
    );
    dir.remove("web.yaml");
    let report = reconciler.pass().await.unwrap();
    assert!(report.removal_skipped);
    assert_eq!(count(&db, "monitors").await, 1);

    dir.remove("broken.yaml");
    let report = reconciler.pass().await.unwrap();
    assert_eq!(report.removed, 1);
    assert_eq!(count(&db, "monitors").await, 0);
    assert_eq!(count(&db, "monitor_state").await, 0);
}

#[tokio::test]
async fn a_restarted_reconciler_keeps_the_same_uids_and_removes_leftovers() {
    let db = TestDb::create().await;
    let dir = TempDir::new();
    dir.write("web.yaml", &monitor("web", "30s", "{}"));
    DirectoryReconciler::new(dir.0.clone(), store(&db))
        .pass()
        .await
        .unwrap();
    let first = store(&db).uids(Table::Monitors).await.unwrap();
    // A new process (no memory) sees the same file: same uid, no duplicate row.
    DirectoryReconciler::new(dir.0.clone(), store(&db))
        .pass()
        .await
        .unwrap();
    assert_eq!(store(&db).uids(Table::Monitors).await.unwrap(), first);
    // A new process that finds the file gone removes the row.
    dir.remove("web.yaml");
    let report = DirectoryReconciler::new(dir.0.clone(), store(&db))
        .pass()
        .await
        .unwrap();
    assert_eq!(report.removed, 1);
}

#[tokio::test]
async fn a_rule_waiting_for_its_channel_is_applied_when_the_channel_file_appears() {
    let db = TestDb::create().await;
    let dir = TempDir::new();
    dir.write("rule.yaml", RULE);
    let mut reconciler = DirectoryReconciler::new(dir.0.clone(), store(&db));
    assert_eq!(reconciler.pass().await.unwrap().failed, 1);
    assert_eq!(count(&db, "alert_rules").await, 0);
    dir.write("channel.yaml", CHANNEL);
    let report = reconciler.pass().await.unwrap();
    assert_eq!((report.applied, report.failed), (2, 0));
    assert_eq!(count(&db, "alert_rules").await, 1);
}

/// Selectors are resolved where alerts are evaluated, from what the operator stores: the
/// rule's selector and each monitor's labels. A monitor created after the rule is covered
/// without touching the rule.
#[tokio::test]
async fn a_new_labelled_monitor_is_covered_by_an_existing_selector_rule() {
    let db = TestDb::create().await;
    let dir = TempDir::new();
    dir.write("channel.yaml", CHANNEL);
    dir.write("rule.yaml", RULE);
    let mut reconciler = DirectoryReconciler::new(dir.0.clone(), store(&db));
    reconciler.pass().await.unwrap();
    dir.write("new.yaml", &monitor("new-shop-page", "30s", "{team: shop}"));
    dir.write("other.yaml", &monitor("other-team", "30s", "{team: ops}"));
    reconciler.pass().await.unwrap();

    let selector: String =
        sqlx::query_scalar("SELECT CAST(monitor_selector AS CHAR) FROM alert_rules")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector =
        serde_json::from_str(&selector).unwrap();
    let monitors: Vec<(String, String)> =
        sqlx::query_as("SELECT name, CAST(labels AS CHAR) FROM monitors ORDER BY name")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let covered: Vec<&str> = monitors
        .iter()
        .filter(|(_, labels)| {
            crds::selector::matches(&selector, &serde_json::from_str(labels).unwrap())
        })
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(covered, ["new-shop-page"]);
}

fn operator() -> Command {
    Command::new(env!("CARGO_BIN_EXE_operator"))
}

/// Each broken manifest, the line its problem is on, and the message expected there.
const BROKEN: &[(&str, &str, &str)] = &[
    (
        "01-scheme.yaml",
        "kind: Monitor\nmetadata: {name: m01}\nspec:\n  url: ftp://a.example/\n",
        ":4: Monitor/default/m01: spec.url: scheme \"ftp\" is not supported",
    ),
    (
        "02-interval.yaml",
        "kind: Monitor\nmetadata: {name: m02}\nspec:\n  url: https://a.example\n  interval: 5s\n  timeout: 1s\n",
        ":5: Monitor/default/m02: spec.interval: 5s is below the minimum of 10s",
    ),
    (
        "03-timeout.yaml",
        "kind: Monitor\nmetadata: {name: m03}\nspec:\n  url: https://a.example\n  interval: 30s\n  timeout: 45s\n",
        ":6: Monitor/default/m03: spec.timeout: 45s must be shorter than the interval (30s)",
    ),
    (
        "04-duration.yaml",
        "kind: Monitor\nmetadata: {name: m04}\nspec:\n  url: https://a.example\n  interval: 1 minute\n",
        ":5: Monitor/default/m04: spec.interval: failed to parse duration",
    ),
    (
        "05-range.yaml",
        "kind: Monitor\nmetadata: {name: m05}\nspec:\n  url: https://a.example\n  expect:\n    statusCodes:\n      - \"200\"\n      - \"299-200\"\n",
        ":8: Monitor/default/m05: spec.expect.statusCodes[1]: range \"299-200\" is empty",
    ),
    (
        "06-method.yaml",
        "kind: Monitor\nmetadata: {name: m06}\nspec:\n  url: https://a.example\n  method: FETCH\n",
        ":5: Monitor/default/m06: spec.method: unknown variant `FETCH`",
    ),
    (
        "07-header.yaml",
        "kind: Monitor\nmetadata: {name: m07}\nspec:\n  url: https://a.example\n  headers:\n    - name: Authorization\n      value: Bearer x\n",
        ":7: Monitor/default/m07: spec.headers[0].value: credentials must not be inline",
    ),
    (
        "08-json.yaml",
        "kind: Monitor\nmetadata: {name: m08}\nspec:\n  url: https://a.example\n  expect:\n    json:\n      - {path: status, equals: ok}\n",
        ":7: Monitor/default/m08: spec.expect.json[0].path: \"status\" must start with $",
    ),
    (
        "09-threshold.yaml",
        "kind: AlertRule\nmetadata: {name: r09}\nspec:\n  monitorRef: m01\n  channelRef: c-ok\n  failureThreshold: 0\n",
        ":6: AlertRule/default/r09: spec.failureThreshold: must be at least 1",
    ),
    (
        "10-dangling.yaml",
        "kind: AlertRule\nmetadata: {name: r10}\nspec:\n  monitorRef: m01\n  channelRef: nowhere\n",
        ":5: AlertRule/default/r10: spec.channelRef: NotificationChannel default/nowhere is not defined in this directory",
    ),
    (
        "11-target.yaml",
        "kind: AlertRule\nmetadata: {name: r11}\nspec:\n  channelRef: c-ok\n",
        ":3: AlertRule/default/r11: spec.monitorRef: give monitorRef (one monitor) or monitorSelector",
    ),
    (
        "12-levels.yaml",
        "kind: EscalationPolicy\nmetadata: {name: p12}\nspec:\n  levels:\n    - {afterFailures: 5, channelRef: c-ok}\n    - {afterFailures: 5, channelRef: c-ok}\n",
        ":6: EscalationPolicy/default/p12: spec.levels[1].afterFailures: duplicate escalation level",
    ),
    (
        "13-type.yaml",
        "kind: NotificationChannel\nmetadata: {name: c13}\nspec:\n  type: sms\n",
        ":4: NotificationChannel/default/c13: spec.type: unknown channel type \"sms\"",
    ),
    (
        "14-secret.yaml",
        "kind: NotificationChannel\nmetadata: {name: c14}\nspec:\n  type: slack\n",
        ":3: NotificationChannel/default/c14: spec.secretRef: type slack needs a Secret with key webhookUrl",
    ),
    (
        "15-yaml.yaml",
        "kind: Monitor\nmetadata: {name: m15\nspec: {}\n",
        ":3: invalid YAML",
    ),
    (
        "16-version.yaml",
        "apiVersion: uptimesentinel.io/v1\nkind: Monitor\nmetadata: {name: m16}\nspec: {url: 'https://a.example'}\n",
        ":1: Monitor/default/m16: apiVersion uptimesentinel.io/v1 is not served",
    ),
    (
        "17-dup.yaml",
        "kind: Monitor\nmetadata: {name: m02}\nspec:\n  url: https://b.example\n",
        ":2: Monitor/default/m02: metadata.name: duplicate: Monitor/default/m02 is already defined at",
    ),
    (
        "18-email.yaml",
        "kind: NotificationChannel\nmetadata: {name: c18}\nspec:\n  type: email\n  email:\n    smtpHost: mail.example\n    from: nobody\n    to: [ops@example.com]\n",
        ":7: NotificationChannel/default/c18: spec.email.from: \"nobody\" is not an email address",
    ),
];

const GOOD_CHANNEL: &str = "kind: NotificationChannel\nmetadata: {name: c-ok}\nspec: {type: webhook, secretRef: {name: s}, webhook: {url: 'https://hooks.example/x'}}\n";

#[test]
fn validate_reports_every_broken_manifest_at_its_line_and_exits_1() {
    let dir = TempDir::new();
    dir.write(
        "00-channel.yaml",
        &format!("apiVersion: uptimesentinel.io/v1alpha1\n{GOOD_CHANNEL}"),
    );
    for (file, body, _) in BROKEN {
        let text = if body.starts_with("apiVersion") {
            body.to_string()
        } else {
            format!("apiVersion: uptimesentinel.io/v1alpha1\n{body}")
        };
        dir.write(file, &text);
    }
    let output = operator().arg("validate").arg(&dir.0).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    for (file, _, expected) in BROKEN {
        // Every line starts with the file; the line number shifts by the added apiVersion.
        let prefix = dir.0.join(file).display().to_string();
        let expected = shift_line(expected, !BROKEN_HAS_API_VERSION(file));
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&prefix) && l[prefix.len()..].starts_with(&expected)),
            "no line for {file} like {expected:?} in:\n{stdout}"
        );
    }
    assert!(
        !stdout.contains("00-channel.yaml"),
        "the valid file has no problems:\n{stdout}"
    );
}

#[allow(non_snake_case)]
fn BROKEN_HAS_API_VERSION(file: &str) -> bool {
    file == "16-version.yaml"
}

/// `:N: rest` → `:N+1: rest` when an apiVersion line was prepended.
fn shift_line(expected: &str, shift: bool) -> String {
    if !shift {
        return expected.to_string();
    }
    let rest = &expected[1..];
    let (number, tail) = rest.split_once(':').unwrap();
    format!(":{}:{tail}", number.parse::<usize>().unwrap() + 1)
}

#[test]
fn validate_of_the_examples_exits_0() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let output = operator().arg("validate").arg(&examples).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn status_prints_the_table_and_json_for_known_rows() {
    let db = TestDb::create().await;
    for (id, name, health, latency, failures) in
        [(1, "api", "Up", Some(42), 0), (2, "web", "Down", None, 4)]
    {
        db.insert_monitors(
            &[SeedMonitor::new(
                id,
                name,
                format!("https://{name}.example/"),
            )],
            false,
        )
        .await;
        sqlx::query(
            "INSERT INTO monitor_state (monitor_id, health, consecutive_failures, last_latency_ms, last_check_at, last_error) \
             VALUES (?, ?, ?, ?, NOW(3) - INTERVAL 5 SECOND, ?)",
        )
        .bind(id)
        .bind(health)
        .bind(failures)
        .bind(latency)
        .bind((health == "Down").then_some("connection refused"))
        .execute(&db.pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "INSERT INTO ping_results (monitor_id, scheduled_at, started_at, generation, ok, latency_ms) VALUES \
         (1, NOW(3) - INTERVAL 1 MINUTE, NOW(3), 1, 1, 40), (1, NOW(3) - INTERVAL 2 MINUTE, NOW(3), 1, 0, 40)",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let output = operator()
        .args(["status", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAMESPACE",
            "NAME",
            "URL",
            "HEALTH",
            "LATENCY",
            "UPTIME",
            "LAST",
            "CHECK"
        ]
    );
    assert_eq!(
        &lines[1][..6],
        [
            "shop",
            "api",
            "https://api.example/",
            "Up",
            "42ms",
            "50.00%"
        ]
    );
    assert_eq!(
        &lines[2][..6],
        ["shop", "web", "https://web.example/", "Down", "-", "-"]
    );
    assert!(lines[1][6].ends_with('s'), "{text}");

    let output = operator()
        .args([
            "status",
            "--database-url",
            &db.url,
            "-o",
            "json",
            "-n",
            "shop",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json[1]["health"], "Down");
    assert_eq!(json[1]["consecutive_failures"], 4);
    assert_eq!(json[1]["last_error"], "connection refused");
}

/// A first apply of many monitors goes in batches; one monitor that cannot be stored
/// (its Secret needs a sealing key this store lacks) fails alone, with its own error.
#[tokio::test]
async fn many_monitors_are_applied_in_batches_and_a_bad_one_fails_alone() {
    let db = TestDb::create().await;
    let dir = TempDir::new();
    let mut text = String::new();
    for i in 0..600 {
        text.push_str("---\n");
        text.push_str(&monitor(&format!("m{i}"), "30s", "{}"));
    }
    dir.write("many.yaml", &text);
    dir.write(
        "secret-header.yaml",
        "apiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {name: with-token}\n\
         spec:\n  url: https://api.example\n  headers:\n  - name: Authorization\n    \
         valueFrom: {name: token, key: value}\n---\napiVersion: v1\nkind: Secret\n\
         metadata: {name: token}\nstringData: {value: Bearer abc}\n",
    );
    let without_key = Store::new(db.pool.clone(), None);
    let mut reconciler = DirectoryReconciler::new(dir.0.clone(), without_key);
    let report = reconciler.pass().await.unwrap();
    assert_eq!((report.applied, report.failed), (600, 1));
    assert_eq!(count(&db, "monitors").await, 600);
    assert_eq!(count(&db, "monitor_state").await, 600);

    // Only the failed one is retried; an edited monitor is the only one re-applied.
    text = text.replace(
        "https://m7.example', interval: 30s",
        "https://m7.example', interval: 1m",
    );
    dir.write("many.yaml", &text);
    let report = reconciler.pass().await.unwrap();
    assert_eq!((report.applied, report.failed), (1, 1));
    let interval: u32 = sqlx::query_scalar("SELECT interval_ms FROM monitors WHERE name = 'm7'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(interval, 60_000);
    dir.remove("secret-header.yaml");
    let report = reconciler.pass().await.unwrap();
    assert_eq!((report.applied, report.failed, report.removed), (0, 0, 0));
    assert_eq!(
        reconciler.pass().await.unwrap(),
        Default::default(),
        "an unchanged directory after a clean pass is not read again"
    );
}
