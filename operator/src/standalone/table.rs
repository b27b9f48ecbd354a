//! `operator status`: the monitors as `kubectl get monitors` would show them, from MySQL.

use chrono::{NaiveDateTime, Utc};
use serde::Serialize;
use sqlx::MySqlPool;

use crate::{Result, status_sync::read_states, uptime};

/// One line of the table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StatusLine {
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Checked URL.
    pub url: String,
    /// Pending, Up, Down or Paused.
    pub health: String,
    /// Last latency in ms.
    pub latency_ms: Option<u32>,
    /// Uptime over 24 h in percent.
    pub uptime_24h: Option<f64>,
    /// When the last check ran.
    pub last_check: Option<NaiveDateTime>,
    /// Failed checks in a row.
    pub consecutive_failures: u32,
    /// Last error.
    pub last_error: Option<String>,
}

/// Reads the table, optionally for one namespace.
///
/// # Errors
/// MySQL errors.
pub async fn read(pool: &MySqlPool, namespace: Option<&str>) -> Result<Vec<StatusLine>> {
    let uptimes = uptime::all(pool, Utc::now()).await?;
    let urls: std::collections::HashMap<u64, String> =
        sqlx::query_as::<_, (u64, String)>("SELECT id, url FROM monitors")
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let mut lines: Vec<StatusLine> = read_states(pool)
        .await?
        .into_iter()
        .filter(|row| namespace.is_none_or(|ns| row.namespace == ns))
        .map(|row| StatusLine {
            url: urls.get(&row.id).cloned().unwrap_or_default(),
            uptime_24h: uptimes.get(&row.id).and_then(|u| u.day.uptime_percent()),
            namespace: row.namespace,
            name: row.name,
            health: row.health,
            latency_ms: row.last_latency_ms,
            last_check: row.last_check_at,
            consecutive_failures: row.consecutive_failures,
            last_error: row.last_error,
        })
        .collect();
    lines.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Ok(lines)
}

/// Renders the table with aligned columns (relative LAST CHECK times against `now`).
pub fn render(lines: &[StatusLine], now: NaiveDateTime) -> String {
    let header = [
        "NAMESPACE",
        "NAME",
        "URL",
        "HEALTH",
        "LATENCY",
        "UPTIME",
        "LAST CHECK",
    ];
    let rows: Vec<[String; 7]> = lines
        .iter()
        .map(|l| {
            [
                l.namespace.clone(),
                l.name.clone(),
                l.url.clone(),
                l.health.clone(),
                l.latency_ms
                    .map_or_else(|| "-".into(), |ms| format!("{ms}ms")),
                l.uptime_24h
                    .map_or_else(|| "-".into(), |p| format!("{p:.2}%")),
                l.last_check.map_or_else(|| "-".into(), |t| age(now, t)),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(text.join("   ").trim_end());
        out.push('\n');
    };
    line(&header.map(String::from));
    for row in &rows {
        line(row);
    }
    out
}

/// `kubectl`-style age: `42s`, `5m`, `3h`, `2d`.
fn age(now: NaiveDateTime, then: NaiveDateTime) -> String {
    let seconds = (now - then).num_seconds().max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_aligned_with_relative_times() {
        let now = chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let lines = vec![StatusLine {
            namespace: "shop".into(),
            name: "storefront".into(),
            url: "https://shop.example.com/".into(),
            health: "Up".into(),
            latency_ms: Some(87),
            uptime_24h: Some(99.5),
            last_check: Some(now - chrono::Duration::seconds(7)),
            consecutive_failures: 0,
            last_error: None,
        }];
        let text = render(&lines, now);
        let expected = [
            "NAMESPACE   NAME         URL                         HEALTH   LATENCY   UPTIME   LAST CHECK",
            "shop        storefront   https://shop.example.com/   Up       87ms      99.50%   7s",
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
    }
}
