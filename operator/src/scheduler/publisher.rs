//! Publishing check batches with publisher confirms: a batch counts as dispatched only
//! when RabbitMQ has confirmed it (persisted, routed to the durable `checks` queue).
//!
//! The connection is opened lazily and dropped on any error; the scheduler reconnects on
//! its next tick after a capped backoff, so a RabbitMQ outage never advances a slot that
//! was not confirmed.

use common::amqp::{ConfirmingPublisher, Outgoing, QueueType};
use crds::contract::{self, CheckBatch, QueueNames};

use crate::{Error, Result};

/// A confirming publisher to the `checks` queue.
pub struct Publisher {
    inner: ConfirmingPublisher,
}

impl Publisher {
    /// A publisher for the broker at `url` (connects on first use).
    pub fn new(url: impl Into<String>, queue_type: QueueType) -> Self {
        Self {
            inner: ConfirmingPublisher::new(url, queue_type, QueueNames::EXCHANGE),
        }
    }

    /// Another publisher to the same broker with its own connection (one per dispatch
    /// worker, so their confirms do not wait on each other).
    pub fn sibling(&self) -> Self {
        Self {
            inner: self.inner.sibling(),
        }
    }

    /// Whether a connection is currently open.
    pub fn connected(&self) -> bool {
        self.inner.connected()
    }

    /// Publishes every batch (persistent, expiring after `expiration_ms` each) and waits
    /// for all confirms. On any failure the caller must not treat any of the batches as
    /// dispatched.
    ///
    /// # Errors
    /// [`Error::Amqp`] (connection, publish) or [`Error::NotConfirmed`].
    pub async fn publish(&mut self, batches: &[(CheckBatch, u64)]) -> Result<()> {
        let encoded: Vec<(Vec<u8>, String, u64)> = batches
            .iter()
            .map(|(batch, expiration_ms)| {
                (
                    contract::encode(batch),
                    batch.batch_id.to_string(),
                    *expiration_ms,
                )
            })
            .collect();
        let messages: Vec<Outgoing<'_>> = encoded
            .iter()
            .map(|(body, id, expiration_ms)| Outgoing {
                routing_key: QueueNames::CHECKS,
                body,
                expiration_ms: Some(*expiration_ms),
                message_id: id,
            })
            .collect();
        self.inner.publish(&messages).await.map_err(|e| match e {
            common::Error::NotConfirmed => Error::NotConfirmed,
            other => Error::Amqp(other),
        })
    }
}
