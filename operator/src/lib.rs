//! The Uptime Sentinel operator.
//!
//! ```text
//!  cli            command line: run (cluster or --manifests DIR), status, validate, crd, migrate
//!  apply          the reconcile core: validate → resolve references → store (shared by both modes)
//!  references     channel and Secret lookups (API server, or a set of manifests)
//!  store/         MySQL upserts and deletes per kind, keyed by uid
//!  cluster/       kube-runtime controllers: finalizers, status conditions, Events
//!  status_sync    MySQL live state + uptime ──► Monitor.status, throttled; health Events
//!  uptime         uptime % and average latency over 24 h / 7 d / 30 d from the rollups
//!  leader/        "am I the leader": a coordination.k8s.io Lease, or a MySQL row in standalone mode
//!  scheduler/     due monitors ──► check batches on RabbitMQ (leader only), drift-free slots
//!  standalone/    manifests from a directory: load, reconcile loop, `validate`, `status` table
//!  database       pool and embedded migrations
//!  (logging, shutdown, HTTP endpoints, credential sealing: the `common` crate)
//! ```
#![forbid(unsafe_code)]

pub mod apply;
pub mod autoscaler;
pub mod cli;
pub mod cluster;
pub mod database;
pub mod leader;
pub mod references;
pub mod scheduler;
pub mod standalone;
pub mod status_sync;
pub mod store;
pub mod uptime;

/// Errors of the operator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The spec breaks the schema's or the semantic rules.
    #[error("invalid spec: {}", problems_text(.0))]
    InvalidSpec(Vec<crds::Problem>),
    /// A `channelRef` names no NotificationChannel in the namespace.
    #[error("{field}: NotificationChannel {namespace}/{name} does not exist")]
    ChannelNotFound {
        /// The field holding the reference.
        field: String,
        /// Namespace searched.
        namespace: String,
        /// Name looked for.
        name: String,
    },
    /// A referenced Secret, or a key in it, does not exist.
    #[error("Secret {namespace}/{name} {}", match .key { Some(k) => format!("has no key {k:?}"), None => "does not exist".to_string() })]
    SecretNotFound {
        /// Namespace searched.
        namespace: String,
        /// Secret name.
        name: String,
        /// The missing key, when the Secret exists.
        key: Option<String>,
    },
    /// MySQL could not be reached or refused a query.
    #[error("failed to talk to MySQL: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed to apply.
    #[error("failed to apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The Kubernetes API failed.
    #[error("failed to call the Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// Adding or removing the finalizer failed.
    #[error("failed to {0}")]
    Finalizer(String),
    /// Credentials could not be sealed (no key) or the key is malformed.
    #[error("{0}")]
    Credentials(#[from] common::Error),
    /// RabbitMQ could not be reached or refused a publish.
    #[error("{0}")]
    Amqp(common::Error),
    /// RabbitMQ did not confirm a published batch (nacked, or returned as unroutable).
    #[error("failed to dispatch: RabbitMQ did not confirm a check batch")]
    NotConfirmed,
    /// The CRD YAML could not be rendered.
    #[error("failed to render CRDs: {0}")]
    Crd(#[from] crds::Error),
    /// Reading manifests or writing output failed.
    #[error("failed to {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

fn problems_text(problems: &[crds::Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl Error {
    /// The `Ready=False` reason this error sets, and the metrics label it counts under.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidSpec(_) => "InvalidSpec",
            Self::ChannelNotFound { .. } => "ChannelNotFound",
            Self::SecretNotFound { .. } => "SecretNotFound",
            Self::Database(_) | Self::Migrate(_) => "DatabaseUnavailable",
            Self::Kube(_) | Self::Finalizer(_) => "ApiUnavailable",
            Self::Amqp(_) | Self::NotConfirmed => "QueueUnavailable",
            Self::Credentials(_) => "CredentialsKeyMissing",
            Self::Crd(_) | Self::Io { .. } => "InternalError",
        }
    }

    /// Whether retrying without a change to the object can help. An invalid spec cannot;
    /// a missing channel or Secret is fixed by another object, whose watch re-triggers the
    /// reconcile; everything else is transient and is retried with backoff.
    pub fn waits_for_change(&self) -> bool {
        matches!(
            self,
            Self::InvalidSpec(_) | Self::ChannelNotFound { .. } | Self::SecretNotFound { .. }
        )
    }
}

/// Result with the operator's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
