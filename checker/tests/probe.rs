//! One check against real local targets, one per failure class: the result kind, the
//! message, and what a success records.

use std::{collections::BTreeMap, time::Duration};

use checker::probe::{self, Client};
use chrono::Utc;
use crds::contract::{CheckConfig, CheckRequest, ErrorKind, TelemetryRecord};
use sentinel_testkit::{Reply, TargetServer};
use serde_json::json;

fn request(spec: serde_json::Value) -> CheckRequest {
    let spec: crds::MonitorSpec = serde_json::from_value(spec).unwrap();
    CheckRequest {
        monitor_id: 7,
        slot: Utc::now(),
        credentials: None,
        config: CheckConfig::from_spec("shop", "web", 3, &spec),
    }
}

async fn check(spec: serde_json::Value) -> TelemetryRecord {
    check_with(&Client::new(1024 * 1024, false), spec).await
}

async fn check_with(client: &Client, spec: serde_json::Value) -> TelemetryRecord {
    probe::run(client, &request(spec), &BTreeMap::new()).await
}

#[track_caller]
fn assert_failed(record: &TelemetryRecord, kind: ErrorKind, text: &str) {
    assert!(!record.ok, "{record:?}");
    assert_eq!(record.error_kind, Some(kind), "{record:?}");
    let message = record.error.as_deref().unwrap_or_default();
    assert!(message.contains(text), "{message:?} lacks {text:?}");
}

#[tokio::test]
async fn a_healthy_target_passes_with_timings() {
    let target = TargetServer::start().await;
    target.set("/health", Reply::ok(r#"{"status":"ok"}"#));
    let record = check(json!({
        "url": target.url("/health"), "timeout": "2s", "interval": "10s",
        "expect": {"statusCodes": ["200"], "bodyContains": ["ok"], "json": [{"path": "$.status", "equals": "ok"}]}
    }))
    .await;
    assert!(record.ok, "{record:?}");
    assert_eq!(record.status_code, Some(200));
    assert_eq!((record.monitor_id, record.generation), (7, 3));
    assert!(record.timings.connect_ms.is_some() && record.timings.first_byte_ms.is_some());
    assert_eq!(record.timings.dns_ms, None, "an IP literal needs no DNS");
    assert_eq!(record.error, None);
    let requests = target.requests_to("/health");
    assert_eq!(requests[0].headers["host"], target.addr.to_string());
    assert!(requests[0].headers["user-agent"].starts_with("uptime-sentinel/"));
}

#[tokio::test]
async fn a_500_fails_with_kind_status() {
    let target = TargetServer::start().await;
    target.set("/", Reply::status(500));
    let record = check(json!({"url": target.url("/")})).await;
    assert_failed(&record, ErrorKind::Status, "status 500 is not in 200-399");
    assert_eq!(record.status_code, Some(500));
}

#[tokio::test]
async fn a_response_slower_than_the_timeout_fails_with_kind_timeout() {
    let target = TargetServer::start().await;
    target.set(
        "/slow",
        Reply::ok("late").with_delay(Duration::from_secs(3)),
    );
    let started = std::time::Instant::now();
    let record =
        check(json!({"url": target.url("/slow"), "timeout": "500ms", "interval": "10s"})).await;
    assert_failed(
        &record,
        ErrorKind::Timeout,
        "no complete response within 500ms",
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "gave up at the timeout"
    );
}

#[tokio::test]
async fn a_trickled_body_that_outlasts_the_timeout_fails_with_kind_timeout() {
    let target = TargetServer::start().await;
    target.set(
        "/trickle",
        Reply::ok(vec![b'x'; 64]).trickled(1, Duration::from_millis(100)),
    );
    let record =
        check(json!({"url": target.url("/trickle"), "timeout": "1s", "interval": "10s"})).await;
    assert_failed(&record, ErrorKind::Timeout, "no complete response");
}

#[tokio::test]
async fn a_body_far_above_the_cap_fails_with_kind_body_too_large() {
    let target = TargetServer::start().await;
    target.set("/big", Reply::ok(vec![b'x'; 256 * 1024]));
    let client = Client::new(16 * 1024, false);
    let record = check_with(&client, json!({"url": target.url("/big")})).await;
    assert_failed(
        &record,
        ErrorKind::BodyTooLarge,
        "larger than the 16384 byte limit",
    );
}

#[tokio::test]
async fn invalid_json_fails_a_json_assertion() {
    let target = TargetServer::start().await;
    target.set("/api", Reply::ok("<html>oops</html>"));
    let record = check(json!({"url": target.url("/api"), "expect": {"json": [{"path": "$.status", "equals": "ok"}]}})).await;
    assert_failed(&record, ErrorKind::Assertion, "body is not JSON");
}

#[tokio::test]
async fn a_redirect_loop_fails_with_kind_redirect() {
    let target = TargetServer::start().await;
    target.set("/a", Reply::status(302).with_header("location", "/b"));
    target.set("/b", Reply::status(302).with_header("location", "/a"));
    let record = check(json!({"url": target.url("/a")})).await;
    assert_failed(&record, ErrorKind::Redirect, "redirect loop");
    // Not following redirects: the 302 itself is judged (it is in 200-399).
    let record = check(json!({"url": target.url("/a"), "followRedirects": false})).await;
    assert!(record.ok && record.status_code == Some(302), "{record:?}");
}

#[tokio::test]
async fn a_followed_redirect_ends_at_its_target() {
    let target = TargetServer::start().await;
    target.set("/old", Reply::status(301).with_header("location", "/new"));
    target.set("/new", Reply::ok("moved here"));
    let record =
        check(json!({"url": target.url("/old"), "expect": {"bodyContains": ["moved here"]}})).await;
    assert!(record.ok, "{record:?}");
    assert_eq!(record.status_code, Some(200));
}

#[tokio::test]
async fn a_refused_port_fails_with_kind_connect() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let record = check(json!({"url": format!("http://127.0.0.1:{port}/")})).await;
    assert_failed(
        &record,
        ErrorKind::Connect,
        &format!("cannot connect to 127.0.0.1:{port}"),
    );
}

#[tokio::test]
async fn an_unresolvable_host_fails_with_kind_dns() {
    let record = check(json!({"url": "http://no-such-host.invalid/"})).await;
    assert_failed(
        &record,
        ErrorKind::Dns,
        "cannot resolve no-such-host.invalid",
    );
}

fn self_signed_expiring_in(
    days: i64,
) -> (
    Vec<rustls::pki_types::CertificateDer<'static>>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(days);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
}

#[tokio::test]
async fn a_self_signed_certificate_expiring_soon_is_reported() {
    let (chain, key) = self_signed_expiring_in(5);
    let target = TargetServer::start_tls(chain, key).await;
    target.set("/", Reply::ok("secure"));

    // Verification on: a self-signed certificate is a TLS failure.
    let record = check(json!({"url": target.url("/")})).await;
    assert_failed(&record, ErrorKind::Tls, "TLS handshake failed");
    assert!(
        record.error.as_deref().unwrap().contains("UnknownIssuer"),
        "{record:?}"
    );

    // Verification off: the response passes, the expiry is recorded, and the warning
    // window (14 days) fails the check with kind certificate.
    let record = check(json!({"url": target.url("/"), "tlsVerify": false, "certificateExpiry": {"warningDays": 14}})).await;
    assert_failed(
        &record,
        ErrorKind::Certificate,
        "certificate expires in 4 day(s)",
    );
    let expires = record.cert_expires_at.expect("expiry recorded");
    let days = (expires - Utc::now()).num_hours();
    assert!((4 * 24..=5 * 24).contains(&days), "{expires}");
    assert!(record.timings.tls_ms.is_some() && record.timings.dns_ms.is_some());

    // Without a warning window the same check passes.
    let record = check(json!({"url": target.url("/"), "tlsVerify": false})).await;
    assert!(record.ok, "{record:?}");
    assert!(record.cert_expires_at.is_some());
}

#[tokio::test]
async fn secret_headers_are_sent_after_opening_the_sealed_credentials() {
    let target = TargetServer::start().await;
    target.set("/private", Reply::ok("hi"));
    let mut req = request(json!({
        "url": target.url("/private"),
        "headers": [{"name": "Authorization", "valueFrom": {"name": "api", "key": "token"}}]
    }));
    let client = Client::new(1024, false);
    // Without the credential the check fails clearly instead of sending no header.
    let record = probe::run(&client, &req, &BTreeMap::new()).await;
    assert_failed(&record, ErrorKind::Other, "needs Secret api key token");
    req.monitor_id = 8;
    let credentials = BTreeMap::from([("api/token".to_string(), "Bearer abc".to_string())]);
    let record = probe::run(&client, &req, &credentials).await;
    assert!(record.ok, "{record:?}");
    assert_eq!(
        target.requests_to("/private")[0].headers["authorization"],
        "Bearer abc"
    );
}

#[tokio::test]
async fn reused_connections_skip_connect_and_tls_timings() {
    let target = TargetServer::start().await;
    target.set("/", Reply::ok("x"));
    let client = Client::new(1024, true);
    let first = check_with(&client, json!({"url": target.url("/")})).await;
    let second = check_with(&client, json!({"url": target.url("/")})).await;
    assert!(first.ok && second.ok);
    assert!(first.timings.connect_ms.is_some());
    assert_eq!(
        second.timings.connect_ms, None,
        "the idle connection was reused"
    );
}
