//! Test support shared by every crate's integration tests.
//!
//! Each helper gives a test its own isolated piece of the real services, named uniquely
//! and removed on drop, so test runs (and tests within a run) never disturb each other:
//!
//! | helper | gives | cleaned up |
//! |---|---|---|
//! | [`TestDb`] | a fresh MariaDB database with the migrations applied | `DROP DATABASE` |
//! | [`TestVhost`] | a fresh RabbitMQ vhost (queues, exchanges all private) | vhost deleted |
//! | [`TestRedis`] | a unique Redis key prefix | keys under it deleted |
//! | [`TargetServer`] | a local HTTP(S) server whose responses the test sets at run time | task stopped |
//! | [`TcpProxy`] | a TCP forwarder the test can cut and restore (a service outage) | task stopped |
//!
//! Services are found at the usual local addresses, overridable by environment:
//! `SENTINEL_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306`),
//! `SENTINEL_TEST_AMQP_URL` (`amqp://guest:guest@127.0.0.1:5672`),
//! `SENTINEL_TEST_RABBITMQ_API` (`http://guest:guest@127.0.0.1:15672`),
//! `SENTINEL_TEST_REDIS_URL` (`redis://127.0.0.1:6379`). `scripts/services.sh` makes them
//! available. A helper that cannot reach its service panics with a message that says so:
//! these are tests, and a missing service is a setup error to fix, not to skip.

mod mysql;
mod proxy;
mod rabbitmq;
mod redis_prefix;
mod smtp;
mod target;
pub mod wait;

pub use mysql::{MIGRATOR, SeedMonitor, TestDb, channel_uid, mysql_server_url};
pub use proxy::TcpProxy;
pub use rabbitmq::TestVhost;
pub use redis_prefix::TestRedis;
pub use smtp::{ReceivedMail, SmtpSink};
pub use target::{ReceivedRequest, Reply, TargetServer};

/// A short unique suffix for resource names: 12 hex characters of a v4 UUID.
pub fn unique_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Runs `future` to completion on a fresh single-threaded runtime in its own thread.
///
/// Cleanup in `Drop` cannot `.await`, and blocking on the test's own runtime would
/// deadlock it; a separate thread with its own runtime can finish the async cleanup.
pub(crate) fn run_detached<F>(future: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let handle = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("cleanup runtime builds")
            .block_on(future);
    });
    let _ = handle.join();
}

/// Installs ring as the process-wide rustls provider (reqwest is built without one; see
/// NOTES on the two-provider trap). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
