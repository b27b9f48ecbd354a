//! The checker's command line. Every flag has an environment variable and a default.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use clap::Parser;
use common::{
    amqp::QueueType,
    cli::{LogArgs, mysql_ready, parse_duration},
    credentials::Sealer,
    http, shutdown,
};
use crds::contract::Names;
use prometheus::Registry;

use crate::{
    consumer::{Checker, Options},
    metrics::Metrics,
    probe,
    telemetry::TelemetryWriter,
};

/// Uptime Sentinel checker: consumes check batches, runs the HTTP checks, stores results.
#[derive(Debug, Parser)]
#[command(name = "checker", version, about, long_about = None)]
pub struct Args {
    /// RabbitMQ URL.
    #[arg(
        long,
        env = "SENTINEL_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// Queue type of the durable queues (`classic` or `quorum`); must match the cluster's.
    #[arg(long, env = "SENTINEL_QUEUE_TYPE", default_value = "classic")]
    pub queue_type: QueueType,
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
    /// MySQL URL (monitor state).
    #[arg(long, env = "SENTINEL_DATABASE_URL")]
    pub database_url: String,
    /// Base64 key that opens credentials sealed by the operator (header values from
    /// Secrets); mount it from the same Kubernetes Secret.
    #[arg(long, env = "SENTINEL_CREDENTIALS_KEY", hide_env_values = true)]
    pub credentials_key: Option<String>,
    /// Checks running at once across all batches.
    #[arg(long, env = "SENTINEL_CHECKER_CONCURRENCY", default_value_t = 500)]
    pub concurrency: usize,
    /// Unacknowledged batches held at once.
    #[arg(long, env = "SENTINEL_CHECKER_PREFETCH", default_value_t = 20)]
    pub prefetch: u16,
    /// Bytes of a response body read at most; a larger body fails the check.
    #[arg(long, env = "SENTINEL_CHECKER_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Reuse connections between checks of the same origin (latency then excludes connect
    /// and TLS). Off by default: each check measures what a new visitor sees.
    #[arg(long, env = "SENTINEL_CHECKER_REUSE_CONNECTIONS")]
    pub reuse_connections: bool,
    /// How long shutdown waits for in-flight batches.
    #[arg(long, env = "SENTINEL_CHECKER_DRAIN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub drain_timeout: Duration,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "SENTINEL_METRICS_ADDR", default_value = "0.0.0.0:8081")]
    pub metrics_addr: SocketAddr,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

impl Args {
    /// Runs the checker until SIGTERM.
    ///
    /// # Errors
    /// Startup failures (bad key, unreachable MySQL or Redis, unbindable address).
    pub async fn run(self) -> anyhow::Result<()> {
        let Self {
            amqp_url,
            queue_type,
            redis_url,
            redis_prefix,
            database_url,
            credentials_key,
            concurrency,
            prefetch,
            body_limit,
            reuse_connections,
            drain_timeout,
            metrics_addr,
            log,
        } = self;
        log.init();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sealer = credentials_key
            .as_deref()
            .map(Sealer::from_base64)
            .transpose()?;
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(&database_url)
            .await?;
        let telemetry = TelemetryWriter::connect(&redis_url, &Names::new(redis_prefix)).await?;
        let registry = Arc::new(Registry::new());
        let metrics = Metrics::register(&registry);
        let checker = Arc::new(Checker::new(
            probe::Client::new(body_limit, reuse_connections),
            pool.clone(),
            telemetry.clone(),
            sealer,
            metrics,
            Options {
                prefetch,
                concurrency,
                drain_timeout,
            },
        ));
        let (shutdown, _trigger) = shutdown::on_signal();
        let (connected, connected_rx) = tokio::sync::watch::channel(false);
        let ready: http::ReadinessProbe = Arc::new(move || {
            let connected = *connected_rx.borrow();
            let telemetry = telemetry.clone();
            let pool = pool.clone();
            Box::pin(async move {
                if !connected {
                    return Err("not consuming from RabbitMQ".to_string());
                }
                if !telemetry.ping().await {
                    return Err("Redis unavailable".to_string());
                }
                mysql_ready(&pool).await
            })
        });
        let server = tokio::spawn(http::serve(metrics_addr, registry, ready, shutdown.clone()));
        checker
            .run(&amqp_url, queue_type, connected, shutdown)
            .await;
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
