//! The HTTP endpoints every binary serves: `/healthz` (the process runs), `/readyz` (its
//! dependencies answer, as a probe passed in decides), `/metrics` (Prometheus text format).

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use futures::future::BoxFuture;
use prometheus::{Encoder, Registry, TextEncoder};

use crate::{Error, Result};

/// Decides readiness: `Ok` when ready, `Err(reason)` otherwise.
pub type ReadinessProbe = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    ready: ReadinessProbe,
}

/// Serves the endpoints on `addr` until `shutdown` resolves.
///
/// # Errors
/// [`Error::Io`] when the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    ready: ReadinessProbe,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Io {
            action: "listen on",
            address: addr.to_string(),
            source,
        })?;
    serve_on(listener, registry, ready, shutdown).await
}

/// Serves on an already bound listener (tests bind port 0).
///
/// # Errors
/// [`Error::Io`] when serving fails.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    registry: Arc<Registry>,
    ready: ReadinessProbe,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let address = listener
        .local_addr()
        .map_or_else(|_| "?".to_string(), |a| a.to_string());
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AppState { registry, ready });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| Error::Io {
            action: "serve",
            address,
            source,
        })
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match (state.ready)().await {
        Ok(()) => (StatusCode::OK, "ready".to_string()),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    match encoder.encode(&state.registry.gather(), &mut body) {
        Ok(()) => (
            StatusCode::OK,
            [("content-type", encoder.format_type().to_string())],
            body,
        ),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "text/plain".to_string())],
            e.to_string().into_bytes(),
        ),
    }
}
