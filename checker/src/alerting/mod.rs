//! Alert evaluation: runs in the checker, inside the transaction that applies a batch's
//! results to monitor state, so state, incidents and raised notifications commit together.
//!
//! ```text
//!  result ─► state::apply ─► Transition{from, to, failures}
//!     to Down:       open the incident (first failure) ─► rules (failures ≥ threshold,
//!                    Redis cooldown) + escalation levels (failures == afterFailures)
//!     Down → Up:     resolve the incident ─► Recovery/Both rules, escalated channels
//!  ─► INSERT IGNORE into `notifications` (idempotency key UNIQUE) ─► commit
//!  ─► publish the new ones to RabbitMQ "notifications" (after commit; the notifier's relay
//!     delivers any whose publish was lost)
//! ```
//!
//! Why this is exactly-once in effect: a redelivered batch or a second replica finds the
//! slot already applied (`last_slot`, under the state row lock) and evaluates nothing; if
//! the transaction rolls back, nothing was raised and the redelivery evaluates again to
//! the same keys. Pending monitors raise nothing until their first result.
//!
//! Module map: `rules` (cache of rules and policies), `evaluate` (pure decisions),
//! `cooldown` (Redis limiter), `incidents` (MySQL).

pub mod cooldown;
pub mod evaluate;
pub mod incidents;
pub mod rules;

use std::sync::Arc;

use chrono::Utc;
use common::amqp::{ConfirmingPublisher, Outgoing, QueueType};
use crds::{
    Health,
    contract::{self, MonitorRef, Notification, QueueNames, TelemetryRecord},
};
use sqlx::MySqlConnection;

use crate::{Result, metrics::Metrics, notify::outbox, state::State, state::Transition};
use cooldown::Cooldown;
use evaluate::Candidate;
use incidents::Incident;
use rules::{MonitorInfo, RuleCache};

/// Evaluates transitions against the cached rules.
pub struct Evaluator {
    rules: Arc<RuleCache>,
    cooldown: Cooldown,
    publisher: tokio::sync::Mutex<ConfirmingPublisher>,
    metrics: Metrics,
}

impl Evaluator {
    /// An evaluator reading `rules`, limiting with `cooldown`, publishing to `amqp_url`.
    pub fn new(
        rules: Arc<RuleCache>,
        cooldown: Cooldown,
        amqp_url: &str,
        queue_type: QueueType,
        metrics: Metrics,
    ) -> Self {
        Self {
            rules,
            cooldown,
            publisher: tokio::sync::Mutex::new(ConfirmingPublisher::new(
                amqp_url,
                queue_type,
                QueueNames::EXCHANGE,
            )),
            metrics,
        }
    }

    /// The rule cache (refreshed by its own task).
    pub fn rules(&self) -> &Arc<RuleCache> {
        &self.rules
    }

    /// Evaluates one applied result. `before` is the state before it, `after` the state
    /// after it (its `current_incident_id` is updated here). Returns the notifications
    /// newly raised (already inserted in `tx`).
    ///
    /// # Errors
    /// MySQL or Redis errors: the caller rolls back and the batch is redelivered.
    pub async fn evaluate(
        &self,
        tx: &mut MySqlConnection,
        monitor: &MonitorInfo,
        before: &State,
        after: &mut State,
        transition: &Transition,
        record: &TelemetryRecord,
    ) -> Result<Vec<Notification>> {
        let set = self.rules.get();
        let mut incident: Option<Incident> = None;
        let candidates = match (transition.from, transition.to) {
            (from, Health::Down) => {
                let incident_id = match (&before.current_incident_id, from) {
                    (Some(id), Health::Down) => id.clone(),
                    _ => {
                        let opened = incidents::open(tx, monitor.id, record).await?;
                        self.metrics.incidents.with_label_values(&["opened"]).inc();
                        let id = opened.id.clone();
                        incident = Some(opened);
                        id
                    }
                };
                after.current_incident_id = Some(incident_id.clone());
                let mut allowed = Vec::new();
                for candidate in evaluate::on_failure(
                    &set,
                    monitor,
                    &incident_id,
                    transition.consecutive_failures,
                ) {
                    if let Some((rule_id, cooldown_ms)) = candidate.cooldown
                        && !self
                            .cooldown
                            .try_acquire(
                                rule_id,
                                monitor.id,
                                transition.slot,
                                cooldown_ms,
                                &candidate.key,
                            )
                            .await?
                    {
                        continue;
                    }
                    allowed.push(candidate);
                }
                allowed
            }
            (Health::Down, Health::Up) => {
                let Some(incident_id) = after.current_incident_id.take() else {
                    return Ok(Vec::new());
                };
                incident = incidents::resolve(
                    tx,
                    &incident_id,
                    transition.slot,
                    before.consecutive_failures,
                )
                .await?;
                self.metrics
                    .incidents
                    .with_label_values(&["resolved"])
                    .inc();
                let escalated = outbox::escalated_channels(tx, &incident_id).await?;
                evaluate::on_recovery(
                    &set,
                    monitor,
                    &incident_id,
                    before.consecutive_failures,
                    &escalated,
                )
            }
            _ => Vec::new(),
        };
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let incident = match incident {
            Some(incident) => incident,
            None => {
                let id = after
                    .current_incident_id
                    .as_deref()
                    .expect("failures carry an incident");
                incidents::get(tx, id).await?.unwrap_or_else(|| Incident {
                    id: id.to_string(),
                    opened_at: transition.slot,
                    first_error: record.error.clone(),
                    first_error_kind: record.error_kind,
                })
            }
        };
        let mut raised = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let notification = build(candidate, monitor, &incident, transition);
            if outbox::insert(tx, &notification).await? {
                self.metrics
                    .notifications_raised
                    .with_label_values(&[notification.kind.as_str()])
                    .inc();
                raised.push(notification);
            }
        }
        Ok(raised)
    }

    /// Publishes committed notifications. A failure is logged, not returned: the rows are
    /// committed and the notifier's relay delivers them after its grace period.
    pub async fn publish(&self, notifications: &[Notification]) {
        if notifications.is_empty() {
            return;
        }
        if let Err(e) = publish(&mut *self.publisher.lock().await, notifications).await {
            tracing::warn!(error = %e, count = notifications.len(), "failed to publish notifications; the notifier's relay will deliver them");
        }
    }
}

/// Publishes `notifications` to the `notifications` queue and waits for the confirms.
///
/// # Errors
/// RabbitMQ errors or a missing confirm.
pub async fn publish(
    publisher: &mut ConfirmingPublisher,
    notifications: &[Notification],
) -> common::Result<()> {
    let bodies: Vec<Vec<u8>> = notifications.iter().map(contract::encode).collect();
    let messages: Vec<Outgoing<'_>> = notifications
        .iter()
        .zip(&bodies)
        .map(|(n, body)| Outgoing {
            routing_key: QueueNames::NOTIFICATIONS,
            body,
            expiration_ms: None,
            message_id: &n.key,
        })
        .collect();
    publisher.publish(&messages).await
}

fn build(
    candidate: Candidate,
    monitor: &MonitorInfo,
    incident: &Incident,
    transition: &Transition,
) -> Notification {
    Notification {
        v: contract::VERSION,
        key: candidate.key,
        kind: candidate.kind,
        level: candidate.level,
        channel_id: candidate.channel_id,
        incident_id: incident.id.clone(),
        monitor: MonitorRef {
            id: monitor.id,
            namespace: monitor.namespace.clone(),
            name: monitor.name.clone(),
            url: monitor.url.clone(),
        },
        consecutive_failures: transition.consecutive_failures,
        since: incident.opened_at,
        error: incident.first_error.clone(),
        error_kind: incident.first_error_kind,
        slot: transition.slot,
        created_at: Utc::now(),
    }
}
