//! Leader election: the MySQL lease (standalone) against the real MariaDB, the
//! Kubernetes Lease against the scripted API server (acquire, renew, lose, take over).

mod support;

use std::time::Duration;

use http::Method;
use operator::leader::{
    LeaseBackend, Timing, kubernetes::KubernetesLease, mysql::MySqlLease, run_election,
};
use sentinel_testkit::{TestDb, wait};
use serde_json::json;

fn timing(lease_ms: u64) -> Timing {
    Timing {
        lease_duration: Duration::from_millis(lease_ms),
        renew_every: Duration::from_millis(lease_ms / 3),
    }
}

#[tokio::test]
async fn one_holder_at_a_time_in_mysql_and_release_hands_over_at_once() {
    let db = TestDb::create().await;
    let a = MySqlLease::new(db.pool.clone(), "operator");
    let b = MySqlLease::new(db.pool.clone(), "operator");
    let t = timing(30_000);
    assert!(a.try_acquire_or_renew("a", t).await.unwrap());
    assert!(!b.try_acquire_or_renew("b", t).await.unwrap());
    assert!(
        a.try_acquire_or_renew("a", t).await.unwrap(),
        "the holder renews"
    );
    assert_eq!(a.holder().await.unwrap().as_deref(), Some("a"));
    a.release("a").await.unwrap();
    assert!(
        b.try_acquire_or_renew("b", t).await.unwrap(),
        "released: taken at once"
    );
    assert!(!a.try_acquire_or_renew("a", t).await.unwrap());
    let transitions: u32 = sqlx::query_scalar("SELECT transitions FROM leader_leases")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(transitions, 1);
}

#[tokio::test]
async fn an_expired_mysql_lease_is_taken_over() {
    let db = TestDb::create().await;
    let lease = MySqlLease::new(db.pool.clone(), "operator");
    assert!(lease.try_acquire_or_renew("a", timing(300)).await.unwrap());
    assert!(!lease.try_acquire_or_renew("b", timing(300)).await.unwrap());
    // "a" stops renewing; "b" wins once the lease has expired.
    wait::until(
        "b to take the expired lease",
        Duration::from_secs(5),
        || async {
            lease
                .try_acquire_or_renew("b", timing(300))
                .await
                .unwrap()
                .then_some(())
        },
    )
    .await;
    assert_eq!(lease.holder().await.unwrap().as_deref(), Some("b"));
}

#[tokio::test]
async fn racing_candidates_never_both_win() {
    let db = TestDb::create().await;
    let t = timing(30_000);
    let attempts = (0..8).map(|i| {
        let lease = MySqlLease::new(db.pool.clone(), "operator");
        async move {
            lease
                .try_acquire_or_renew(&format!("c{i}"), t)
                .await
                .unwrap()
        }
    });
    let wins = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|w| *w)
        .count();
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn run_election_publishes_leadership_and_releases_on_shutdown() {
    let db = TestDb::create().await;
    let (leading, mut leading_rx) = tokio::sync::watch::channel(false);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let election = tokio::spawn(run_election(
        MySqlLease::new(db.pool.clone(), "operator"),
        "me".to_string(),
        timing(3_000),
        leading,
        async {
            let _ = stopped.await;
        },
    ));
    tokio::time::timeout(Duration::from_secs(5), leading_rx.wait_for(|l| *l))
        .await
        .expect("became leader in time")
        .unwrap();
    stop.send(()).unwrap();
    election.await.unwrap();
    assert!(!*leading_rx.borrow());
    let lease = MySqlLease::new(db.pool.clone(), "operator");
    assert_eq!(lease.holder().await.unwrap(), None, "released on shutdown");
}

fn lease(
    holder: &str,
    resource_version: &str,
    duration_seconds: i32,
    transitions: i32,
) -> serde_json::Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "uptime-sentinel-operator", "namespace": "ops", "resourceVersion": resource_version},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration_seconds,
                 "renewTime": "2026-11-23T10:00:00.000000Z", "leaseTransitions": transitions}
    })
}

const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/ops/leases";

#[tokio::test]
async fn the_kubernetes_lease_is_acquired_renewed_lost_and_taken_over() {
    let (client, mut server) = support::client();
    let backend = std::sync::Arc::new(KubernetesLease::new(
        client,
        "ops",
        "uptime-sentinel-operator",
    ));
    let t = Timing {
        lease_duration: Duration::from_secs(1),
        renew_every: Duration::from_millis(300),
    };

    // Acquire: no Lease yet → create one naming us.
    let call = {
        let b = backend.clone();
        tokio::spawn(async move { b.try_acquire_or_renew("me", t).await })
    };
    let seen = server.next().await;
    seen.assert(Method::GET, &format!("{LEASE}/uptime-sentinel-operator"));
    seen.not_found();
    let seen = server.next().await;
    seen.assert(Method::POST, LEASE);
    assert_eq!(seen.body["spec"]["holderIdentity"], "me");
    assert_eq!(seen.body["spec"]["leaseDurationSeconds"], 1);
    seen.ok(lease("me", "1", 1, 0));
    assert!(call.await.unwrap().unwrap());

    // Renew: ours → replace with the resourceVersion read.
    let call = {
        let b = backend.clone();
        tokio::spawn(async move { b.try_acquire_or_renew("me", t).await })
    };
    server.next().await.ok(lease("me", "1", 1, 0));
    let seen = server.next().await;
    seen.assert(Method::PUT, &format!("{LEASE}/uptime-sentinel-operator"));
    assert_eq!(seen.body["metadata"]["resourceVersion"], "1");
    assert_eq!(seen.body["spec"]["holderIdentity"], "me");
    assert_ne!(
        seen.body["spec"]["renewTime"], "2026-11-23T10:00:00.000000Z",
        "renewTime moves"
    );
    seen.ok(lease("me", "2", 1, 0));
    assert!(call.await.unwrap().unwrap());

    // Lost: another holder renews (its record keeps changing) → we stay follower.
    for version in ["3", "4"] {
        let call = {
            let b = backend.clone();
            tokio::spawn(async move { b.try_acquire_or_renew("me", t).await })
        };
        server.next().await.ok(lease("other", version, 1, 1));
        assert!(!call.await.unwrap().unwrap());
    }

    // Take over: the other holder stopped renewing; once we have seen the same record for
    // a whole lease duration, we replace it (transitions + 1).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let call = {
        let b = backend.clone();
        tokio::spawn(async move { b.try_acquire_or_renew("me", t).await })
    };
    server.next().await.ok(lease("other", "4", 1, 1));
    let seen = server.next().await;
    seen.assert(Method::PUT, &format!("{LEASE}/uptime-sentinel-operator"));
    assert_eq!(seen.body["spec"]["holderIdentity"], "me");
    assert_eq!(seen.body["spec"]["leaseTransitions"], 2);
    assert_eq!(seen.body["metadata"]["resourceVersion"], "4");
    seen.ok(lease("me", "5", 1, 2));
    assert!(call.await.unwrap().unwrap());

    // A candidate racing another one: it watched our record go stale, but the other
    // candidate replaced it first, so its replace fails with 409 Conflict: not leader.
    let call = {
        let b = backend.clone();
        tokio::spawn(async move { b.try_acquire_or_renew("third", t).await })
    };
    server.next().await.ok(lease("me", "5", 1, 2));
    assert!(
        !call.await.unwrap().unwrap(),
        "first sight of the record: not expired yet"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let call = {
        let b = backend.clone();
        tokio::spawn(async move { b.try_acquire_or_renew("third", t).await })
    };
    server.next().await.ok(lease("me", "5", 1, 2));
    server.next().await.conflict();
    assert!(!call.await.unwrap().unwrap());

    // Release: clears the holder so a successor need not wait.
    let call = {
        let b = backend.clone();
        tokio::spawn(async move { b.release("me").await })
    };
    server.next().await.ok(lease("me", "6", 1, 2));
    let seen = server.next().await;
    seen.assert(Method::PUT, &format!("{LEASE}/uptime-sentinel-operator"));
    assert!(
        seen.body["spec"]
            .get("holderIdentity")
            .is_none_or(|h| h.is_null())
    );
    seen.ok(lease("", "7", 1, 2));
    call.await.unwrap().unwrap();
}
