//! The generic webhook: a documented JSON body, signed.
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! X-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the signingSecret>
//! X-Sentinel-Event: failure | recovery | escalation
//! X-Sentinel-Idempotency-Key: <key; the same on every retry of one notification>
//!
//! {"version":1,"event":"escalation","level":2,"idempotencyKey":"…","incidentId":"…",
//!  "monitor":{"id":9,"namespace":"shop","name":"checkout","url":"https://…"},
//!  "consecutiveFailures":10,"since":"2026-11-23T10:00:00Z","slot":"2026-11-23T10:15:00Z",
//!  "error":"HTTP 503","errorKind":"status","title":"…","summary":"…"}
//! ```
//!
//! A receiver verifies the signature over the exact bytes it received and may deduplicate
//! on the idempotency key (the one duplicate window left is documented in the README).

use crds::contract::Notification;
use ring::hmac;
use serde_json::json;

use super::post_bytes;
use crate::{Result, notify::message::Message};

/// The body a webhook receiver gets.
pub fn body(notification: &Notification, message: &Message) -> serde_json::Value {
    json!({
        "version": 1,
        "event": notification.kind.as_str(),
        "level": notification.level,
        "idempotencyKey": notification.key,
        "incidentId": notification.incident_id,
        "monitor": {
            "id": notification.monitor.id,
            "namespace": notification.monitor.namespace,
            "name": notification.monitor.name,
            "url": notification.monitor.url,
        },
        "consecutiveFailures": notification.consecutive_failures,
        "since": notification.since,
        "slot": notification.slot,
        "error": notification.error,
        "errorKind": notification.error_kind.map(|k| k.as_str()),
        "title": message.title,
        "summary": message.summary,
    })
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `body`).
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, body);
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

pub(super) async fn send(
    http: &reqwest::Client,
    url: &str,
    signing_secret: Option<&str>,
    notification: &Notification,
    message: &Message,
) -> Result<()> {
    let bytes = serde_json::to_vec(&body(notification, message)).expect("JSON values serialise");
    let mut headers = vec![
        ("X-Sentinel-Event", notification.kind.as_str().to_string()),
        ("X-Sentinel-Idempotency-Key", notification.key.clone()),
    ];
    if let Some(secret) = signing_secret {
        headers.push(("X-Signature", signature(secret, &bytes)));
    }
    post_bytes(http, url, bytes, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
