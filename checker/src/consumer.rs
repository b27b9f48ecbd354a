//! The consume loop: batches in, checks run, results made durable, then acked.
//!
//! A batch is acked only after its results are in the Redis stream *and* the monitor
//! states are committed in MySQL. If either fails the batch is requeued (after a short
//! pause, so an outage does not spin), and the redelivered checks keep their identity
//! `(monitor, slot)`: duplicate stream entries collapse on the `ping_results` primary key,
//! and state ignores slots it already applied. A batch that does not decode is rejected
//! without requeue and lands in `checks.dead`. A lost connection drops nothing: unacked
//! batches return to the queue, and the loop reconnects with capped backoff.
//!
//! Alert evaluation runs inside the state transaction (see [`crate::alerting`]); the
//! notifications it raised are published after the commit and before the ack. The loop
//! itself (prefetch, reconnects, draining on shutdown) is [`crate::queue`].

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use common::{amqp, credentials::Sealer};
use crds::contract::{self, CheckBatch, CheckRequest, QueueNames, TelemetryRecord};
use lapin::{
    message::Delivery,
    options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions},
};
use sqlx::MySqlPool;
use tokio::{sync::Semaphore, task::JoinSet};

use crate::{
    Result, alerting::Evaluator, metrics::Metrics, probe, queue, state, telemetry::TelemetryWriter,
};

/// A check dispatched ahead of its slot (the scheduler's look-ahead) waits for the slot,
/// but never longer than this: a slot further ahead means skewed clocks (or a test's hand
/// clock), and the check runs at once.
const MAX_EARLY: Duration = Duration::from_secs(3);

/// Pause before requeueing a batch whose results could not be stored.
const REQUEUE_PAUSE: Duration = Duration::from_secs(1);

/// Tuning.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Unacked batches RabbitMQ hands this checker at once.
    pub prefetch: u16,
    /// Checks running at once, across all batches.
    pub concurrency: usize,
    /// How long shutdown waits for in-flight batches.
    pub drain_timeout: Duration,
}

/// Everything a batch needs.
pub struct Checker {
    client: Arc<probe::Client>,
    pool: MySqlPool,
    telemetry: TelemetryWriter,
    sealer: Option<Sealer>,
    limit: Arc<Semaphore>,
    metrics: Metrics,
    options: Options,
    evaluator: Option<Arc<Evaluator>>,
}

impl Checker {
    /// A checker.
    pub fn new(
        client: probe::Client,
        pool: MySqlPool,
        telemetry: TelemetryWriter,
        sealer: Option<Sealer>,
        metrics: Metrics,
        options: Options,
    ) -> Self {
        Self {
            client: Arc::new(client),
            pool,
            telemetry,
            sealer,
            limit: Arc::new(Semaphore::new(options.concurrency.max(1))),
            metrics,
            options,
            evaluator: None,
        }
    }

    /// Evaluates alert rules on every batch with `evaluator`.
    #[must_use]
    pub fn with_alerting(mut self, evaluator: Arc<Evaluator>) -> Self {
        self.evaluator = Some(evaluator);
        self
    }

    /// Consumes until `shutdown`, reconnecting when the connection drops. `connected`
    /// reports whether a consumer is active (for `/readyz`).
    pub async fn run(
        self: Arc<Self>,
        amqp_url: &str,
        queue_type: amqp::QueueType,
        connected: tokio::sync::watch::Sender<bool>,
        shutdown: impl std::future::Future<Output = ()> + Clone,
    ) {
        let consume = queue::Consume {
            queue: QueueNames::CHECKS,
            tag: "checker",
            prefetch: self.options.prefetch,
            drain_timeout: self.options.drain_timeout,
        };
        let checker = self.clone();
        let handler: queue::Handler = Arc::new(move |delivery| {
            let checker = checker.clone();
            Box::pin(async move { checker.handle(delivery).await })
        });
        queue::run(amqp_url, queue_type, consume, handler, connected, shutdown).await;
    }

    /// Processes one delivery and acks, requeues or rejects it.
    async fn handle(&self, delivery: Delivery) {
        let started = std::time::Instant::now();
        let batch: CheckBatch = match contract::decode("check batch", &delivery.data) {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "malformed check batch: dead-lettered");
                self.metrics.batches.with_label_values(&["rejected"]).inc();
                let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                return;
            }
        };
        let results = self.run_batch(&batch).await;
        match self.persist(&results).await {
            Ok(()) => {
                if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                    tracing::warn!(error = %e, batch = %batch.batch_id, "failed to ack; the batch will be redelivered");
                }
                self.metrics.batches.with_label_values(&["acked"]).inc();
                self.metrics
                    .batch_duration
                    .observe(started.elapsed().as_secs_f64());
            }
            Err(e) => {
                tracing::warn!(error = %e, batch = %batch.batch_id, "failed to store results; requeueing");
                self.metrics.batches.with_label_values(&["requeued"]).inc();
                tokio::time::sleep(REQUEUE_PAUSE).await;
                let _ = delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await;
            }
        }
    }

    /// Runs every check of the batch concurrently under the global limit.
    pub async fn run_batch(&self, batch: &CheckBatch) -> Vec<TelemetryRecord> {
        let mut checks = JoinSet::new();
        for (index, request) in batch.checks.iter().enumerate() {
            let permit = self.limit.clone().acquire_owned();
            let request = request.clone();
            let credentials = self.credentials(&request);
            let client = self.client.clone();
            let metrics = self.metrics.clone();
            checks.spawn(async move {
                let early = (request.slot - chrono::Utc::now())
                    .to_std()
                    .unwrap_or_default();
                if early <= MAX_EARLY {
                    tokio::time::sleep(early).await;
                }
                let _permit = permit.await.expect("the limit is never closed");
                metrics.in_flight.inc();
                let record = probe::run(&client, &request, &credentials).await;
                metrics.in_flight.dec();
                metrics.observe(&record);
                (index, record)
            });
        }
        let mut results = checks.join_all().await;
        results.sort_by_key(|(index, _)| *index);
        results.into_iter().map(|(_, record)| record).collect()
    }

    fn credentials(&self, request: &CheckRequest) -> BTreeMap<String, String> {
        match (&request.credentials, &self.sealer) {
            (Some(sealed), Some(sealer)) => sealer.open(&sealed.owner, &sealed.sealed).unwrap_or_else(|e| {
                tracing::warn!(monitor_id = request.monitor_id, error = %e, "cannot open header credentials");
                BTreeMap::new()
            }),
            _ => BTreeMap::new(),
        }
    }

    /// Makes results durable: the telemetry stream first, then monitor state (with alert
    /// evaluation); then publishes what evaluation raised.
    async fn persist(&self, results: &[TelemetryRecord]) -> Result<()> {
        self.telemetry.write(results).await?;
        let applied = state::apply_batch(&self.pool, results, self.evaluator.as_deref()).await?;
        if let Some(evaluator) = &self.evaluator {
            evaluator.publish(&applied.notifications).await;
        }
        Ok(())
    }
}
