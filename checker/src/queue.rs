//! The consume loop both modes share (checks and notifications): manual acks under a
//! prefetch limit, one task per delivery, reconnect with capped backoff when the
//! connection drops, and a graceful drain on shutdown.
//!
//! On shutdown the consumer is cancelled first (no new deliveries), in-flight ones finish
//! within the drain timeout (their handlers ack), then the loop returns; anything still
//! unfinished is dropped unacked and RabbitMQ redelivers it.

use std::{sync::Arc, time::Duration};

use common::amqp;
use futures::{StreamExt, future::BoxFuture};
use lapin::{
    message::Delivery,
    options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions},
    types::FieldTable,
};
use tokio::task::JoinSet;

use crate::Result;

/// Handles one delivery, including its ack, nack or reject.
pub type Handler = Arc<dyn Fn(Delivery) -> BoxFuture<'static, ()> + Send + Sync>;

/// What to consume and how.
#[derive(Clone, Copy, Debug)]
pub struct Consume {
    /// Queue name.
    pub queue: &'static str,
    /// Consumer tag prefix (`checker`, `notifier`).
    pub tag: &'static str,
    /// Unacked deliveries held at once.
    pub prefetch: u16,
    /// How long shutdown waits for in-flight deliveries.
    pub drain_timeout: Duration,
}

/// Consumes until `shutdown`, reconnecting when the connection drops. `connected` reports
/// whether a consumer is active (for `/readyz`).
pub async fn run(
    amqp_url: &str,
    queue_type: amqp::QueueType,
    consume: Consume,
    handler: Handler,
    connected: tokio::sync::watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()> + Clone,
) {
    loop {
        let Some(connection) = amqp::connect_with_backoff(amqp_url, shutdown.clone()).await else {
            return;
        };
        match consume_once(
            &connection,
            queue_type,
            consume,
            &handler,
            &connected,
            shutdown.clone(),
        )
        .await
        {
            Ok(()) => {
                connected.send_replace(false);
                let _ = connection.close(200, "shutdown".into()).await;
                return;
            }
            Err(e) => {
                connected.send_replace(false);
                tracing::warn!(error = %e, queue = consume.queue, "lost the RabbitMQ consumer; reconnecting");
            }
        }
    }
}

/// One connection's worth of consuming. `Ok` on shutdown, `Err` when the connection or
/// channel failed.
async fn consume_once(
    connection: &lapin::Connection,
    queue_type: amqp::QueueType,
    consume: Consume,
    handler: &Handler,
    connected: &tokio::sync::watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(consume.prefetch, BasicQosOptions::default())
        .await?;
    amqp::declare_topology(&channel, queue_type).await?;
    let tag = format!("{}-{}", consume.tag, uuid::Uuid::new_v4().simple());
    let mut consumer = channel
        .basic_consume(
            consume.queue.into(),
            tag.as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    connected.send_replace(true);
    tracing::info!(
        queue = consume.queue,
        prefetch = consume.prefetch,
        "consuming"
    );
    tokio::pin!(shutdown);
    let mut in_flight = JoinSet::new();
    let outcome = loop {
        tokio::select! {
            () = &mut shutdown => {
                let _ = channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
                break Ok(());
            }
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => {
                    in_flight.spawn(handler(delivery));
                }
                Some(Err(e)) => break Err(e.into()),
                None => break Err(lapin::Error::from(lapin::ErrorKind::InvalidConnectionState(
                    lapin::ConnectionState::Closed,
                )).into()),
            },
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
        }
    };
    let drained = tokio::time::timeout(consume.drain_timeout, async {
        while in_flight.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = in_flight.len(),
            queue = consume.queue,
            "drain timeout: unfinished deliveries return to the queue"
        );
        in_flight.abort_all();
    }
    outcome
}
