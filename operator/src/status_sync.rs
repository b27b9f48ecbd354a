//! Status sync (leader only): copies each monitor's live state from MySQL into
//! `Monitor.status`, only when it changed, within a patches-per-second budget, and
//! publishes `MonitorDown` / `MonitorRecovered` Events on health transitions.
//!
//! ```text
//!  every interval: monitors ⨝ monitor_state (+ uptime, refreshed less often)
//!      └─► status per monitor ── same as last sent? skip
//!                              └─ changed ─► queue (health transitions first)
//!  queue ─► at most `budget` server-side-apply patches per second; the rest wait for the
//!           next round (a change that keeps changing is simply sent later, newest value)
//! ```
//!
//! The patches use their own field manager, so they never touch the controllers'
//! `observedGeneration` and `conditions`; a field that becomes empty (the error after a
//! recovery) is dropped from the applied object and so removed from status.

use std::{collections::HashMap, time::Duration};

use chrono::{NaiveDateTime, Utc};
use crds::{Health, Monitor};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::{
    Api, Client, ResourceExt,
    api::{ListParams, Patch, PatchParams},
    runtime::events::{Event, EventType, Recorder},
};
use serde_json::{Value, json};
use sqlx::MySqlPool;
use tokio::sync::watch;

use crate::{Result, uptime};

/// Field manager of the status sync's patches.
pub const FIELD_MANAGER: &str = "uptime-sentinel-status-sync";

/// Tuning of the loop.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How often MySQL is read.
    pub interval: Duration,
    /// How often uptime percentages are recomputed (they move slowly and cost more).
    pub uptime_interval: Duration,
    /// Status patches per second at most, so 10,000 monitors cannot flood the API server.
    pub patches_per_second: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(2),
            uptime_interval: Duration::from_secs(60),
            patches_per_second: 50,
        }
    }
}

/// One monitor's live state as stored in MySQL.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StateRow {
    /// `monitors.id`.
    pub id: u64,
    /// Kubernetes UID.
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Pending, Up, Down or Paused.
    pub health: String,
    /// When health last changed.
    pub health_since: Option<NaiveDateTime>,
    /// Failed checks in a row.
    pub consecutive_failures: u32,
    /// When the last check ran.
    pub last_check_at: Option<NaiveDateTime>,
    /// Last HTTP status.
    pub last_status_code: Option<u16>,
    /// Last latency.
    pub last_latency_ms: Option<u32>,
    /// Last error class.
    pub last_error_kind: Option<String>,
    /// Last error message.
    pub last_error: Option<String>,
    /// TLS certificate expiry.
    pub cert_expires_at: Option<NaiveDateTime>,
    /// Open incident.
    pub current_incident_id: Option<String>,
}

/// Reads every monitor's state.
///
/// # Errors
/// MySQL errors.
pub async fn read_states(pool: &MySqlPool) -> Result<Vec<StateRow>> {
    Ok(sqlx::query_as(
        "SELECT m.id, m.uid, m.namespace, m.name, s.health, s.health_since, s.consecutive_failures, \
         s.last_check_at, s.last_status_code, s.last_latency_ms, s.last_error_kind, s.last_error, \
         s.cert_expires_at, s.current_incident_id \
         FROM monitors m JOIN monitor_state s ON s.monitor_id = m.id ORDER BY m.id",
    )
    .fetch_all(pool)
    .await?)
}

fn time(t: Option<NaiveDateTime>) -> Option<String> {
    t.map(|t| {
        // Kubernetes `Time` is RFC 3339 with second precision.
        t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
    })
}

/// The status fields the sync owns, for one monitor. Absent values are left out, so
/// server-side apply removes them from status.
pub fn build_status(row: &StateRow, uptime: Option<&uptime::Uptimes>) -> Value {
    let mut status = serde_json::Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            status.insert(key.to_string(), value);
        }
    };
    put("health", Some(row.health.clone().into()));
    put("healthSince", time(row.health_since).map(Into::into));
    put("lastCheckTime", time(row.last_check_at).map(Into::into));
    put("lastStatusCode", row.last_status_code.map(Into::into));
    put("lastLatencyMs", row.last_latency_ms.map(Into::into));
    put("lastErrorKind", row.last_error_kind.clone().map(Into::into));
    put("lastError", row.last_error.clone().map(Into::into));
    put("consecutiveFailures", Some(row.consecutive_failures.into()));
    put(
        "certificateExpiresAt",
        time(row.cert_expires_at).map(Into::into),
    );
    put(
        "currentIncident",
        row.current_incident_id.clone().map(Into::into),
    );
    if let Some(u) = uptime {
        let mut windows = serde_json::Map::new();
        for (key, totals) in [
            ("last24h", &u.day),
            ("last7d", &u.week),
            ("last30d", &u.month),
        ] {
            if let Some(text) = uptime::format_percent(totals) {
                windows.insert(key.into(), text.into());
            }
        }
        if !windows.is_empty() {
            put("uptime", Some(Value::Object(windows)));
        }
    }
    Value::Object(status)
}

/// The loop's memory between rounds.
#[derive(Default)]
pub struct SyncState {
    /// Last status sent per uid.
    sent: HashMap<String, Value>,
    /// Last known health per uid (seeded from the objects, so a restart does not repeat
    /// Events).
    health: HashMap<String, String>,
    /// Uptimes and when they were computed.
    uptimes: HashMap<u64, uptime::Uptimes>,
    uptimes_at: Option<tokio::time::Instant>,
}

/// The status sync.
pub struct StatusSync {
    client: Client,
    pool: MySqlPool,
    recorder: Recorder,
    options: Options,
}

impl StatusSync {
    /// A sync writing through `client`, reading `pool`.
    pub fn new(client: Client, pool: MySqlPool, recorder: Recorder, options: Options) -> Self {
        Self {
            client,
            pool,
            recorder,
            options,
        }
    }

    /// Runs while `leader` says so, until `shutdown` resolves.
    pub async fn run(
        self,
        mut leader: watch::Receiver<bool>,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut state: Option<SyncState> = None;
        let mut ticker = tokio::time::interval(self.options.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticker.tick() => {}
                _ = leader.changed() => {}
            }
            if !*leader.borrow() {
                state = None;
                continue;
            }
            let current = match state.as_mut() {
                Some(s) => s,
                None => match self.seed().await {
                    Ok(s) => state.insert(s),
                    Err(e) => {
                        tracing::warn!(error = %e, "status sync: failed to read monitors");
                        continue;
                    }
                },
            };
            if let Err(e) = self.round(current).await {
                tracing::warn!(error = %e, "status sync round failed");
            }
        }
    }

    /// Starts a leadership term: learns each monitor's current health from its status.
    ///
    /// # Errors
    /// API errors.
    pub async fn seed(&self) -> Result<SyncState> {
        let api: Api<Monitor> = Api::all(self.client.clone());
        let mut state = SyncState::default();
        for monitor in api.list(&ListParams::default()).await? {
            if let (Some(uid), Some(health)) = (
                monitor.uid(),
                monitor.status.as_ref().and_then(|s| s.health),
            ) {
                state.health.insert(uid, health.as_str().to_string());
            }
        }
        Ok(state)
    }

    /// One round: read, diff, patch within the budget. Returns how many patches it sent.
    ///
    /// # Errors
    /// MySQL errors (API errors per monitor are logged and retried next round).
    pub async fn round(&self, state: &mut SyncState) -> Result<usize> {
        let stale = state
            .uptimes_at
            .is_none_or(|at| at.elapsed() >= self.options.uptime_interval);
        if stale {
            state.uptimes = uptime::all(&self.pool, Utc::now()).await?;
            state.uptimes_at = Some(tokio::time::Instant::now());
        }
        let rows = read_states(&self.pool).await?;
        let mut changed: Vec<(bool, StateRow, Value)> = rows
            .into_iter()
            .filter_map(|row| {
                let status = build_status(&row, state.uptimes.get(&row.id));
                if state.sent.get(&row.uid) == Some(&status) {
                    return None;
                }
                let transition = state.health.get(&row.uid).is_some_and(|h| *h != row.health);
                Some((transition, row, status))
            })
            .collect();
        // Health transitions first: they matter most when the budget is short.
        changed.sort_by_key(|(transition, ..)| !*transition);
        let budget = usize::try_from(self.options.patches_per_second.max(1)).unwrap_or(usize::MAX);
        let per_patch = Duration::from_secs(1) / u32::try_from(budget).unwrap_or(u32::MAX);
        let round_budget = budget
            .saturating_mul(usize::try_from(self.options.interval.as_secs().max(1)).unwrap_or(1));
        let mut sent = 0;
        for (_, row, status) in changed.into_iter().take(round_budget) {
            if sent > 0 {
                tokio::time::sleep(per_patch).await;
            }
            match self.patch(&row, &status).await {
                Ok(()) => {
                    sent += 1;
                    self.announce(state, &row).await;
                    state.sent.insert(row.uid.clone(), status);
                }
                Err(e) => tracing::warn!(
                    namespace = %row.namespace, name = %row.name, error = %e,
                    "failed to update monitor status"
                ),
            }
        }
        Ok(sent)
    }

    async fn patch(&self, row: &StateRow, status: &Value) -> Result<()> {
        let api: Api<Monitor> = Api::namespaced(self.client.clone(), &row.namespace);
        let patch = json!({
            "apiVersion": "uptimesentinel.io/v1alpha1",
            "kind": "Monitor",
            "status": status,
        });
        match api
            .patch_status(
                &row.name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(patch),
            )
            .await
        {
            Ok(_) => Ok(()),
            // Deleted meanwhile: its rows go with the finalizer; nothing to report.
            Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Publishes `MonitorDown` / `MonitorRecovered` when health changed since last seen.
    async fn announce(&self, state: &mut SyncState, row: &StateRow) {
        let previous = state.health.insert(row.uid.clone(), row.health.clone());
        let Some(previous) = previous else { return };
        if previous == row.health {
            return;
        }
        let (type_, reason, note) = match (Health::parse(&previous), Health::parse(&row.health)) {
            (_, Some(Health::Down)) => (
                EventType::Warning,
                "MonitorDown",
                format!(
                    "down after {} failed check(s): {}",
                    row.consecutive_failures,
                    row.last_error.as_deref().unwrap_or("no error recorded")
                ),
            ),
            (Some(Health::Down), Some(Health::Up)) => (
                EventType::Normal,
                "MonitorRecovered",
                format!(
                    "up again: the last check passed{}",
                    row.last_latency_ms
                        .map(|ms| format!(" in {ms} ms"))
                        .unwrap_or_default()
                ),
            ),
            _ => return,
        };
        let reference = ObjectReference {
            api_version: Some("uptimesentinel.io/v1alpha1".into()),
            kind: Some("Monitor".into()),
            name: Some(row.name.clone()),
            namespace: Some(row.namespace.clone()),
            uid: Some(row.uid.clone()),
            ..Default::default()
        };
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(note),
            action: "HealthChanged".into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &reference).await {
            tracing::warn!(error = %e, "failed to publish a health Event");
        }
    }
}
