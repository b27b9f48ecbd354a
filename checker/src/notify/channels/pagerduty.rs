//! PagerDuty Events API v2: failures and escalations trigger, recoveries resolve, all with
//! `dedup_key` = the incident id, so PagerDuty groups one outage into one incident and
//! resolves exactly that one.

use crds::{
    contract::{Notification, NotificationKind},
    notification_channel::{PagerDutySettings, PagerDutySeverity},
};
use serde_json::{Value, json};

use super::post_json;
use crate::{Result, notify::message::Message};

/// The event body.
pub fn body(
    routing_key: &str,
    settings: &PagerDutySettings,
    notification: &Notification,
    message: &Message,
) -> Value {
    if notification.kind == NotificationKind::Recovery {
        return json!({
            "routing_key": routing_key,
            "event_action": "resolve",
            "dedup_key": notification.incident_id,
        });
    }
    let details: serde_json::Map<String, Value> = message
        .facts
        .iter()
        .map(|(label, value)| ((*label).to_string(), json!(value)))
        .collect();
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": notification.incident_id,
        "payload": {
            "summary": common::text::truncate(&message.title, 1024),
            "source": notification.monitor.url,
            "severity": severity(settings.severity),
            "timestamp": notification.since,
            "component": format!("{}/{}", notification.monitor.namespace, notification.monitor.name),
            "group": notification.monitor.namespace,
            "class": notification.error_kind.map(|k| k.as_str()),
            "custom_details": details,
        },
        "client": "Uptime Sentinel",
    })
}

fn severity(severity: PagerDutySeverity) -> &'static str {
    match severity {
        PagerDutySeverity::Critical => "critical",
        PagerDutySeverity::Error => "error",
        PagerDutySeverity::Warning => "warning",
        PagerDutySeverity::Info => "info",
    }
}

pub(super) async fn send(
    http: &reqwest::Client,
    routing_key: &str,
    settings: &PagerDutySettings,
    notification: &Notification,
    message: &Message,
) -> Result<()> {
    let base = settings
        .api_url
        .as_deref()
        .unwrap_or("https://events.pagerduty.com")
        .trim_end_matches('/');
    post_json(
        http,
        &format!("{base}/v2/enqueue"),
        &body(routing_key, settings, notification, message),
        &[],
    )
    .await
}
