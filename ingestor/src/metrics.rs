//! The ingestor's Prometheus metrics.

use prometheus::{IntCounter, IntGauge, Registry};

/// All metrics of the ingestor.
#[derive(Clone)]
pub struct Metrics {
    /// Rows inserted into `ping_results`.
    pub inserted: IntCounter,
    /// Malformed entries moved to the dead stream.
    pub dead: IntCounter,
    /// Entries taken over from consumers that stopped.
    pub claimed: IntCounter,
    /// Entries in the telemetry stream (not yet stored).
    pub backlog: IntGauge,
    /// Partition maintenance or rollup runs that failed.
    pub maintenance_failures: IntCounter,
}

impl Metrics {
    /// Creates and registers the metrics.
    ///
    /// # Panics
    /// When registered twice in one registry.
    pub fn register(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("valid metric");
        let inserted = counter(
            "sentinel_ingestor_rows_inserted_total",
            "Rows inserted into ping_results",
        );
        let dead = counter(
            "sentinel_ingestor_dead_letters_total",
            "Malformed telemetry entries dead-lettered",
        );
        let claimed = counter(
            "sentinel_ingestor_claimed_total",
            "Entries taken over from stopped consumers",
        );
        let maintenance_failures = counter(
            "sentinel_ingestor_maintenance_failures_total",
            "Failed partition or rollup runs",
        );
        let backlog = IntGauge::new(
            "sentinel_ingestor_backlog",
            "Entries in the telemetry stream not yet stored",
        )
        .expect("valid metric");
        for metric in [
            Box::new(inserted.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(dead.clone()),
            Box::new(claimed.clone()),
            Box::new(backlog.clone()),
            Box::new(maintenance_failures.clone()),
        ] {
            registry.register(metric).expect("metrics registered once");
        }
        Self {
            inserted,
            dead,
            claimed,
            backlog,
            maintenance_failures,
        }
    }
}
