//! The operator's HTTP endpoints: `/healthz` (the process runs), `/readyz` (MySQL
//! answers), `/metrics` (Prometheus text format).

use std::{net::SocketAddr, sync::Arc};

use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use prometheus::{Encoder, Registry, TextEncoder};
use sqlx::MySqlPool;

use crate::{Error, Result};

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    pool: MySqlPool,
}

/// Serves the endpoints on `addr` until `shutdown` resolves.
///
/// # Errors
/// [`Error::Io`] when the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    registry: Arc<Registry>,
    pool: MySqlPool,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(AppState { registry, pool });
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Io {
            action: "listen on",
            path: addr.to_string(),
            source,
        })?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| Error::Io {
            action: "serve",
            path: addr.to_string(),
            source,
        })
}

async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match sqlx::query("SELECT 1").execute(&state.pool).await {
        Ok(_) => (StatusCode::OK, "ready".to_string()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("MySQL unavailable: {e}"),
        ),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    if encoder.encode(&state.registry.gather(), &mut body).is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("content-type", "text/plain".to_string())],
            Vec::new(),
        );
    }
    (
        StatusCode::OK,
        [("content-type", encoder.format_type().to_string())],
        body,
    )
}
