//! A publisher with RabbitMQ publisher confirms: a message counts as sent only when the
//! broker has confirmed it (persisted and routed to a durable queue). Both the scheduler
//! (check batches) and alert evaluation (notifications) publish through it.
//!
//! The connection is opened lazily and dropped on any error, so the next call reconnects;
//! the caller decides what an error means (the scheduler does not advance the slot,
//! evaluation leaves the notification to the outbox relay).

use lapin::{
    BasicProperties, Channel, Connection,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};

use super::{QueueType, connect, declare_topology};
use crate::{Error, Result};

/// Delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// One message to publish.
#[derive(Clone, Debug)]
pub struct Outgoing<'a> {
    /// Routing key on the exchange (the queue's name for our direct exchanges).
    pub routing_key: &'a str,
    /// JSON body.
    pub body: &'a [u8],
    /// Per-message expiry in milliseconds, if any.
    pub expiration_ms: Option<u64>,
    /// Message id (for tracing through the broker).
    pub message_id: &'a str,
}

/// A confirming publisher on one exchange.
pub struct ConfirmingPublisher {
    url: String,
    queue_type: QueueType,
    exchange: &'static str,
    open: Option<(Connection, Channel)>,
}

impl ConfirmingPublisher {
    /// A publisher to `exchange` on the broker at `url` (connects on first use).
    pub fn new(url: impl Into<String>, queue_type: QueueType, exchange: &'static str) -> Self {
        Self {
            url: url.into(),
            queue_type,
            exchange,
            open: None,
        }
    }

    /// Another publisher with the same settings and its own connection (opened on first
    /// use), for publishing from several tasks at once.
    pub fn sibling(&self) -> Self {
        Self::new(self.url.clone(), self.queue_type, self.exchange)
    }

    /// Whether a connection is currently open.
    pub fn connected(&self) -> bool {
        self.open
            .as_ref()
            .is_some_and(|(connection, _)| connection.status().connected())
    }

    async fn channel(&mut self) -> Result<Channel> {
        if !self.connected() {
            self.open = None;
            let connection = connect(&self.url).await?;
            let channel = connection.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            declare_topology(&channel, self.queue_type).await?;
            self.open = Some((connection, channel));
        }
        Ok(self.open.as_ref().expect("just opened").1.clone())
    }

    /// Publishes every message (persistent, mandatory) and waits for all confirms. On any
    /// failure the connection is dropped and an error returned: the caller must treat none
    /// of the messages as sent (some may have been, so consumers must be idempotent).
    ///
    /// # Errors
    /// [`Error::Amqp`] (connection or publish) or [`Error::NotConfirmed`].
    pub async fn publish(&mut self, messages: &[Outgoing<'_>]) -> Result<()> {
        let result = self.publish_all(messages).await;
        if result.is_err() {
            self.open = None;
        }
        result
    }

    async fn publish_all(&mut self, messages: &[Outgoing<'_>]) -> Result<()> {
        let channel = self.channel().await?;
        let mut confirms = Vec::with_capacity(messages.len());
        for message in messages {
            let mut properties = BasicProperties::default()
                .with_delivery_mode(PERSISTENT)
                .with_content_type("application/json".into())
                .with_message_id(message.message_id.into());
            if let Some(expiration_ms) = message.expiration_ms {
                properties = properties.with_expiration(expiration_ms.to_string().into());
            }
            let confirm = channel
                .basic_publish(
                    self.exchange.into(),
                    message.routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    message.body,
                    properties,
                )
                .await?;
            confirms.push(confirm);
        }
        for confirm in confirms {
            let confirmation = confirm.await?;
            if !confirmation.is_ack() || confirmation.take_message().is_some() {
                return Err(Error::NotConfirmed);
            }
        }
        Ok(())
    }
}
