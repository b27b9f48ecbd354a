//! The checker's Prometheus metrics.

use crds::contract::{ErrorKind, TelemetryRecord};
use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts, Registry};

/// All metrics of the checker.
#[derive(Clone)]
pub struct Metrics {
    /// Checks by result (`ok` / `failed`) and error kind (empty when ok).
    pub checks: IntCounterVec,
    /// Total check latency.
    pub latency: Histogram,
    /// Check start minus slot time.
    pub schedule_lag: Histogram,
    /// Checks running now.
    pub in_flight: IntGauge,
    /// Time from receiving a batch to acking it.
    pub batch_duration: Histogram,
    /// Batches by outcome: `acked`, `requeued` (Redis or MySQL failed), `rejected` (malformed).
    pub batches: IntCounterVec,
    /// Incidents by event: `opened`, `resolved`.
    pub incidents: IntCounterVec,
    /// Notifications raised by evaluation, by kind.
    pub notifications_raised: IntCounterVec,
}

/// Metrics of the notifier (`checker notify`).
#[derive(Clone)]
pub struct NotifierMetrics {
    /// Delivery attempts by channel type and outcome: `sent`, `retry`, `failed`, `skipped`.
    pub deliveries: IntCounterVec,
    /// Notifications dead-lettered (every attempt failed, or a permanent error).
    pub dead_lettered: IntCounterVec,
    /// Time one delivery attempt took.
    pub delivery_duration: Histogram,
    /// Notifications the relay picked up (retries, lost publishes, expired leases).
    pub relayed: prometheus::IntCounter,
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

impl NotifierMetrics {
    /// Creates and registers the metrics.
    ///
    /// # Panics
    /// When registered twice in one registry.
    pub fn register(registry: &Registry) -> Self {
        let deliveries = counter_vec(
            "sentinel_notifier_deliveries_total",
            "Delivery attempts by channel type and outcome: sent, retry, failed, skipped",
            &["channel_type", "outcome"],
        );
        let dead_lettered = counter_vec(
            "sentinel_notifier_dead_lettered_total",
            "Notifications given up on and dead-lettered, by channel type",
            &["channel_type"],
        );
        let delivery_duration = Histogram::with_opts(
            HistogramOpts::new(
                "sentinel_notifier_delivery_duration_seconds",
                "One delivery attempt",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
        )
        .expect("valid metric");
        let relayed = prometheus::IntCounter::new(
            "sentinel_notifier_relayed_total",
            "Notifications delivered by the relay (retries, lost publishes, expired leases)",
        )
        .expect("valid metric");
        for metric in [
            Box::new(deliveries.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(dead_lettered.clone()),
            Box::new(delivery_duration.clone()),
            Box::new(relayed.clone()),
        ] {
            registry.register(metric).expect("metrics registered once");
        }
        Self {
            deliveries,
            dead_lettered,
            delivery_duration,
            relayed,
        }
    }
}

const LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

impl Metrics {
    /// Creates and registers the metrics.
    ///
    /// # Panics
    /// When registered twice in one registry.
    pub fn register(registry: &Registry) -> Self {
        let checks = IntCounterVec::new(
            Opts::new(
                "sentinel_checker_checks_total",
                "Checks by result and error kind",
            ),
            &["result", "error_kind"],
        )
        .expect("valid metric");
        let histogram = |name: &str, help: &str| {
            Histogram::with_opts(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()))
                .expect("valid metric")
        };
        let latency = histogram(
            "sentinel_checker_check_duration_seconds",
            "Total latency of a check",
        );
        let schedule_lag = histogram(
            "sentinel_checker_schedule_lag_seconds",
            "Check start minus its slot time",
        );
        let batch_duration = histogram(
            "sentinel_checker_batch_duration_seconds",
            "Receiving a batch to acking it",
        );
        let in_flight = IntGauge::new("sentinel_checker_in_flight_checks", "Checks running now")
            .expect("valid metric");
        let batches = IntCounterVec::new(
            Opts::new(
                "sentinel_checker_batches_total",
                "Batches by outcome: acked, requeued, rejected",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let incidents = counter_vec(
            "sentinel_checker_incidents_total",
            "Incidents by event: opened, resolved",
            &["event"],
        );
        let notifications_raised = counter_vec(
            "sentinel_checker_notifications_raised_total",
            "Notifications raised by alert evaluation, by kind",
            &["kind"],
        );
        for metric in [
            Box::new(incidents.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(notifications_raised.clone()),
            Box::new(checks.clone()),
            Box::new(latency.clone()),
            Box::new(schedule_lag.clone()),
            Box::new(in_flight.clone()),
            Box::new(batch_duration.clone()),
            Box::new(batches.clone()),
        ] {
            registry.register(metric).expect("metrics registered once");
        }
        for kind in ErrorKind::ALL {
            checks.with_label_values(&["failed", kind.as_str()]);
        }
        checks.with_label_values(&["ok", ""]);
        Self {
            checks,
            latency,
            schedule_lag,
            in_flight,
            batch_duration,
            batches,
            incidents,
            notifications_raised,
        }
    }

    /// Counts one finished check.
    pub fn observe(&self, record: &TelemetryRecord) {
        let kind = record.error_kind.map_or("", ErrorKind::as_str);
        self.checks
            .with_label_values(&[if record.ok { "ok" } else { "failed" }, kind])
            .inc();
        self.latency.observe(f64::from(record.latency_ms) / 1000.0);
        let lag = (record.started_at - record.scheduled_at)
            .num_milliseconds()
            .max(0);
        self.schedule_lag.observe(lag as f64 / 1000.0);
    }
}
