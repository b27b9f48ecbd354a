//! What every reconcile shares: the client, the MySQL store, the Event recorder, metrics,
//! and per-object retry state.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use kube::{
    Client,
    runtime::events::{Recorder, Reporter},
};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

use super::references::ApiReferences;
use crate::store::Store;

/// The finalizer that makes deletion wait until the object's rows are removed.
pub const FINALIZER: &str = "uptimesentinel.io/cleanup";
/// Server-side-apply field manager of the controllers' status writes (`observedGeneration`,
/// `conditions`). The status sync uses its own, so the two never overwrite each other.
pub const FIELD_MANAGER: &str = "uptime-sentinel-operator";

/// First retry delay after a transient failure; doubles per failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(2);
/// The longest wait between retries of a failing object.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Shared by all reconciles.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// MySQL writes.
    pub store: Store,
    /// Channel and Secret lookups through the API.
    pub references: ApiReferences,
    /// Publishes Events on the objects.
    pub recorder: Recorder,
    /// Reconcile metrics.
    pub metrics: Metrics,
    /// Consecutive failures per object uid, for exponential backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    /// A context whose Events are reported as `reporter` (controller name and pod).
    pub fn new(client: Client, store: Store, reporter: Reporter, metrics: Metrics) -> Self {
        Self {
            references: ApiReferences::new(client.clone()),
            recorder: Recorder::new(client.clone(), reporter),
            client,
            store,
            metrics,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure of `uid` and returns how long to wait before retrying.
    pub fn backoff(&self, uid: &str) -> Duration {
        let mut failures = self.failures.lock().expect("failures lock");
        let count = failures.entry(uid.to_string()).or_default();
        *count = count.saturating_add(1);
        let factor = 2u32.saturating_pow(count.saturating_sub(1).min(16));
        FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
    }

    /// Forgets the failures of `uid` after a success.
    pub fn succeeded(&self, uid: &str) {
        self.failures.lock().expect("failures lock").remove(uid);
    }
}

/// Reconcile metrics, registered in the operator's registry.
#[derive(Clone)]
pub struct Metrics {
    /// Reconciles by kind.
    pub reconciles: IntCounterVec,
    /// Failed reconciles by kind and reason (the `Ready=False` reason: a bounded set).
    pub failures: IntCounterVec,
    /// Reconcile duration by kind.
    pub duration: HistogramVec,
}

impl Metrics {
    /// Creates and registers the metrics.
    ///
    /// # Panics
    /// When registered twice in the same registry (a programming error).
    pub fn register(registry: &Registry) -> Self {
        let reconciles = IntCounterVec::new(
            Opts::new("sentinel_operator_reconciles_total", "Reconciles by kind"),
            &["kind"],
        )
        .expect("valid metric");
        let failures = IntCounterVec::new(
            Opts::new(
                "sentinel_operator_reconcile_failures_total",
                "Failed reconciles by kind and reason",
            ),
            &["kind", "reason"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "sentinel_operator_reconcile_duration_seconds",
                "Reconcile duration by kind",
            )
            .buckets(vec![0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0]),
            &["kind"],
        )
        .expect("valid metric");
        for metric in [
            Box::new(reconciles.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(failures.clone()),
            Box::new(duration.clone()),
        ] {
            registry.register(metric).expect("metrics registered once");
        }
        Self {
            reconciles,
            failures,
            duration,
        }
    }
}
