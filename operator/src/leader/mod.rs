//! Leader election: exactly one replica runs the status sync (and, with later issues, the
//! scheduler and the checker autoscaler); the controllers run everywhere.
//!
//! ```text
//!  run_election ── every renew period ──► backend.try_acquire_or_renew(identity)
//!       │                                  ├─ Lease (coordination.k8s.io/v1) in a cluster
//!       │                                  └─ a `leader_leases` row in MySQL, standalone
//!       └─► watch::Sender<bool>  ──► "I lead" for the loops that need it
//! ```
//!
//! A leader that cannot renew (API or MySQL unreachable) steps down once its own lease
//! would have expired, so two leaders never overlap by more than clock drift. On shutdown
//! the leader releases the lease so a successor takes over at once instead of waiting.

pub mod kubernetes;
pub mod mysql;

use std::{future::Future, time::Duration};

use tokio::sync::watch;

use crate::Result;

/// Lease timing.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// How long a lease is valid without renewal.
    pub lease_duration: Duration,
    /// How often the holder renews (and candidates retry).
    pub renew_every: Duration,
}

impl Default for Timing {
    /// 15 s leases renewed every 5 s: a crashed leader is replaced within ~20 s.
    fn default() -> Self {
        Self {
            lease_duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }
}

/// A place where one holder at a time can hold a lease.
pub trait LeaseBackend: Send + Sync {
    /// Acquires the lease for `identity`, or renews it if `identity` holds it. Returns
    /// whether `identity` holds it afterwards.
    fn try_acquire_or_renew(
        &self,
        identity: &str,
        timing: Timing,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Gives the lease up if `identity` holds it.
    fn release(&self, identity: &str) -> impl Future<Output = Result<()>> + Send;
}

/// Runs the election for `identity` until `shutdown` resolves, publishing leadership on
/// `leading`. Releases the lease on the way out.
pub async fn run_election<B: LeaseBackend>(
    backend: B,
    identity: String,
    timing: Timing,
    leading: watch::Sender<bool>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let mut ticker = tokio::time::interval(timing.renew_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_renewal: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = ticker.tick() => {}
        }
        match backend.try_acquire_or_renew(&identity, timing).await {
            Ok(true) => {
                last_renewal = Some(tokio::time::Instant::now());
                if !*leading.borrow() {
                    tracing::info!(%identity, "became the leader");
                }
                leading.send_replace(true);
            }
            Ok(false) => {
                if *leading.borrow() {
                    tracing::warn!(%identity, "lost the leadership to another holder");
                }
                last_renewal = None;
                leading.send_replace(false);
            }
            Err(e) => {
                let expired = last_renewal.is_none_or(|at| at.elapsed() >= timing.lease_duration);
                tracing::warn!(%identity, error = %e, stepping_down = expired && *leading.borrow(), "failed to renew the lease");
                if expired {
                    leading.send_replace(false);
                }
            }
        }
    }
    let was_leading = leading.send_replace(false);
    if was_leading {
        match backend.release(&identity).await {
            Ok(()) => tracing::info!(%identity, "released the leadership"),
            Err(e) => tracing::warn!(%identity, error = %e, "failed to release the lease"),
        }
    }
}

/// A unique identity for this process: the pod name (`POD_NAME`, from the downward API) or
/// the host name, plus the process id and a random suffix, so two processes on one host
/// never share one.
pub fn identity() -> String {
    let host = std::env::var("POD_NAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "operator".to_string());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}-{}-{}", std::process::id(), &suffix[..8])
}
