//! One check: the HTTP exchange under the check's total timeout, then the assertions and
//! the certificate-expiry warning, into a [`TelemetryRecord`]. Never panics, never hangs
//! past the timeout: every failure becomes an error kind and a short message.

pub mod assertions;
pub mod client;
pub mod tls;

use std::{collections::BTreeMap, time::Duration};

use chrono::Utc;
use crds::contract::{self, CheckRequest, ErrorKind, HeaderSource, TelemetryRecord, Timings};

pub use client::Client;

/// Messages are cut to this many characters (the column is VARCHAR(512)).
const MAX_MESSAGE: usize = 500;

/// Runs `request` with `client`. `credentials` are the opened header secrets, keyed
/// `secretName/key`.
pub async fn run(
    client: &Client,
    request: &CheckRequest,
    credentials: &BTreeMap<String, String>,
) -> TelemetryRecord {
    let config = &request.config;
    let started_at = Utc::now();
    let start = std::time::Instant::now();
    let mut record = TelemetryRecord {
        v: contract::VERSION,
        monitor_id: request.monitor_id,
        scheduled_at: request.slot,
        started_at,
        generation: config.generation,
        ok: false,
        status_code: None,
        latency_ms: 0,
        timings: Timings::default(),
        error_kind: None,
        error: None,
        cert_expires_at: None,
    };
    let headers = match resolve_headers(request, credentials) {
        Ok(headers) => headers,
        Err(message) => return finish(record, start, Some((ErrorKind::Other, message))),
    };
    let ask = client::Ask {
        url: &config.url,
        method: &config.method,
        headers: &headers,
        body: config.body.as_deref(),
        follow_redirects: config.follow_redirects,
        tls_verify: config.tls_verify,
    };
    let timeout = Duration::from_millis(config.timeout_ms.max(1));
    let failure = match tokio::time::timeout(timeout, client.exchange(&ask)).await {
        Err(_) => Some((
            ErrorKind::Timeout,
            format!(
                "no complete response within {}",
                crds::duration::format(timeout)
            ),
        )),
        Ok(Err(failure)) => Some((failure.kind, failure.message)),
        Ok(Ok(exchange)) => {
            record.status_code = Some(exchange.status);
            record.timings = exchange.timings;
            record.cert_expires_at = exchange.cert_expires_at;
            let elapsed = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            assertions::evaluate(&config.expect, exchange.status, &exchange.body, elapsed).or_else(
                || certificate_warning(config.certificate_warning_days, exchange.cert_expires_at),
            )
        }
    };
    finish(record, start, failure)
}

fn finish(
    mut record: TelemetryRecord,
    start: std::time::Instant,
    failure: Option<(ErrorKind, String)>,
) -> TelemetryRecord {
    record.latency_ms = u32::try_from(start.elapsed().as_millis()).unwrap_or(u32::MAX);
    match failure {
        None => record.ok = true,
        Some((kind, message)) => {
            record.error_kind = Some(kind);
            record.error = Some(truncate(&message));
        }
    }
    record
}

fn certificate_warning(
    warning_days: Option<u32>,
    expires_at: Option<chrono::DateTime<Utc>>,
) -> Option<(ErrorKind, String)> {
    let (days, expires_at) = (warning_days?, expires_at?);
    let left = (expires_at - Utc::now()).num_days();
    (left < i64::from(days)).then(|| {
        (
            ErrorKind::Certificate,
            if left < 0 {
                format!("certificate expired on {}", expires_at.format("%Y-%m-%d"))
            } else {
                format!(
                    "certificate expires in {left} day(s), on {} (warning at {days} days)",
                    expires_at.format("%Y-%m-%d")
                )
            },
        )
    })
}

fn resolve_headers(
    request: &CheckRequest,
    credentials: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, String> {
    request
        .config
        .headers
        .iter()
        .map(|h| match &h.value {
            HeaderSource::Inline(value) => Ok((h.name.clone(), value.clone())),
            HeaderSource::Secret { name, key } => credentials
                .get(&format!("{name}/{key}"))
                .map(|value| (h.name.clone(), value.clone()))
                .ok_or_else(|| format!("header {} needs Secret {name} key {key}, which this checker cannot open (credentials key missing or different)", h.name)),
        })
        .collect()
}

fn truncate(message: &str) -> String {
    if message.chars().count() <= MAX_MESSAGE {
        return message.to_string();
    }
    let mut out: String = message.chars().take(MAX_MESSAGE).collect();
    out.push('…');
    out
}
