//! The ingestor's command line. Every flag has an environment variable and a default.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use clap::Parser;
use common::{
    cli::{LogArgs, mysql_ready, parse_duration},
    http, shutdown,
};
use crds::contract::Names;
use prometheus::Registry;

use crate::{
    ingest::{Ingestor, Options},
    maintain,
    metrics::Metrics,
};

/// Uptime Sentinel ingestor: Redis telemetry → MySQL, partitions, rollups.
#[derive(Debug, Parser)]
#[command(name = "ingestor", version, about, long_about = None)]
pub struct Args {
    /// MySQL URL.
    #[arg(long, env = "SENTINEL_DATABASE_URL")]
    pub database_url: String,
    /// Redis URL.
    #[arg(
        long,
        env = "SENTINEL_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    pub redis_url: String,
    /// Prefix of every Redis key.
    #[arg(long, env = "SENTINEL_REDIS_PREFIX", default_value = "sentinel:")]
    pub redis_prefix: String,
    /// Records per INSERT at most.
    #[arg(long, env = "SENTINEL_INGEST_BATCH_SIZE", default_value_t = 1000)]
    pub batch_size: usize,
    /// Longest wait for entries before inserting what arrived.
    #[arg(long, env = "SENTINEL_INGEST_FLUSH_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    pub flush_interval: Duration,
    /// Entries pending this long with a stopped consumer are taken over.
    #[arg(long, env = "SENTINEL_INGEST_CLAIM_TIMEOUT", default_value = "1m", value_parser = parse_duration)]
    pub claim_timeout: Duration,
    /// This replica's consumer name (default: the pod or host name, stable across restarts).
    #[arg(long, env = "SENTINEL_INGEST_CONSUMER")]
    pub consumer: Option<String>,
    /// Days of partitions kept ahead.
    #[arg(long, env = "SENTINEL_PARTITIONS_AHEAD", default_value_t = 7)]
    pub partitions_ahead: u32,
    /// Days of raw results kept.
    #[arg(long, env = "SENTINEL_RAW_RETENTION_DAYS", default_value_t = 30)]
    pub raw_retention_days: u32,
    /// Days of hourly rollups kept.
    #[arg(long, env = "SENTINEL_HOURLY_RETENTION_DAYS", default_value_t = 90)]
    pub hourly_retention_days: u32,
    /// How late a result may arrive and still update its rollup bucket.
    #[arg(long, env = "SENTINEL_ROLLUP_LATENESS", default_value = "2h", value_parser = parse_duration)]
    pub lateness: Duration,
    /// How often partitions and rollups are maintained.
    #[arg(long, env = "SENTINEL_MAINTENANCE_INTERVAL", default_value = "1m", value_parser = parse_duration)]
    pub maintenance_interval: Duration,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "SENTINEL_METRICS_ADDR", default_value = "0.0.0.0:8082")]
    pub metrics_addr: SocketAddr,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

impl Args {
    /// Runs the ingestor until SIGTERM.
    ///
    /// # Errors
    /// Startup failures (MySQL or Redis unreachable at start, unbindable address).
    pub async fn run(self) -> anyhow::Result<()> {
        let Self {
            database_url,
            redis_url,
            redis_prefix,
            batch_size,
            flush_interval,
            claim_timeout,
            consumer,
            partitions_ahead,
            raw_retention_days,
            hourly_retention_days,
            lateness,
            maintenance_interval,
            metrics_addr,
            log,
        } = self;
        log.init();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy(&database_url)?;
        let registry = Arc::new(Registry::new());
        let metrics = Metrics::register(&registry);
        let consumer = consumer.unwrap_or_else(|| {
            std::env::var("POD_NAME")
                .or_else(|_| std::env::var("HOSTNAME"))
                .unwrap_or_else(|_| "ingestor".into())
        });
        let ingestor = Ingestor::new(
            &redis_url,
            pool.clone(),
            Names::new(redis_prefix),
            Options {
                batch_size,
                flush_interval,
                claim_timeout,
                consumer,
            },
            metrics.clone(),
        )
        .await?;
        let (shutdown, _trigger) = shutdown::on_signal();
        let (ready, ready_rx) = tokio::sync::watch::channel(true);
        let probe_pool = pool.clone();
        let probe: http::ReadinessProbe = Arc::new(move || {
            let storing = *ready_rx.borrow();
            let pool = probe_pool.clone();
            Box::pin(async move {
                mysql_ready(&pool).await?;
                if storing {
                    Ok(())
                } else {
                    Err("cannot store telemetry (see logs)".to_string())
                }
            })
        });
        let server = tokio::spawn(http::serve(metrics_addr, registry, probe, shutdown.clone()));
        let options = maintain::Options {
            partitions_ahead,
            raw_retention_days,
            lateness: chrono::Duration::from_std(lateness)?,
            hourly_retention: chrono::Duration::days(i64::from(hourly_retention_days)),
            interval: maintenance_interval,
        };
        tokio::join!(
            ingestor.run(ready, shutdown.clone()),
            maintain::run(pool.clone(), options, metrics, shutdown.clone()),
        );
        server.await??;
        tracing::info!("stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Args::command().debug_assert();
    }
}
