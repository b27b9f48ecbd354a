//! The command line. Every flag has an environment variable and a visible default.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, sync::Arc, time::Duration};

use clap::{Parser, Subcommand, ValueEnum};
use kube::runtime::events::Reporter;
use prometheus::Registry;

use common::{
    cli::{LogArgs, mysql_ready, parse_duration},
    credentials::Sealer,
    http, shutdown,
};

use crate::{
    autoscaler::{self, Autoscaler, decision::Policy},
    cluster::{self, Context, Metrics},
    database, leader,
    scheduler::{self, Publisher, Scheduler, SystemClock},
    standalone::{self, run::DirectoryReconciler},
    status_sync::{self, StatusSync},
    store::Store,
};

/// Uptime Sentinel operator.
#[derive(Debug, Parser)]
#[command(name = "operator", version, about, long_about = None)]
pub struct Cli {
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the operator: against the Kubernetes API, or with --manifests on a directory.
    Run(Box<RunArgs>),
    /// Print the monitors' live state as a table (like `kubectl get monitors`).
    Status {
        /// MySQL URL.
        #[arg(long, env = "SENTINEL_DATABASE_URL")]
        database_url: String,
        /// Only this namespace.
        #[arg(long, short = 'n')]
        namespace: Option<String>,
        /// Output format.
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: Output,
    },
    /// Validate a directory of manifests (GitOps CI): prints `file:line: object: field:
    /// problem` for each problem and exits 1 if there is any.
    Validate {
        /// The directory.
        dir: PathBuf,
    },
    /// Print the CRD YAML (for `kubectl apply -f -`).
    Crd,
    /// Apply the database migrations and exit.
    Migrate {
        /// MySQL URL, e.g. `mysql://user:password@host:3306/sentinel`.
        #[arg(long, env = "SENTINEL_DATABASE_URL")]
        database_url: String,
    },
}

/// `operator status` output formats.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Output {
    /// Aligned columns.
    Table,
    /// One JSON array.
    Json,
}

/// Flags of `operator run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// MySQL URL.
    #[arg(long, env = "SENTINEL_DATABASE_URL")]
    pub database_url: String,
    /// Standalone mode: read manifests from this directory instead of the Kubernetes API.
    #[arg(long, env = "SENTINEL_MANIFESTS")]
    pub manifests: Option<PathBuf>,
    /// Base64 key (32 bytes) that seals credentials before they are stored; mount it from
    /// a Kubernetes Secret.
    #[arg(long, env = "SENTINEL_CREDENTIALS_KEY", hide_env_values = true)]
    pub credentials_key: Option<String>,
    /// Address of /healthz, /readyz and /metrics.
    #[arg(long, env = "SENTINEL_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Apply pending database migrations at start.
    #[arg(long, env = "SENTINEL_MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate: bool,
    /// Namespace of the leader-election Lease (the operator's own namespace).
    #[arg(long, env = "POD_NAMESPACE", default_value = "uptime-sentinel")]
    pub lease_namespace: String,
    /// Name of the leader-election Lease (or MySQL lease row in standalone mode).
    #[arg(
        long,
        env = "SENTINEL_LEASE_NAME",
        default_value = "uptime-sentinel-operator"
    )]
    pub lease_name: String,
    /// Status patches per second at most (status sync).
    #[arg(long, env = "SENTINEL_STATUS_PATCHES_PER_SECOND", default_value_t = 50)]
    pub status_patches_per_second: u32,
    /// RabbitMQ URL (the scheduler publishes check batches there).
    #[arg(
        long,
        env = "SENTINEL_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,
    /// Queue type of the durable queues: `classic`, or `quorum` on a RabbitMQ cluster
    /// (3.12+). Cannot change once the queues exist.
    #[arg(long, env = "SENTINEL_QUEUE_TYPE", default_value = "classic")]
    pub queue_type: common::amqp::QueueType,
    /// Checks per RabbitMQ message.
    #[arg(long, env = "SENTINEL_BATCH_SIZE", default_value_t = 50)]
    pub batch_size: usize,
    /// How often the scheduler looks for due monitors.
    #[arg(long, env = "SENTINEL_SCHEDULER_TICK", default_value = "1s", value_parser = parse_duration)]
    pub scheduler_tick: Duration,
    /// How far ahead of their slot checks are dispatched (the checker holds them until the
    /// slot); two ticks keep checks on time even when a tick runs long.
    #[arg(long, env = "SENTINEL_SCHEDULER_LOOKAHEAD", default_value = "2s", value_parser = parse_duration)]
    pub scheduler_lookahead: Duration,
    /// Slices of due monitors dispatched at once (each with its own transaction and
    /// RabbitMQ connection). One worker keeps up with a few thousand checks/s on a busy
    /// machine; four covered 5,000/s on two cores with room to spare.
    #[arg(long, env = "SENTINEL_SCHEDULER_WORKERS", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub scheduler_workers: u16,
    /// How often standalone mode re-reads the manifests directory.
    #[arg(long, env = "SENTINEL_POLL_INTERVAL", default_value = "2s", value_parser = parse_duration)]
    pub poll_interval: Duration,
    /// Checker autoscaling (cluster mode, leader only).
    #[command(flatten)]
    pub autoscale: AutoscaleArgs,
}

/// The built-in checker autoscaler. Off unless a Deployment is named (leave it off when
/// KEDA scales the checkers).
#[derive(Debug, clap::Args)]
pub struct AutoscaleArgs {
    /// Name of the checker Deployment to scale (in the operator's namespace); unset: off.
    #[arg(long, env = "SENTINEL_AUTOSCALE_DEPLOYMENT")]
    pub autoscale_deployment: Option<String>,
    /// Fewest checker replicas.
    #[arg(long, env = "SENTINEL_AUTOSCALE_MIN", default_value_t = 1)]
    pub autoscale_min: u32,
    /// Most checker replicas.
    #[arg(long, env = "SENTINEL_AUTOSCALE_MAX", default_value_t = 10)]
    pub autoscale_max: u32,
    /// Queued check batches per checker replica.
    #[arg(long, env = "SENTINEL_AUTOSCALE_TARGET", default_value_t = 20)]
    pub autoscale_target: u32,
    /// How often to look at the queue.
    #[arg(long, env = "SENTINEL_AUTOSCALE_INTERVAL", default_value = "5s", value_parser = parse_duration)]
    pub autoscale_interval: Duration,
    /// How long a lower recommendation must last before scaling down.
    #[arg(long, env = "SENTINEL_AUTOSCALE_STABILIZATION", default_value = "5m", value_parser = parse_duration)]
    pub autoscale_stabilization: Duration,
}

impl Cli {
    /// Parses `std::env::args` and runs the command.
    pub async fn parse_and_run() -> ExitCode {
        let cli = Self::parse();
        match cli.run().await {
            Ok(code) => code,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "operator failed");
                eprintln!("operator: {e:#}");
                ExitCode::FAILURE
            }
        }
    }

    /// Runs the parsed command.
    ///
    /// # Errors
    /// Whatever the command fails with.
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let Self { log, command } = self;
        log.init();
        let _ = rustls::crypto::ring::default_provider().install_default();
        match command {
            Command::Crd => {
                print!("{}", crds::generate::render_all()?);
            }
            Command::Migrate { database_url } => {
                let pool = database::connect(&database_url, 2).await?;
                let applied = database::migrate(&pool).await?;
                tracing::info!(applied, "database is up to date");
                pool.close().await;
            }
            Command::Validate { dir } => {
                let findings = standalone::validate::validate_dir(&dir)?;
                for finding in &findings {
                    println!("{finding}");
                }
                if !findings.is_empty() {
                    eprintln!("{} problem(s) found", findings.len());
                    return Ok(ExitCode::from(1));
                }
                eprintln!("no problems found in {}", dir.display());
            }
            Command::Status {
                database_url,
                namespace,
                output,
            } => {
                let pool = database::connect(&database_url, 2).await?;
                let lines = standalone::table::read(&pool, namespace.as_deref()).await?;
                match output {
                    Output::Table => print!(
                        "{}",
                        standalone::table::render(&lines, chrono::Utc::now().naive_utc())
                    ),
                    Output::Json => println!("{}", serde_json::to_string_pretty(&lines)?),
                }
            }
            Command::Run(args) => run(*args).await?,
        }
        Ok(ExitCode::SUCCESS)
    }
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let RunArgs {
        database_url,
        manifests,
        credentials_key,
        metrics_addr,
        migrate,
        lease_namespace,
        lease_name,
        status_patches_per_second,
        amqp_url,
        queue_type,
        batch_size,
        scheduler_tick,
        scheduler_lookahead,
        scheduler_workers,
        poll_interval,
        autoscale,
    } = args;
    let sealer = credentials_key
        .as_deref()
        .map(Sealer::from_base64)
        .transpose()?;
    let pool = database::connect(&database_url, 10).await?;
    if migrate {
        let applied = database::migrate(&pool).await?;
        tracing::info!(applied, "database migrations applied");
    }
    let store = Store::new(pool.clone(), sealer);
    let registry = Arc::new(Registry::new_custom(None, None)?);
    let (shutdown, _trigger) = shutdown::on_signal();
    let identity = leader::identity();
    let (leading, leading_rx) = tokio::sync::watch::channel(false);
    let (dispatching, dispatching_rx) = tokio::sync::watch::channel(true);
    let scheduler = Scheduler::new(
        pool.clone(),
        Publisher::new(amqp_url.clone(), queue_type),
        SystemClock,
        scheduler::Options {
            batch_size,
            tick: scheduler_tick,
            lookahead: scheduler_lookahead,
            workers: usize::from(scheduler_workers),
            ..scheduler::Options::default()
        },
        scheduler::Metrics::register(&registry),
    )
    .run(leading_rx.clone(), dispatching, shutdown.clone());
    let probe_pool = pool.clone();
    let probe_leading = leading_rx.clone();
    let ready: http::ReadinessProbe = Arc::new(move || {
        let pool = probe_pool.clone();
        // The leader is ready only while it can dispatch (RabbitMQ reachable).
        let dispatch_ok = !*probe_leading.borrow() || *dispatching_rx.borrow();
        Box::pin(async move {
            if !dispatch_ok {
                return Err("scheduler cannot dispatch: RabbitMQ unavailable".to_string());
            }
            mysql_ready(&pool).await
        })
    });
    let server = tokio::spawn(http::serve(
        metrics_addr,
        registry.clone(),
        ready,
        shutdown.clone(),
    ));
    match manifests {
        Some(dir) => {
            tracing::info!(dir = %dir.display(), %identity, "standalone mode");
            let election = leader::run_election(
                leader::mysql::MySqlLease::new(pool.clone(), lease_name),
                identity,
                leader::Timing::default(),
                leading,
                shutdown.clone(),
            );
            let reconciler =
                DirectoryReconciler::new(dir, store).run(poll_interval, shutdown.clone());
            // Standalone has no API server to write status to; `operator status` reads MySQL.
            drop(leading_rx);
            tokio::join!(election, reconciler, scheduler);
        }
        None => {
            let client = kube::Client::try_default().await?;
            tracing::info!(%identity, "cluster mode");
            let reporter = Reporter {
                controller: "uptime-sentinel-operator".into(),
                instance: Some(identity.clone()),
            };
            let metrics = Metrics::register(&registry);
            let context = Arc::new(Context::new(
                client.clone(),
                store,
                reporter.clone(),
                metrics,
            ));
            let election = leader::run_election(
                leader::kubernetes::KubernetesLease::new(
                    client.clone(),
                    &lease_namespace,
                    lease_name,
                ),
                identity,
                leader::Timing::default(),
                leading,
                shutdown.clone(),
            );
            let sync = StatusSync::new(
                client.clone(),
                pool.clone(),
                kube::runtime::events::Recorder::new(client.clone(), reporter),
                status_sync::Options {
                    patches_per_second: status_patches_per_second,
                    ..status_sync::Options::default()
                },
            )
            .run(leading_rx.clone(), shutdown.clone());
            let autoscaler = {
                let leading = leading_rx.clone();
                let shutdown = shutdown.clone();
                let scaler = autoscale.autoscale_deployment.clone().map(|deployment| {
                    Autoscaler::new(
                        client.clone(),
                        autoscaler::Options {
                            namespace: lease_namespace.clone(),
                            deployment,
                            policy: Policy {
                                min: autoscale.autoscale_min,
                                max: autoscale.autoscale_max,
                                target_per_replica: autoscale.autoscale_target,
                                stabilization: autoscale.autoscale_stabilization,
                            },
                            interval: autoscale.autoscale_interval,
                        },
                        autoscaler::Metrics::register(&registry),
                    )
                });
                async move {
                    if let Some(scaler) = scaler {
                        scaler.run(amqp_url, queue_type, leading, shutdown).await;
                    }
                }
            };
            let controllers = cluster::run_controllers(client, context, shutdown.clone());
            tokio::join!(election, sync, controllers, scheduler, autoscaler);
        }
    }
    server.await??;
    pool.close().await;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
