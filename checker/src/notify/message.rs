//! What a person reads: one rendering of a notification that every channel formats its
//! own way. It says which monitor (namespace/name, URL), what happened (down, recovered,
//! escalation level N), since when, the error and the failure count.

use crds::contract::{Notification, NotificationKind};

/// A rendered notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// One line: `DOWN shop/checkout (5 failures)`.
    pub title: String,
    /// A sentence or two for plain-text channels.
    pub summary: String,
    /// Labelled facts, in display order.
    pub facts: Vec<(&'static str, String)>,
    /// Red, orange or green as 0xRRGGBB (Discord embeds).
    pub color: u32,
}

impl Message {
    /// The facts as `Label: value` lines.
    pub fn text(&self) -> String {
        let mut text = format!("{}\n\n{}\n", self.title, self.summary);
        for (label, value) in &self.facts {
            text.push_str(&format!("\n{label}: {value}"));
        }
        text.push('\n');
        text
    }
}

/// The event name used in payloads and headers.
pub fn event(notification: &Notification) -> &'static str {
    notification.kind.as_str()
}

/// Renders `notification`.
pub fn render(notification: &Notification) -> Message {
    let monitor = format!(
        "{}/{}",
        notification.monitor.namespace, notification.monitor.name
    );
    let failures = notification.consecutive_failures;
    let since = notification
        .since
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let error = match (&notification.error_kind, &notification.error) {
        (Some(kind), Some(error)) => format!("{}: {error}", kind.as_str()),
        (None, Some(error)) => error.clone(),
        (Some(kind), None) => kind.as_str().to_string(),
        (None, None) => "none recorded".to_string(),
    };
    let (title, summary, color) = match notification.kind {
        NotificationKind::Failure => (
            format!("DOWN {monitor} ({failures} failures)"),
            format!(
                "{monitor} ({}) is down since {since}: {failures} checks in a row failed.",
                notification.monitor.url
            ),
            0x00D9_3025,
        ),
        NotificationKind::Escalation => (
            format!(
                "ESCALATION level {} {monitor} ({failures} failures)",
                notification.level.unwrap_or(1)
            ),
            format!(
                "{monitor} ({}) is still down since {since}: {failures} checks in a row failed. \
                 Escalated to level {}.",
                notification.monitor.url,
                notification.level.unwrap_or(1)
            ),
            0x00F2_8C28,
        ),
        NotificationKind::Recovery => {
            let down_for = (notification.slot - notification.since)
                .to_std()
                .map(|d| humantime_short(d.as_secs()))
                .unwrap_or_else(|_| "an unknown time".to_string());
            (
                format!("RECOVERED {monitor}"),
                format!(
                    "{monitor} ({}) is up again after {down_for} (down since {since}).",
                    notification.monitor.url
                ),
                0x002E_B886,
            )
        }
    };
    let mut facts = vec![
        ("Monitor", monitor),
        ("URL", notification.monitor.url.clone()),
        ("Event", event_label(notification)),
        ("Since", since),
    ];
    if notification.kind != NotificationKind::Recovery {
        facts.push(("Failures in a row", failures.to_string()));
    }
    facts.push(("First error", error));
    facts.push(("Incident", notification.incident_id.clone()));
    Message {
        title,
        summary,
        facts,
        color,
    }
}

fn event_label(notification: &Notification) -> String {
    match notification.kind {
        NotificationKind::Failure => "down".to_string(),
        NotificationKind::Recovery => "recovered".to_string(),
        NotificationKind::Escalation => {
            format!("escalation level {}", notification.level.unwrap_or(1))
        }
    }
}

/// `1h 5m`, `12m 30s`, `45s`.
fn humantime_short(seconds: u64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m {s}s"),
        _ => format!("{h}h {m}m"),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use crds::contract::{ErrorKind, MonitorRef};

    use super::*;

    fn notification(kind: NotificationKind) -> Notification {
        Notification {
            v: 1,
            key: "k".into(),
            kind,
            level: Some(2),
            channel_id: 1,
            incident_id: "inc-1".into(),
            monitor: MonitorRef {
                id: 1,
                namespace: "shop".into(),
                name: "checkout".into(),
                url: "https://shop.example.com/health".into(),
            },
            consecutive_failures: 10,
            since: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
            error: Some("HTTP 503".into()),
            error_kind: Some(ErrorKind::Status),
            slot: Utc.with_ymd_and_hms(2026, 11, 23, 11, 5, 0).unwrap(),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn messages_say_which_monitor_what_since_when_and_why() {
        let down = render(&notification(NotificationKind::Escalation)).text();
        for part in [
            "ESCALATION level 2 shop/checkout (10 failures)",
            "https://shop.example.com/health",
            "Since: 2026-11-23T10:00:00Z",
            "Failures in a row: 10",
            "First error: status: HTTP 503",
            "Incident: inc-1",
        ] {
            assert!(down.contains(part), "{part:?} missing from:\n{down}");
        }
        let up = render(&notification(NotificationKind::Recovery)).text();
        assert!(up.contains("RECOVERED shop/checkout"), "{up}");
        assert!(up.contains("up again after 1h 5m"), "{up}");
    }
}
