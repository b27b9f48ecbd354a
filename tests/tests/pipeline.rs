//! The real binaries as processes (operator in standalone mode, checker, `checker notify`,
//! ingestor) against the real MariaDB, RabbitMQ and Redis, with local targets: manifests
//! become checks, results become rows, `operator status` shows the right health, the
//! failing monitor's alert reaches a signed webhook and its recovery resolves the incident,
//! an edited monitor is checked with its new settings, a removed one no longer at all.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use sentinel_testkit::{Reply, TargetServer, TestDb, TestRedis, TestVhost, wait};

/// A workspace binary next to this test's executable (`cargo nextest run --workspace`
/// and `cargo test --workspace` build them).
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join(name);
    assert!(
        path.exists(),
        "{} is not built: run the tests with --workspace",
        path.display()
    );
    path
}

/// Child processes stopped with SIGTERM when the test ends, however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
        for child in &mut self.0 {
            let _ = child.wait();
        }
    }
}

#[tokio::test]
async fn manifests_become_checks_rows_and_status() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let redis = TestRedis::create().await;
    let target = TargetServer::start().await;
    target.set("/up", Reply::ok(r#"{"status":"ok"}"#));
    target.set("/down", Reply::status(503));
    target.set("/hook", Reply::ok("received"));
    let dir = std::env::temp_dir().join(format!(
        "sentinel-e2e-{}",
        sentinel_testkit::unique_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("monitors.yaml"),
        format!(
            "apiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {{name: up}}\nspec: {{url: '{}', interval: 10s, timeout: 2s}}\n---\n\
             apiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {{name: down}}\nspec: {{url: '{}', interval: 10s, timeout: 2s}}\n",
            target.url("/up"),
            target.url("/down")
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("alerts.yaml"),
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: hook}}\nstringData: {{signingSecret: e2e}}\n---\n\
             apiVersion: uptimesentinel.io/v1alpha1\nkind: NotificationChannel\nmetadata: {{name: hook}}\n\
             spec: {{type: webhook, webhook: {{url: '{}'}}, secretRef: {{name: hook}}}}\n---\n\
             apiVersion: uptimesentinel.io/v1alpha1\nkind: AlertRule\nmetadata: {{name: down}}\n\
             spec: {{monitorRef: down, channelRef: hook, type: Both, failureThreshold: 1, cooldown: 1h}}\n---\n\
             apiVersion: uptimesentinel.io/v1alpha1\nkind: AlertRule\nmetadata: {{name: up}}\n\
             spec: {{monitorRef: up, channelRef: hook, type: Both, failureThreshold: 1, cooldown: 1h}}\n",
            target.url("/hook")
        ),
    )
    .unwrap();
    let key = common::credentials::Sealer::generate_key();

    let common = |command: &mut Command| {
        command
            .env("SENTINEL_DATABASE_URL", &db.url)
            .env("SENTINEL_AMQP_URL", &vhost.amqp_url)
            .env("SENTINEL_REDIS_URL", &redis.url)
            .env("SENTINEL_REDIS_PREFIX", &redis.prefix)
            .env("SENTINEL_METRICS_ADDR", "127.0.0.1:0")
            .env("SENTINEL_LOG_TEXT", "true")
            .env("SENTINEL_CREDENTIALS_KEY", &key)
            .stdout(Stdio::null());
    };
    let mut operator = Command::new(binary("operator"));
    operator.args(["run", "--manifests"]).arg(&dir);
    common(&mut operator);
    let mut checker = Command::new(binary("checker"));
    common(&mut checker);
    let mut notifier = Command::new(binary("checker"));
    notifier.arg("notify");
    common(&mut notifier);
    let mut ingestor = Command::new(binary("ingestor"));
    ingestor.env("SENTINEL_INGEST_FLUSH_INTERVAL", "200ms");
    common(&mut ingestor);
    let _processes = Processes(vec![
        operator.spawn().unwrap(),
        checker.spawn().unwrap(),
        notifier.spawn().unwrap(),
        ingestor.spawn().unwrap(),
    ]);

    // Results reach ping_results for both monitors (scheduler → checker → Redis → ingestor).
    wait::until(
        "rows for both monitors",
        Duration::from_secs(40),
        || async {
            let monitors: i64 =
                sqlx::query_scalar("SELECT COUNT(DISTINCT monitor_id) FROM ping_results")
                    .fetch_one(&db.pool)
                    .await
                    .ok()?;
            (monitors == 2).then_some(())
        },
    )
    .await;
    let failed: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT m.name, p.error_kind FROM ping_results p JOIN monitors m ON m.id = p.monitor_id WHERE p.ok = 0",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert!(
        failed
            .iter()
            .all(|(name, kind)| name == "down" && kind.as_deref() == Some("status")),
        "{failed:?}"
    );

    // `operator status` shows the health the checker recorded.
    let status = wait::until(
        "Up and Down in operator status",
        Duration::from_secs(20),
        || async {
            let output = Command::new(binary("operator"))
                .args(["status", "-o", "json", "--database-url", &db.url])
                .output()
                .ok()?;
            let lines: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
            let health = |name: &str| {
                lines
                    .as_array()?
                    .iter()
                    .find(|l| l["name"] == name)
                    .map(|l| l["health"].clone())
            };
            (health("up")? == "Up" && health("down")? == "Down").then_some(lines)
        },
    )
    .await;
    let down = status
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "down")
        .unwrap();
    assert_eq!(down["last_error"], "status 503 is not in 200-399");
    assert!(down["consecutive_failures"].as_u64().unwrap() >= 1);

    // The failing monitor's alert, once (cooldown 1 h), signed, and none for the healthy one.
    let hooks = target
        .wait_for_requests("/hook", 1, Duration::from_secs(20))
        .await;
    let body: serde_json::Value = serde_json::from_slice(&hooks[0].body).unwrap();
    assert_eq!(body["event"], "failure");
    assert_eq!(body["monitor"]["name"], "down");
    assert!(hooks[0].headers["x-signature"].starts_with("sha256="));
    let incidents: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT m.name, s.current_incident_id FROM monitor_state s JOIN monitors m ON m.id = s.monitor_id ORDER BY m.name",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(incidents[0].0, "down");
    assert_eq!(incidents[0].1.as_deref(), body["incidentId"].as_str());
    assert_eq!(incidents[1], ("up".to_string(), None));
    assert_eq!(target.requests_to("/hook").len(), 1);

    // Recovery: the incident is resolved and the webhook hears of it, once.
    target.set("/down", Reply::ok("back"));
    let hooks = target
        .wait_for_requests("/hook", 2, Duration::from_secs(30))
        .await;
    let recovery: serde_json::Value = serde_json::from_slice(&hooks[1].body).unwrap();
    assert_eq!(recovery["event"], "recovery");
    assert_eq!(recovery["incidentId"], body["incidentId"]);
    wait::until("the incident resolved", Duration::from_secs(10), || async {
        let resolved: Option<chrono::NaiveDateTime> =
            sqlx::query_scalar("SELECT resolved_at FROM incidents WHERE id = ?")
                .bind(body["incidentId"].as_str())
                .fetch_one(&db.pool)
                .await
                .ok()?;
        resolved.map(|_| ())
    })
    .await;

    // Edit `up` (new path) and remove `down` in the manifests: the next slot of `up`
    // checks the new URL, and `down` is no longer checked at all.
    target.set("/up2", Reply::ok(r#"{"status":"ok"}"#));
    std::fs::write(
        dir.join("monitors.yaml"),
        format!(
            "apiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {{name: up}}\nspec: {{url: '{}', interval: 10s, timeout: 2s}}\n",
            target.url("/up2"),
        ),
    )
    .unwrap();
    target
        .wait_for_requests("/up2", 1, Duration::from_secs(30))
        .await;
    wait::until(
        "`down` removed from MySQL",
        Duration::from_secs(10),
        || async {
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM monitors WHERE name = 'down'")
                .fetch_one(&db.pool)
                .await
                .ok()?;
            (left == 0).then_some(())
        },
    )
    .await;
    // A check dispatched just before the removal may still run: count from one slot of
    // `up` later, then watch two more slots (20 s) for checks of the removed monitor.
    let seen = target.requests_to("/up2").len();
    target
        .wait_for_requests("/up2", seen + 1, Duration::from_secs(30))
        .await;
    let down_checks = target.requests_to("/down").len();
    target
        .wait_for_requests("/up2", seen + 3, Duration::from_secs(40))
        .await;
    assert_eq!(
        target.requests_to("/down").len(),
        down_checks,
        "a removed monitor was checked"
    );
    assert_eq!(
        target.requests_to("/hook").len(),
        2,
        "no further notifications"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
