//! RabbitMQ: connecting with capped exponential backoff, and the topology every component
//! relies on, declared idempotently by whichever starts first.
//!
//! ```text
//!  exchange "sentinel" (direct) ──checks──────────► queue "checks" ──(expired, rejected)──┐
//!                               ──notifications───► queue "notifications" ──(dead)───────┤
//!  exchange "sentinel.dead" (direct) ◄────────────────────────────────────────────────────┘
//!        ├─checks.dead──────► queue "checks.dead"
//!        └─notifications.dead► queue "notifications.dead"
//! ```
//!
//! Queues are durable; messages are published persistent. The queue type is `classic` by
//! default; `quorum` (replicated, for a RabbitMQ cluster) is an option, and needs RabbitMQ
//! 3.12 or later for per-message expiry with dead-lettering. A queue's type cannot change
//! after it exists: switching means deleting the queues (drained) first.

use std::time::Duration;

use crds::contract::QueueNames;
use lapin::{
    Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions},
    types::{AMQPValue, FieldTable, LongString},
};

use crate::Result;

mod publisher;

pub use publisher::{ConfirmingPublisher, Outgoing};

/// Queue type of the durable queues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueType {
    /// Single-node classic queues (the default).
    #[default]
    Classic,
    /// Raft-replicated quorum queues.
    Quorum,
}

impl std::str::FromStr for QueueType {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Self, Self::Err> {
        match text {
            "classic" => Ok(Self::Classic),
            "quorum" => Ok(Self::Quorum),
            other => Err(format!("unknown queue type {other:?} (classic or quorum)")),
        }
    }
}

impl QueueType {
    fn name(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        }
    }
}

/// The first wait after a failed connection attempt; doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between connection attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The wait before attempt `attempt` (0-based): capped exponential.
pub fn backoff(attempt: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(2u32.saturating_pow(attempt.min(16)))
        .min(MAX_BACKOFF)
}

/// One connection attempt.
///
/// # Errors
/// [`crate::Error::Amqp`].
pub async fn connect(url: &str) -> Result<Connection> {
    Ok(Connection::connect(url, ConnectionProperties::default()).await?)
}

/// Connects, retrying with [`backoff`] until it works or `shutdown` resolves (then
/// `None`).
pub async fn connect_with_backoff(
    url: &str,
    shutdown: impl std::future::Future<Output = ()>,
) -> Option<Connection> {
    tokio::pin!(shutdown);
    let mut attempt = 0;
    loop {
        match connect(url).await {
            Ok(connection) => {
                if attempt > 0 {
                    tracing::info!(attempts = attempt + 1, "connected to RabbitMQ");
                }
                return Some(connection);
            }
            Err(e) => {
                let wait = backoff(attempt);
                tracing::warn!(error = %e, retry_in = ?wait, "failed to connect to RabbitMQ");
                attempt += 1;
                tokio::select! {
                    () = &mut shutdown => return None,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// Declares the exchanges, queues and bindings (a no-op when they exist as declared).
///
/// # Errors
/// [`crate::Error::Amqp`], e.g. when a queue exists with another type.
pub async fn declare_topology(channel: &Channel, queue_type: QueueType) -> Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    for exchange in [QueueNames::EXCHANGE, QueueNames::DEAD_LETTER_EXCHANGE] {
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
    }
    let options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    for (queue, dead) in [
        (QueueNames::CHECKS, QueueNames::CHECKS_DEAD),
        (QueueNames::NOTIFICATIONS, QueueNames::NOTIFICATIONS_DEAD),
    ] {
        let mut dead_arguments = FieldTable::default();
        dead_arguments.insert("x-queue-type".into(), text(queue_type.name()));
        channel
            .queue_declare(dead.into(), options, dead_arguments)
            .await?;
        channel
            .queue_bind(
                dead.into(),
                QueueNames::DEAD_LETTER_EXCHANGE.into(),
                dead.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut arguments = FieldTable::default();
        arguments.insert("x-queue-type".into(), text(queue_type.name()));
        arguments.insert(
            "x-dead-letter-exchange".into(),
            text(QueueNames::DEAD_LETTER_EXCHANGE),
        );
        arguments.insert("x-dead-letter-routing-key".into(), text(dead));
        channel
            .queue_declare(queue.into(), options, arguments)
            .await?;
        channel
            .queue_bind(
                queue.into(),
                QueueNames::EXCHANGE.into(),
                queue.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// Messages ready in `queue` and its consumers, by a passive declare (exact, unlike the
/// management API's sampled figures).
///
/// # Errors
/// [`crate::Error::Amqp`] (also when the queue does not exist: the channel is then closed).
pub async fn queue_depth(channel: &Channel, queue: &str) -> Result<(u32, u32)> {
    let declared = channel
        .queue_declare(
            queue.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    Ok((declared.message_count(), declared.consumer_count()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(250));
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_secs(2));
        assert_eq!(backoff(20), MAX_BACKOFF);
    }

    #[tokio::test]
    async fn declaring_the_topology_twice_is_harmless_and_routes_expired_checks_to_the_dead_queue()
    {
        use lapin::{BasicProperties, options::BasicPublishOptions};
        let vhost = sentinel_testkit::TestVhost::create().await;
        let connection = connect(&vhost.amqp_url).await.unwrap();
        let channel = connection.create_channel().await.unwrap();
        declare_topology(&channel, QueueType::Classic)
            .await
            .unwrap();
        declare_topology(&channel, QueueType::Classic)
            .await
            .unwrap();
        channel
            .confirm_select(lapin::options::ConfirmSelectOptions::default())
            .await
            .unwrap();
        channel
            .basic_publish(
                QueueNames::EXCHANGE.into(),
                QueueNames::CHECKS.into(),
                BasicPublishOptions::default(),
                b"stale",
                BasicProperties::default().with_expiration("1".into()),
            )
            .await
            .unwrap()
            .await
            .unwrap();
        sentinel_testkit::wait::until(
            "the expired check to be dead-lettered",
            Duration::from_secs(5),
            || async {
                let (dead, _) = queue_depth(&channel, QueueNames::CHECKS_DEAD).await.ok()?;
                (dead == 1).then_some(())
            },
        )
        .await;
        assert_eq!(
            queue_depth(&channel, QueueNames::CHECKS).await.unwrap().0,
            0
        );
    }
}
