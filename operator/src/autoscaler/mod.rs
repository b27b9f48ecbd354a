//! The checker autoscaler (leader only): every few seconds it reads the `checks` queue's
//! depth and consumer count with a passive declare and sets the checker Deployment's
//! replicas through its `scale` subresource, as [`decision`] recommends. Off when no
//! Deployment is named (the chart's KEDA mode leaves it off and lets a `ScaledObject` do
//! the same job).
//!
//! Needs RBAC `get` and `patch` on `deployments/scale` for that one Deployment, nothing on
//! the Deployment itself.

pub mod decision;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use common::amqp::{self, QueueType};
use crds::contract::QueueNames;
use k8s_openapi::api::apps::v1::Deployment;
use kube::{
    Api,
    api::{Patch, PatchParams},
};
use prometheus::{IntGauge, Registry};
use tokio::sync::watch;

use crate::{Error, Result};
use decision::{Policy, Recommender};

/// What to scale and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// Namespace of the checker Deployment.
    pub namespace: String,
    /// Its name.
    pub deployment: String,
    /// Bounds and target.
    pub policy: Policy,
    /// How often to look.
    pub interval: Duration,
}

/// Gauges of the autoscaler.
#[derive(Clone)]
pub struct Metrics {
    /// Messages ready in `checks`.
    pub depth: IntGauge,
    /// Consumers on `checks`.
    pub consumers: IntGauge,
    /// Replicas the autoscaler wants.
    pub desired: IntGauge,
    /// Replicas the Deployment has (spec).
    pub current: IntGauge,
}

impl Metrics {
    /// Creates and registers the gauges.
    ///
    /// # Panics
    /// When registered twice in one registry.
    pub fn register(registry: &Registry) -> Self {
        let gauge = |name: &str, help: &str| {
            let gauge = IntGauge::new(name, help).expect("valid metric");
            registry
                .register(Box::new(gauge.clone()))
                .expect("metrics registered once");
            gauge
        };
        Self {
            depth: gauge(
                "sentinel_autoscaler_queue_depth",
                "Check batches ready in the checks queue",
            ),
            consumers: gauge(
                "sentinel_autoscaler_queue_consumers",
                "Consumers on the checks queue",
            ),
            desired: gauge(
                "sentinel_autoscaler_desired_replicas",
                "Checker replicas the autoscaler wants",
            ),
            current: gauge(
                "sentinel_autoscaler_current_replicas",
                "Checker replicas in the Deployment's spec",
            ),
        }
    }
}

/// One look at the queue and the Deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Replicas before.
    pub current: u32,
    /// Replicas after.
    pub desired: u32,
}

/// The autoscaler.
pub struct Autoscaler {
    api: Api<Deployment>,
    options: Options,
    recommender: Recommender,
    metrics: Metrics,
}

impl Autoscaler {
    /// An autoscaler for the Deployment in `options`.
    pub fn new(client: kube::Client, options: Options, metrics: Metrics) -> Self {
        Self {
            api: Api::namespaced(client, &options.namespace),
            recommender: Recommender::new(options.policy),
            options,
            metrics,
        }
    }

    /// Reads the Deployment's replicas, decides for `depth`, and patches the scale
    /// subresource when the answer differs.
    ///
    /// # Errors
    /// [`Error::Kube`] when the scale cannot be read or written.
    pub async fn step(&mut self, now: Instant, depth: u32, consumers: u32) -> Result<Step> {
        self.metrics.depth.set(i64::from(depth));
        self.metrics.consumers.set(i64::from(consumers));
        let scale = self.api.get_scale(&self.options.deployment).await?;
        let current = scale
            .spec
            .and_then(|spec| spec.replicas)
            .and_then(|r| u32::try_from(r).ok())
            .unwrap_or(0);
        let desired = self.recommender.recommend(now, depth, current);
        self.metrics.current.set(i64::from(current));
        self.metrics.desired.set(i64::from(desired));
        if desired != current {
            self.api
                .patch_scale(
                    &self.options.deployment,
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"spec": {"replicas": desired}})),
                )
                .await?;
            tracing::info!(
                deployment = %format!("{}/{}", self.options.namespace, self.options.deployment),
                depth,
                consumers,
                from = current,
                to = desired,
                "scaled the checkers"
            );
        }
        Ok(Step { current, desired })
    }

    /// Every interval while leading, until `shutdown`: read the queue, then [`Self::step`].
    pub async fn run(
        mut self,
        amqp_url: String,
        queue_type: QueueType,
        mut leading: watch::Receiver<bool>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut queue: Option<QueueReader> = None;
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.options.interval) => {}
                _ = leading.changed() => {}
            }
            if !*leading.borrow() {
                continue;
            }
            if queue.is_none() {
                match QueueReader::open(&amqp_url, queue_type).await {
                    Ok(reader) => queue = Some(reader),
                    Err(e) => {
                        tracing::warn!(error = %e, "autoscaler cannot reach RabbitMQ");
                        continue;
                    }
                }
            }
            let Some(reader) = &queue else { continue };
            let (depth, consumers) = match reader.depth().await {
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!(error = %e, "autoscaler cannot read the queue depth");
                    queue = None;
                    continue;
                }
            };
            if let Err(e) = self.step(Instant::now(), depth, consumers).await {
                tracing::warn!(error = %e, deployment = %self.options.deployment, "autoscaler cannot scale the checkers");
            }
        }
    }
}

/// A channel kept open for passive declares of `checks`.
pub struct QueueReader {
    _connection: lapin::Connection,
    channel: Arc<lapin::Channel>,
}

impl QueueReader {
    /// Connects and declares the topology (so the passive declare finds the queue).
    ///
    /// # Errors
    /// [`Error::Amqp`].
    pub async fn open(url: &str, queue_type: QueueType) -> Result<Self> {
        let connection = amqp::connect(url).await.map_err(Error::Amqp)?;
        let channel = connection
            .create_channel()
            .await
            .map_err(|e| Error::Amqp(common::Error::Amqp(e)))?;
        amqp::declare_topology(&channel, queue_type)
            .await
            .map_err(Error::Amqp)?;
        Ok(Self {
            _connection: connection,
            channel: Arc::new(channel),
        })
    }

    /// Ready messages and consumers of `checks`.
    ///
    /// # Errors
    /// [`Error::Amqp`].
    pub async fn depth(&self) -> Result<(u32, u32)> {
        amqp::queue_depth(&self.channel, QueueNames::CHECKS)
            .await
            .map_err(Error::Amqp)
    }
}
