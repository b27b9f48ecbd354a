//! One shutdown signal for every task: SIGTERM (from the kubelet) or Ctrl-C.

use futures::{FutureExt, future::Shared};
use tokio::sync::watch;

/// A future that resolves on shutdown; clone it into every task.
pub type Shutdown = Shared<futures::future::BoxFuture<'static, ()>>;

/// Starts listening for SIGTERM and Ctrl-C; returns the shared future and a trigger that
/// tests (or fatal errors) can fire too.
pub fn on_signal() -> (Shutdown, watch::Sender<bool>) {
    let (trigger, mut fired) = watch::channel(false);
    let signal_trigger = trigger.clone();
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut sigterm) => {
                    sigterm.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        tracing::info!("shutdown requested");
        signal_trigger.send_replace(true);
    });
    let future = async move {
        let _ = fired.wait_for(|v| *v).await;
    }
    .boxed()
    .shared();
    (future, trigger)
}
