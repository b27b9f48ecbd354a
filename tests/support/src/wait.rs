//! Waiting for a condition with a deadline, instead of sleeping and hoping.

use std::{future::Future, time::Duration};

/// Polls `check` every 20 ms until it returns `Some`, or panics after `timeout` with
/// `what` in the message.
///
/// # Panics
/// When the deadline passes.
pub async fn until<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
