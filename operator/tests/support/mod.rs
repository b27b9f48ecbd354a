//! A scripted Kubernetes API server for reconciler tests (kube's `tower_test::mock`
//! pattern): the test receives each request the code makes, asserts on it, and answers
//! like the API server would.

#![allow(dead_code)]

use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};
use tower_test::mock;

/// One request as the code made it.
#[derive(Debug)]
pub struct Seen {
    /// HTTP method.
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// JSON body (Null when empty).
    pub body: Value,
    respond: Option<mock::SendResponse<Response<Body>>>,
}

impl Seen {
    /// Answers with `status` and a JSON body.
    pub fn reply(mut self, status: StatusCode, body: Value) {
        let response = Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        self.respond.take().unwrap().send_response(response);
    }

    /// Answers 200 with `body`.
    pub fn ok(self, body: Value) {
        self.reply(StatusCode::OK, body);
    }

    /// Answers 404 NotFound like the API server.
    pub fn not_found(self) {
        self.reply(
            StatusCode::NOT_FOUND,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "message": "not found", "reason": "NotFound", "code": 404}),
        );
    }

    /// Answers 409 Conflict like the API server.
    pub fn conflict(self) {
        self.reply(
            StatusCode::CONFLICT,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                   "message": "the object has been modified", "reason": "Conflict", "code": 409}),
        );
    }

    /// Asserts the method and that the path (without query) is `path`.
    #[track_caller]
    pub fn assert(&self, method: Method, path: &str) {
        let actual = self.uri.split('?').next().unwrap_or_default();
        assert_eq!(
            (&self.method, actual),
            (&method, path),
            "unexpected request {self:?}"
        );
    }
}

/// The mock API server's side.
pub struct ApiServer {
    handle: mock::Handle<Request<Body>, Response<Body>>,
}

/// A client talking to a fresh mock API server.
pub fn client() -> (kube::Client, ApiServer) {
    let (service, handle) = mock::pair::<Request<Body>, Response<Body>>();
    (kube::Client::new(service, "default"), ApiServer { handle })
}

impl ApiServer {
    /// The next request, or a panic after 5 seconds (a call that never happens).
    pub async fn next(&mut self) -> Seen {
        let (request, respond): (Request<Body>, _) =
            tokio::time::timeout(Duration::from_secs(5), self.handle.next_request())
                .await
                .expect("timed out waiting for a request to the API server")
                .unwrap_or_else(|| panic!("the client is gone"));
        let (parts, body) = request.into_parts();
        let bytes = body.collect_bytes().await.unwrap();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Seen {
            method: parts.method,
            uri: parts.uri.to_string(),
            body,
            respond: Some(respond),
        }
    }

    /// Asserts that no request arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Ok(Some((request, _))) = tokio::time::timeout(wait, self.handle.next_request()).await
        {
            panic!(
                "expected no request, got {} {}",
                request.method(),
                request.uri()
            );
        }
    }
}

/// Answers an Event creation (POST) or series update (PATCH) and returns its body.
pub async fn expect_event(server: &mut ApiServer, namespace: &str) -> Value {
    let seen = server.next().await;
    assert!(
        seen.uri.starts_with(&format!(
            "/apis/events.k8s.io/v1/namespaces/{namespace}/events"
        )),
        "expected an Event, got {seen:?}"
    );
    let body = seen.body.clone();
    seen.ok(body.clone());
    body
}
