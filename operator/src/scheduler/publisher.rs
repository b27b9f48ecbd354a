//! Publishing check batches with publisher confirms: a batch counts as dispatched only
//! when RabbitMQ has confirmed it (persisted, routed to the durable `checks` queue).
//!
//! The connection is opened lazily and dropped on any error; the scheduler reconnects on
//! its next tick after a capped backoff, so a RabbitMQ outage never advances a slot that
//! was not confirmed.

use common::amqp::{self, QueueType};
use crds::contract::{self, CheckBatch, QueueNames};
use lapin::{
    BasicProperties, Channel, Connection,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};

use crate::{Error, Result};

/// Delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// A confirming publisher to the `checks` queue.
pub struct Publisher {
    url: String,
    queue_type: QueueType,
    open: Option<(Connection, Channel)>,
}

impl Publisher {
    /// A publisher for the broker at `url` (connects on first use).
    pub fn new(url: impl Into<String>, queue_type: QueueType) -> Self {
        Self {
            url: url.into(),
            queue_type,
            open: None,
        }
    }

    /// Whether a connection is currently open.
    pub fn connected(&self) -> bool {
        self.open
            .as_ref()
            .is_some_and(|(connection, _)| connection.status().connected())
    }

    async fn channel(&mut self) -> Result<&Channel> {
        if !self.connected() {
            self.open = None;
            let connection = amqp::connect(&self.url).await.map_err(Error::Amqp)?;
            let channel = connection.create_channel().await.map_err(amqp_error)?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(amqp_error)?;
            amqp::declare_topology(&channel, self.queue_type)
                .await
                .map_err(Error::Amqp)?;
            self.open = Some((connection, channel));
        }
        Ok(&self.open.as_ref().expect("just opened").1)
    }

    /// Publishes every batch (persistent, expiring after `expiration_ms` each) and waits
    /// for all confirms. On any failure the connection is dropped and an error returned:
    /// the caller must not treat any of the batches as dispatched.
    ///
    /// # Errors
    /// [`Error::Amqp`] (connection, publish, or a negative confirm).
    pub async fn publish(&mut self, batches: &[(CheckBatch, u64)]) -> Result<()> {
        let result = self.publish_all(batches).await;
        if result.is_err() {
            self.open = None;
        }
        result
    }

    async fn publish_all(&mut self, batches: &[(CheckBatch, u64)]) -> Result<()> {
        let channel = self.channel().await?.clone();
        let mut confirms = Vec::with_capacity(batches.len());
        for (batch, expiration_ms) in batches {
            let properties = BasicProperties::default()
                .with_delivery_mode(PERSISTENT)
                .with_content_type("application/json".into())
                .with_expiration(expiration_ms.to_string().into())
                .with_message_id(batch.batch_id.to_string().into());
            let confirm = channel
                .basic_publish(
                    QueueNames::EXCHANGE.into(),
                    QueueNames::CHECKS.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &contract::encode(batch),
                    properties,
                )
                .await
                .map_err(amqp_error)?;
            confirms.push(confirm);
        }
        for confirm in confirms {
            let confirmation = confirm.await.map_err(amqp_error)?;
            if !confirmation.is_ack() || confirmation.take_message().is_some() {
                return Err(Error::NotConfirmed);
            }
        }
        Ok(())
    }
}

fn amqp_error(error: lapin::Error) -> Error {
    Error::Amqp(common::Error::Amqp(error))
}
