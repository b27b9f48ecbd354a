//! The notifier (`checker notify`): delivers the notifications alert evaluation raised.
//!
//! ```text
//!  RabbitMQ "notifications" ─► lane of its channel (bounded, in memory) ─► ack
//!  relay (every second) ─► due rows (retries, lost publishes, expired leases) ─► lanes
//!  lane worker (≤ per-channel limit at once) ─► claim row (UPDATE … WHERE pending)
//!        ─► send ─► mark sent   |  fail ─► mark retry (backoff, jitter)
//!                               |  last attempt or permanent error ─► notifications.dead + mark failed
//! ```
//!
//! The `notifications` row, written in the evaluation transaction, is the durable record;
//! the queued message is only the fast trigger. So a message is acked once its
//! notification sits in a lane: if this process dies, the row is still `pending` and the
//! relay of any notifier delivers it after the grace period (10 s).
//!
//! Exactly-once in effect: a row is claimed before sending (one conditional UPDATE wins)
//! and marked `sent` right after the receiver accepted, so a redelivered message, a second
//! notifier or the relay finds it claimed or done. The window that remains: a notifier that
//! dies after the receiver accepted and before its `sent` UPDATE committed (one MySQL round
//! trip, about a millisecond) leaves the row `sending`; when the lease expires the relay
//! sends again. Receivers can close that window themselves: webhooks carry
//! `X-Sentinel-Idempotency-Key`, and PagerDuty deduplicates on `dedup_key` (the incident id).
//!
//! Isolation: each channel has its own lane and concurrency limit, so a receiver that
//! times out only slows its own lane; a full lane hands new notifications to the relay
//! instead of blocking the consumer. Retries wait in MySQL (`next_attempt_at`), not in a
//! queue, so there is no head-of-line blocking either.

pub mod channels;
pub mod message;
pub mod outbox;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use common::{
    amqp::{ConfirmingPublisher, Outgoing, QueueType},
    credentials::Sealer,
};
use crds::contract::{self, Notification, QueueNames};
use lapin::{
    message::Delivery,
    options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions},
};
use sqlx::MySqlPool;
use tokio::sync::{Semaphore, mpsc};

use crate::{Error, Result, metrics::NotifierMetrics, queue};
use outbox::Claim;

/// Notifications waiting in one channel's lane at most; more go to the relay.
const LANE_CAPACITY: usize = 1024;

/// How long a loaded channel is reused before it is read again (the staleness bound of
/// channel changes for the notifier).
const CHANNEL_CACHE_TTL: Duration = Duration::from_secs(5);

/// Tuning.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Unacked notifications held at once.
    pub prefetch: u16,
    /// Deliveries in flight per channel.
    pub per_channel: usize,
    /// Attempts before a notification is dead-lettered.
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles per attempt.
    pub retry_base: Duration,
    /// Longest wait between attempts.
    pub retry_cap: Duration,
    /// How long a claim lasts before another notifier may take the notification over.
    pub lease: Duration,
    /// Timeout of one delivery attempt.
    pub send_timeout: Duration,
    /// How often the relay looks for due notifications.
    pub relay_every: Duration,
    /// How long shutdown waits for deliveries in flight.
    pub drain_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            prefetch: 64,
            per_channel: 8,
            max_attempts: 8,
            retry_base: Duration::from_secs(2),
            retry_cap: Duration::from_secs(300),
            lease: Duration::from_secs(60),
            send_timeout: Duration::from_secs(10),
            relay_every: Duration::from_secs(1),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// What handling one notification came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered now.
    Sent,
    /// This attempt failed; another is scheduled.
    Retry,
    /// Given up: dead-lettered and marked failed.
    Failed,
    /// Its channel is gone or disabled.
    Skipped,
    /// Queued in its channel's lane.
    Queued,
    /// Its channel's lane is full: left to the relay.
    Deferred,
    /// Already sent, failed or skipped earlier.
    AlreadyDone,
    /// Claimed by another notifier, or its retry is not due.
    Elsewhere,
    /// No such notification in MySQL.
    Missing,
}

/// Delivers notifications.
pub struct Notifier {
    pool: MySqlPool,
    sealer: Option<Sealer>,
    sender: channels::Sender,
    options: Options,
    metrics: NotifierMetrics,
    lanes: Mutex<HashMap<u64, mpsc::Sender<Notification>>>,
    /// Keys sitting in a lane, so the relay does not queue them twice.
    queued: Mutex<std::collections::HashSet<String>>,
    channels: Mutex<HashMap<u64, (Instant, Option<channels::Channel>)>>,
    dead: tokio::sync::Mutex<ConfirmingPublisher>,
}

impl Notifier {
    /// A notifier over `pool`, dead-lettering through the broker at `amqp_url`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built.
    pub fn new(
        pool: MySqlPool,
        sealer: Option<Sealer>,
        options: Options,
        metrics: NotifierMetrics,
        amqp_url: &str,
        queue_type: QueueType,
    ) -> Result<Self> {
        Ok(Self {
            pool,
            sealer,
            sender: channels::Sender::new(options.send_timeout)?,
            options,
            metrics,
            lanes: Mutex::new(HashMap::new()),
            queued: Mutex::new(std::collections::HashSet::new()),
            channels: Mutex::new(HashMap::new()),
            dead: tokio::sync::Mutex::new(ConfirmingPublisher::new(
                amqp_url,
                queue_type,
                QueueNames::DEAD_LETTER_EXCHANGE,
            )),
        })
    }

    /// Consumes the `notifications` queue and runs the relay until `shutdown`.
    pub async fn run(
        self: Arc<Self>,
        amqp_url: &str,
        queue_type: QueueType,
        connected: tokio::sync::watch::Sender<bool>,
        shutdown: impl std::future::Future<Output = ()> + Clone + Send + 'static,
    ) {
        let relay = tokio::spawn(self.clone().run_relay(shutdown.clone()));
        let consume = queue::Consume {
            queue: QueueNames::NOTIFICATIONS,
            tag: "notifier",
            prefetch: self.options.prefetch,
            drain_timeout: self.options.drain_timeout,
        };
        let notifier = self.clone();
        let handler: queue::Handler = Arc::new(move |delivery| {
            let notifier = notifier.clone();
            Box::pin(async move { notifier.handle(delivery).await })
        });
        queue::run(amqp_url, queue_type, consume, handler, connected, shutdown).await;
        let _ = relay.await;
    }

    async fn handle(self: Arc<Self>, delivery: Delivery) {
        let notification: Notification = match contract::decode("notification", &delivery.data) {
            Ok(notification) => notification,
            Err(e) => {
                tracing::warn!(error = %e, "malformed notification: dead-lettered");
                let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                return;
            }
        };
        match self.enqueue(notification).await {
            Ok(_) => {
                if let Err(e) = delivery.ack(BasicAckOptions::default()).await {
                    tracing::warn!(error = %e, "failed to ack a notification; its redelivery will find it queued or done");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot queue a notification now; requeueing");
                tokio::time::sleep(Duration::from_secs(1)).await;
                let _ = delivery
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await;
            }
        }
    }

    /// Puts `notification` in its channel's lane, or hands it to the relay when the lane
    /// is full.
    ///
    /// # Errors
    /// MySQL errors while deferring.
    pub async fn enqueue(self: &Arc<Self>, notification: Notification) -> Result<Outcome> {
        let key = notification.key.clone();
        if !self.queued.lock().expect("queued lock").insert(key.clone()) {
            return Ok(Outcome::Queued);
        }
        let lane = self.lane(notification.channel_id);
        match lane.try_send(notification) {
            Ok(()) => Ok(Outcome::Queued),
            Err(_) => {
                self.queued.lock().expect("queued lock").remove(&key);
                outbox::defer(&self.pool, &key, self.options.relay_every).await?;
                Ok(Outcome::Deferred)
            }
        }
    }

    /// The lane of `channel_id`, started on first use: a bounded queue and a worker that
    /// runs at most `per_channel` deliveries at once.
    fn lane(self: &Arc<Self>, channel_id: u64) -> mpsc::Sender<Notification> {
        let mut lanes = self.lanes.lock().expect("lanes lock");
        if let Some(lane) = lanes.get(&channel_id) {
            return lane.clone();
        }
        let (sender, mut receiver) = mpsc::channel::<Notification>(LANE_CAPACITY);
        let notifier = self.clone();
        let limit = Arc::new(Semaphore::new(self.options.per_channel.max(1)));
        tokio::spawn(async move {
            while let Some(notification) = receiver.recv().await {
                let permit = limit.clone().acquire_owned().await.expect("never closed");
                let notifier = notifier.clone();
                tokio::spawn(async move {
                    let key = notification.key.clone();
                    if let Err(e) = notifier.process(&notification).await {
                        tracing::warn!(error = %e, key = %key, "delivery interrupted; the relay retries after the lease");
                    }
                    notifier.queued.lock().expect("queued lock").remove(&key);
                    drop(permit);
                });
            }
        });
        lanes.insert(channel_id, sender.clone());
        sender
    }

    /// Channel `id`, from a short-lived cache.
    async fn channel(&self, id: u64) -> Result<Option<channels::Channel>> {
        if let Some((loaded, channel)) = self.channels.lock().expect("channels lock").get(&id)
            && loaded.elapsed() < CHANNEL_CACHE_TTL
        {
            return Ok(channel.clone());
        }
        let channel = channels::load(&self.pool, self.sealer.as_ref(), id).await?;
        self.channels
            .lock()
            .expect("channels lock")
            .insert(id, (Instant::now(), channel.clone()));
        Ok(channel)
    }

    /// Claims, delivers and records one notification (a lane worker's job). Public so
    /// tests can stop exactly where a killed notifier would.
    ///
    /// # Errors
    /// MySQL errors (the caller requeues; a claim taken meanwhile expires with its lease).
    pub async fn process(&self, notification: &Notification) -> Result<Outcome> {
        let key = notification.key.as_str();
        let attempt = match outbox::claim(&self.pool, key, self.options.lease).await? {
            Claim::Send { attempt } => attempt,
            Claim::Done => return Ok(Outcome::AlreadyDone),
            Claim::Elsewhere => return Ok(Outcome::Elsewhere),
            Claim::Missing => {
                tracing::warn!(key, "notification not found in MySQL: dropped");
                return Ok(Outcome::Missing);
            }
        };
        let channel = match self.channel(notification.channel_id).await {
            Ok(Some(channel)) if channel.enabled => channel,
            Ok(found) => {
                let why = if found.is_some() {
                    "channel disabled"
                } else {
                    "channel deleted"
                };
                outbox::mark_final(&self.pool, key, "skipped", why).await?;
                self.metrics
                    .deliveries
                    .with_label_values(&["unknown", "skipped"])
                    .inc();
                tracing::info!(key, why, "notification skipped");
                return Ok(Outcome::Skipped);
            }
            Err(Error::Channel { channel, message }) => {
                let error = format!("channel {channel} is unusable: {message}");
                return self.give_up(notification, "unknown", &error).await;
            }
            Err(e) => return Err(e),
        };
        let started = Instant::now();
        let result = self.sender.send(&channel, notification).await;
        self.metrics
            .delivery_duration
            .observe(started.elapsed().as_secs_f64());
        let channel_type = channel.channel_type.as_str();
        let (permanent, error) = match result {
            Ok(()) => {
                outbox::mark_sent(&self.pool, key).await?;
                self.metrics
                    .deliveries
                    .with_label_values(&[channel_type, "sent"])
                    .inc();
                tracing::info!(
                    key,
                    channel = %channel.name,
                    monitor = %format!("{}/{}", notification.monitor.namespace, notification.monitor.name),
                    kind = notification.kind.as_str(),
                    attempt,
                    "notification sent"
                );
                return Ok(Outcome::Sent);
            }
            Err(Error::Delivery { permanent, message }) => (permanent, message),
            Err(other) => (false, other.to_string()),
        };
        if permanent || attempt >= self.options.max_attempts {
            let error = format!("{} (attempt {attempt}): {error}", channel.name);
            return self.give_up(notification, channel_type, &error).await;
        }
        let wait = self.backoff(attempt);
        outbox::mark_retry(&self.pool, key, &error, wait).await?;
        self.metrics
            .deliveries
            .with_label_values(&[channel_type, "retry"])
            .inc();
        tracing::warn!(key, channel = %channel.name, attempt, retry_in = ?wait, %error, "delivery failed; will retry");
        Ok(Outcome::Retry)
    }

    /// Dead-letters `notification` and marks it failed. The dead letter goes first: a
    /// crash in between means one more attempt later, never a failure without its letter.
    async fn give_up(
        &self,
        notification: &Notification,
        channel_type: &str,
        error: &str,
    ) -> Result<Outcome> {
        let body = contract::encode(notification);
        let message = [Outgoing {
            routing_key: QueueNames::NOTIFICATIONS_DEAD,
            body: &body,
            expiration_ms: None,
            message_id: &notification.key,
        }];
        if let Err(e) = self.dead.lock().await.publish(&message).await {
            tracing::warn!(error = %e, key = %notification.key, "failed to dead-letter; marked failed in MySQL anyway");
        }
        outbox::mark_final(&self.pool, &notification.key, "failed", error).await?;
        self.metrics
            .deliveries
            .with_label_values(&[channel_type, "failed"])
            .inc();
        self.metrics
            .dead_lettered
            .with_label_values(&[channel_type])
            .inc();
        tracing::error!(key = %notification.key, %error, "notification failed for good: dead-lettered");
        Ok(Outcome::Failed)
    }

    /// Capped exponential backoff with "equal jitter": half fixed, half random, so
    /// retries of many notifications to one recovering receiver spread out.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponential = self
            .options
            .retry_base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(20)))
            .min(self.options.retry_cap);
        exponential.mul_f64(rand::random_range(0.5..=1.0))
    }

    /// Queues every due notification (see [`outbox::due`]) that is not already queued
    /// here. Returns how many it queued.
    ///
    /// # Errors
    /// MySQL errors.
    pub async fn relay_once(self: &Arc<Self>) -> Result<usize> {
        let mut picked = 0;
        for payload in outbox::due(&self.pool, 500).await? {
            match contract::decode::<Notification>("notification", payload.as_bytes()) {
                Ok(notification) => {
                    if self
                        .queued
                        .lock()
                        .expect("queued lock")
                        .contains(&notification.key)
                    {
                        continue;
                    }
                    if self.enqueue(notification).await? == Outcome::Queued {
                        picked += 1;
                        self.metrics.relayed.inc();
                    }
                }
                Err(e) => tracing::warn!(error = %e, "stored notification does not decode"),
            }
        }
        Ok(picked)
    }

    async fn run_relay(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(self.options.relay_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticker.tick() => {
                    if let Err(e) = self.relay_once().await {
                        tracing::warn!(error = %e, "relay failed; trying again");
                    }
                }
            }
        }
    }
}
