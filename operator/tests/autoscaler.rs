//! The checker autoscaler: queue depth read from the real RabbitMQ, scale requests checked
//! against the mock API server (up at once, hold, down after the window, clamped).

mod support;

use std::time::{Duration, Instant};

use common::amqp::{ConfirmingPublisher, Outgoing, QueueType};
use crds::contract::QueueNames;
use http::Method;
use operator::autoscaler::{Autoscaler, Metrics, Options, QueueReader, Step, decision::Policy};
use prometheus::Registry;
use sentinel_testkit::TestVhost;
use serde_json::json;
use support::{ApiServer, client};

const SCALE: &str = "/apis/apps/v1/namespaces/sentinel/deployments/checker/scale";

fn scale(replicas: u32) -> serde_json::Value {
    json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
           "metadata": {"name": "checker", "namespace": "sentinel"},
           "spec": {"replicas": replicas}, "status": {"replicas": replicas}})
}

/// Runs one step while answering the API server: the scale is `current`; a PATCH, if
/// any, must ask for `patched`.
async fn step(
    scaler: &mut Autoscaler,
    server: &mut ApiServer,
    at: Instant,
    depth: u32,
    current: u32,
    patched: Option<u32>,
) -> Step {
    let api = async {
        let get = server.next().await;
        get.assert(Method::GET, SCALE);
        get.ok(scale(current));
        if let Some(replicas) = patched {
            let patch = server.next().await;
            patch.assert(Method::PATCH, SCALE);
            assert_eq!(patch.body, json!({"spec": {"replicas": replicas}}));
            patch.ok(scale(replicas));
        }
    };
    let (result, ()) = tokio::join!(scaler.step(at, depth, 0), api);
    result.unwrap()
}

#[tokio::test]
async fn scales_up_at_once_holds_then_down_after_the_window_within_bounds() {
    let (client, mut server) = client();
    let mut scaler = Autoscaler::new(
        client,
        Options {
            namespace: "sentinel".into(),
            deployment: "checker".into(),
            policy: Policy {
                min: 1,
                max: 5,
                target_per_replica: 20,
                stabilization: Duration::from_secs(60),
            },
            interval: Duration::from_secs(5),
        },
        Metrics::register(&Registry::new()),
    );
    let t0 = Instant::now();
    let at = |s: u64| t0 + Duration::from_secs(s);
    let s = &mut scaler;
    let m = &mut server;
    assert_eq!(
        step(s, m, at(0), 45, 1, Some(3)).await,
        Step {
            current: 1,
            desired: 3
        },
        "45 batches / 20 per replica → 3, at once"
    );
    assert_eq!(
        step(s, m, at(10), 0, 3, None).await,
        Step {
            current: 3,
            desired: 3
        },
        "empty queue, but 3 is still in the window: no PATCH"
    );
    assert_eq!(
        step(s, m, at(75), 0, 3, Some(1)).await,
        Step {
            current: 3,
            desired: 1
        },
        "the window passed: down to min"
    );
    assert_eq!(
        step(s, m, at(80), 10_000, 1, Some(5)).await,
        Step {
            current: 1,
            desired: 5
        },
        "clamped to max"
    );
}

#[tokio::test]
async fn the_queue_depth_comes_from_rabbitmq() {
    let vhost = TestVhost::create().await;
    let reader = QueueReader::open(&vhost.amqp_url, QueueType::Classic)
        .await
        .unwrap();
    assert_eq!(reader.depth().await.unwrap(), (0, 0));
    let mut publisher =
        ConfirmingPublisher::new(&vhost.amqp_url, QueueType::Classic, QueueNames::EXCHANGE);
    let ids: Vec<String> = (0..45).map(|i| format!("batch-{i}")).collect();
    let messages: Vec<Outgoing<'_>> = ids
        .iter()
        .map(|id| Outgoing {
            routing_key: QueueNames::CHECKS,
            body: b"{}",
            expiration_ms: None,
            message_id: id,
        })
        .collect();
    publisher.publish(&messages).await.unwrap();
    assert_eq!(reader.depth().await.unwrap(), (45, 0));
}
