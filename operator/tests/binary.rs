//! The `operator` binary in standalone mode, as `scripts/run-local.sh` runs it: it stores
//! the manifests, leads, dispatches checks to RabbitMQ, and stops cleanly on SIGTERM.

use std::{process::Command, time::Duration};

use common::amqp;
use crds::contract::QueueNames;
use sentinel_testkit::{TestDb, TestVhost, wait};

#[tokio::test]
async fn standalone_run_dispatches_checks_and_stops_on_sigterm() {
    let db = TestDb::create().await;
    let vhost = TestVhost::create().await;
    let dir = std::env::temp_dir().join(format!(
        "sentinel-run-{}",
        sentinel_testkit::unique_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("m.yaml"),
        "apiVersion: uptimesentinel.io/v1alpha1\nkind: Monitor\nmetadata: {name: a}\nspec: {url: 'http://127.0.0.1:9/', interval: 10s, timeout: 1s}\n",
    )
    .unwrap();
    let connection = amqp::connect(&vhost.amqp_url).await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    // Declared first so the passive depth checks below never hit a missing queue (which
    // would close the channel); the operator's own declaration is then a no-op.
    amqp::declare_topology(&channel, amqp::QueueType::Classic)
        .await
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_operator"))
        .args(["--log-text", "run", "--manifests"])
        .arg(&dir)
        .args([
            "--database-url",
            &db.url,
            "--amqp-url",
            &vhost.amqp_url,
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .env("SENTINEL_POLL_INTERVAL", "200ms")
        .spawn()
        .unwrap();
    let guard = KillOnDrop(child.id());
    wait::until(
        "a check batch on the queue",
        Duration::from_secs(30),
        || async {
            let (depth, _) = amqp::queue_depth(&channel, QueueNames::CHECKS).await.ok()?;
            (depth >= 1).then_some(())
        },
    )
    .await;
    let slot: Option<chrono::NaiveDateTime> =
        sqlx::query_scalar("SELECT next_check_at FROM monitors")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(slot.is_some(), "the scheduler placed the monitor's slots");
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = wait::until("the operator to exit", Duration::from_secs(15), || {
        let exited = child.try_wait().unwrap();
        async move { exited }
    })
    .await;
    assert!(status.success(), "{status:?}");
    std::mem::forget(guard);
    let holder: Option<String> =
        sqlx::query_scalar("SELECT holder FROM leader_leases WHERE expires_at > NOW(3)")
            .fetch_optional(&db.pool)
            .await
            .unwrap();
    assert_eq!(holder, None, "the lease is released on SIGTERM");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Kills the child if the test fails before stopping it.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-KILL")
            .arg(self.0.to_string())
            .status();
    }
}
