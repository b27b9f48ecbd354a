//! Logging: JSON lines on stdout (one object per event, fields for monitor namespace/name
//! and ids), filtered by `RUST_LOG` or the `--log-level` flag.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. `default_level` applies when `RUST_LOG` is unset.
/// Calling it twice is harmless (the second call does nothing).
pub fn init(default_level: &str, json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}
