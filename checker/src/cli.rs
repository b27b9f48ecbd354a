//! The checker's command line. Every flag has an environment variable and a default.
//!
//! `checker` runs checks (and alert evaluation); `checker notify` delivers notifications;
//! `checker --with-notifier` does both in one process (small installations, local runs).

use std::{net::SocketAddr, sync::Arc, time::Duration};

use clap::{Parser, Subcommand};
use common::{
    amqp::QueueType,
    cli::{LogArgs, mysql_ready, parse_duration},
    credentials::Sealer,
    http, shutdown,
};
use crds::contract::Names;
use prometheus::Registry;
use sqlx::MySqlPool;

use crate::{
    alerting::{Evaluator, cooldown::Cooldown, rules::RuleCache},
    consumer::{Checker, Options},
    metrics::{Metrics, NotifierMetrics},
    notify::{self, Notifier},
    probe,
    telemetry::TelemetryWriter,
};

/// Uptime Sentinel checker: consumes check batches, runs the HTTP checks, stores results,
/// evaluates alert rules; `checker notify` delivers the notifications.
#[derive(Debug, Parser)]
#[command(
    name = "checker",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    /// Run the notifier instead of the checks.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// RabbitMQ, MySQL and the credentials key.
    #[command(flatten)]
    pub connections: Connections,
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
    /// Checks running at once across all batches. A check's wall time grows when the
    /// machine is busy (500 at once capped a 2-core machine at ~5,000 checks/s with
    /// seconds of lag; 4,000 kept lag under 1 s). Each needs a file descriptor: the
    /// soft open-file limit is raised to fit, or the concurrency lowered with a warning.
    #[arg(long, env = "SENTINEL_CHECKER_CONCURRENCY", default_value_t = 4000)]
    pub concurrency: usize,
    /// Unacknowledged batches held at once. Batches arrive up to the scheduler's look-ahead
    /// (2 s) before their slot and are held until stored, so a replica needs about
    /// batches/s × (look-ahead + check + store time) in hand: 250 batches of 50 cover
    /// 5,000 checks/s. Too few and batches wait in the queue past their slot.
    #[arg(long, env = "SENTINEL_CHECKER_PREFETCH", default_value_t = 250)]
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
    /// How often the alert-rule cache looks for changed rules, policies and channels (the
    /// staleness bound of rule changes).
    #[arg(long, env = "SENTINEL_RULES_REFRESH", default_value = "5s", value_parser = parse_duration)]
    pub rules_refresh: Duration,
    /// Also deliver notifications in this process.
    #[arg(long, env = "SENTINEL_WITH_NOTIFIER")]
    pub with_notifier: bool,
    /// Notifier tuning (with --with-notifier).
    #[command(flatten)]
    pub notifier: NotifierArgs,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "SENTINEL_METRICS_ADDR", default_value = "0.0.0.0:8081")]
    pub metrics_addr: SocketAddr,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deliver notifications (email, Slack, webhooks, PagerDuty, Discord, Telegram, Teams).
    Notify(NotifyArgs),
}

/// Connections both modes need.
#[derive(Debug, clap::Args)]
pub struct Connections {
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
    /// MySQL URL (required).
    #[arg(long, env = "SENTINEL_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Base64 key that opens credentials sealed by the operator (header values and channel
    /// secrets from Kubernetes Secrets); mount it from the same Kubernetes Secret.
    #[arg(long, env = "SENTINEL_CREDENTIALS_KEY", hide_env_values = true)]
    pub credentials_key: Option<String>,
}

impl Connections {
    async fn open(&self) -> anyhow::Result<(MySqlPool, Option<Sealer>)> {
        let sealer = self
            .credentials_key
            .as_deref()
            .map(Sealer::from_base64)
            .transpose()?;
        let url = self.database_url.as_deref().ok_or_else(|| {
            anyhow::anyhow!(
                "a MySQL URL is required: pass --database-url or set SENTINEL_DATABASE_URL"
            )
        })?;
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        Ok((pool, sealer))
    }
}

/// `checker notify`.
#[derive(Debug, clap::Args)]
pub struct NotifyArgs {
    /// RabbitMQ, MySQL and the credentials key.
    #[command(flatten)]
    pub connections: Connections,
    /// Notifier tuning.
    #[command(flatten)]
    pub notifier: NotifierArgs,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "SENTINEL_METRICS_ADDR", default_value = "0.0.0.0:8083")]
    pub metrics_addr: SocketAddr,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

/// Delivery tuning.
#[derive(Debug, clap::Args)]
pub struct NotifierArgs {
    /// Attempts per notification before it is dead-lettered and marked failed.
    #[arg(long, env = "SENTINEL_NOTIFY_MAX_ATTEMPTS", default_value_t = 8)]
    pub max_attempts: u32,
    /// Wait before the second attempt; doubles per attempt (with jitter).
    #[arg(long, env = "SENTINEL_NOTIFY_RETRY_BASE", default_value = "2s", value_parser = parse_duration)]
    pub retry_base: Duration,
    /// Longest wait between attempts.
    #[arg(long, env = "SENTINEL_NOTIFY_RETRY_CAP", default_value = "5m", value_parser = parse_duration)]
    pub retry_cap: Duration,
    /// Timeout of one delivery attempt.
    #[arg(long, env = "SENTINEL_NOTIFY_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub send_timeout: Duration,
    /// Deliveries in flight per channel (a slow channel never holds up the others).
    #[arg(long, env = "SENTINEL_NOTIFY_PER_CHANNEL", default_value_t = 8)]
    pub per_channel: usize,
    /// How long a claimed notification stays claimed before another notifier may take it
    /// over (must exceed the send timeout).
    #[arg(long, env = "SENTINEL_NOTIFY_LEASE", default_value = "60s", value_parser = parse_duration)]
    pub lease: Duration,
}

impl NotifierArgs {
    fn options(&self) -> notify::Options {
        notify::Options {
            max_attempts: self.max_attempts.max(1),
            retry_base: self.retry_base,
            retry_cap: self.retry_cap,
            send_timeout: self.send_timeout,
            per_channel: self.per_channel,
            lease: self.lease.max(self.send_timeout * 2),
            ..notify::Options::default()
        }
    }
}

impl Args {
    /// Runs the checker (or the notifier) until SIGTERM.
    ///
    /// # Errors
    /// Startup failures (bad key, unreachable MySQL or Redis, unbindable address).
    pub async fn run(self) -> anyhow::Result<()> {
        if let Some(Command::Notify(args)) = self.command {
            return args.run().await;
        }
        let Self {
            command: _,
            connections,
            redis_url,
            redis_prefix,
            concurrency,
            prefetch,
            body_limit,
            reuse_connections,
            drain_timeout,
            rules_refresh,
            with_notifier,
            notifier,
            metrics_addr,
            log,
        } = self;
        log.init();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (pool, sealer) = connections.open().await?;
        let names = Names::new(redis_prefix);
        let telemetry = TelemetryWriter::connect(&redis_url, &names).await?;
        let registry = Arc::new(Registry::new());
        let metrics = Metrics::register(&registry);
        let (shutdown, _trigger) = shutdown::on_signal();

        let rules = Arc::new(RuleCache::load(&pool).await?);
        let refresh = tokio::spawn(rules.clone().run_refresh(
            pool.clone(),
            rules_refresh,
            shutdown.clone(),
        ));
        let evaluator = Arc::new(Evaluator::new(
            rules,
            Cooldown::new(telemetry.connection(), names),
            &connections.amqp_url,
            connections.queue_type,
            metrics.clone(),
        ));
        let notifier = if with_notifier {
            let notifier = Arc::new(Notifier::new(
                pool.clone(),
                sealer.clone(),
                notifier.options(),
                NotifierMetrics::register(&registry),
                &connections.amqp_url,
                connections.queue_type,
            )?);
            let (connected, _) = tokio::sync::watch::channel(false);
            let url = connections.amqp_url.clone();
            let queue_type = connections.queue_type;
            let shutdown = shutdown.clone();
            Some(tokio::spawn(async move {
                notifier.run(&url, queue_type, connected, shutdown).await;
            }))
        } else {
            None
        };
        let checker = Arc::new(
            Checker::new(
                probe::Client::new(body_limit, reuse_connections),
                pool.clone(),
                telemetry.clone(),
                sealer,
                metrics,
                Options {
                    prefetch,
                    concurrency: crate::limits::fit_concurrency(concurrency),
                    drain_timeout,
                },
            )
            .with_alerting(evaluator),
        );
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
            .run(
                &connections.amqp_url,
                connections.queue_type,
                connected,
                shutdown,
            )
            .await;
        if let Some(notifier) = notifier {
            notifier.await?;
        }
        refresh.await?;
        server.await??;
        tracing::info!("stopped");
        Ok(())
    }
}

impl NotifyArgs {
    /// Runs the notifier until SIGTERM.
    ///
    /// # Errors
    /// Startup failures (bad key, unreachable MySQL, unbindable address).
    pub async fn run(self) -> anyhow::Result<()> {
        self.log.init();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (pool, sealer) = self.connections.open().await?;
        let registry = Arc::new(Registry::new());
        let notifier = Arc::new(Notifier::new(
            pool.clone(),
            sealer,
            self.notifier.options(),
            NotifierMetrics::register(&registry),
            &self.connections.amqp_url,
            self.connections.queue_type,
        )?);
        let (shutdown, _trigger) = shutdown::on_signal();
        let (connected, connected_rx) = tokio::sync::watch::channel(false);
        let ready: http::ReadinessProbe = Arc::new(move || {
            let connected = *connected_rx.borrow();
            let pool = pool.clone();
            Box::pin(async move {
                if !connected {
                    return Err("not consuming from RabbitMQ".to_string());
                }
                mysql_ready(&pool).await
            })
        });
        let server = tokio::spawn(http::serve(
            self.metrics_addr,
            registry,
            ready,
            shutdown.clone(),
        ));
        notifier
            .run(
                &self.connections.amqp_url,
                self.connections.queue_type,
                connected,
                shutdown,
            )
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

    #[test]
    fn notify_needs_no_check_flags() {
        let args = Args::try_parse_from([
            "checker",
            "notify",
            "--database-url",
            "mysql://x",
            "--max-attempts",
            "3",
        ])
        .expect("parses");
        let Some(Command::Notify(notify)) = args.command else {
            panic!("notify mode");
        };
        assert_eq!(notify.notifier.max_attempts, 3);
        assert!(
            Args::try_parse_from(["checker", "--prefetch", "5", "notify"]).is_err(),
            "check flags do not mix with notify"
        );
    }
}
