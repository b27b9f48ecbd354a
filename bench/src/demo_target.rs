//! `demo-target`: the local endpoints `scripts/run-local.sh` monitors, so a newcomer sees
//! monitors go Up and Down without any traffic leaving the machine.
//!
//! ```text
//!  /healthy    200 {"status":"ok"}
//!  /failing    503
//!  /slow       200 after 2.5 s (the demo monitor's maxResponseTime is 1 s)
//!  /flapping   200 for a minute, 500 for a minute, and so on
//!  POST /hook  a webhook receiver: prints each notification's title and signature to
//!              stderr (.local/demo-target.log) and answers 200
//! ```
//!
//! Usage: `demo-target [PORT]` (default 18080), on 127.0.0.1.

use std::{convert::Infallible, time::Duration};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode, body::Incoming};

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() == "/hook" {
        return Ok(receive(request).await);
    }
    let (status, body) = match request.uri().path() {
        "/healthy" => (StatusCode::OK, r#"{"status":"ok"}"#),
        "/failing" => (StatusCode::SERVICE_UNAVAILABLE, "down for the demo"),
        "/slow" => {
            tokio::time::sleep(Duration::from_millis(2500)).await;
            (StatusCode::OK, "finally")
        }
        "/flapping" => {
            let minute = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() / 60);
            if minute.is_multiple_of(2) {
                (StatusCode::OK, "up this minute")
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "down this minute")
            }
        }
        _ => (StatusCode::NOT_FOUND, "no such demo endpoint"),
    };
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    Ok(response)
}

/// The demo webhook receiver: logs what arrived.
async fn receive(request: Request<Incoming>) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt;
    let signature = request
        .headers()
        .get("x-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("unsigned")
        .to_string();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let title = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["title"].as_str().map(str::to_string))
        .unwrap_or_else(|| "(not a notification)".to_string());
    eprintln!("webhook received: {title} [{signature}]");
    Response::new(Full::new(Bytes::from_static(b"received")))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(18080);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("demo-target listening on http://127.0.0.1:{port}");
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(
                    hyper_util::rt::TokioIo::new(stream),
                    hyper::service::service_fn(answer),
                )
                .await;
        });
    }
}
