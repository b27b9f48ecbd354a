//! Monitor state: consecutive failures and successes, health and the last-check fields,
//! kept in MySQL's `monitor_state` (where the operator's status sync and `operator status`
//! read it).
//!
//! One transaction per batch: lock the batch's state rows (`SELECT … FOR UPDATE`, ids in
//! ascending order so two replicas lock in the same order), apply the results in slot
//! order with the pure [`apply`], write every row back with one multi-row upsert. Row
//! locks make two replicas processing the same monitor serialise; `last_slot` makes a
//! redelivered or late result a no-op, so counters never double-count.
//!
//! Alert evaluation ([`crate::alerting`]) runs inside the same transaction, per applied
//! result, so incidents and raised notifications commit with the state they follow from.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use crds::{Health, contract::TelemetryRecord};
use sqlx::MySqlPool;

use crate::{
    Result,
    alerting::{Evaluator, rules::MonitorInfo},
};

/// A monitor's state as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct State {
    /// `monitors.id`.
    pub monitor_id: u64,
    /// Pending, Up, Down or Paused.
    pub health: String,
    /// When health last changed.
    pub health_since: Option<NaiveDateTime>,
    /// Failed checks in a row.
    pub consecutive_failures: u32,
    /// Passed checks in a row.
    pub consecutive_successes: u32,
    /// Newest slot applied.
    pub last_slot: Option<NaiveDateTime>,
    /// The open incident while Down.
    pub current_incident_id: Option<String>,
}

/// Name, URL and labels of the monitors in `ids`, read without locks (the monitors table
/// is the operator's and the scheduler's; locking it here would make the scheduler skip
/// those monitors for a tick).
async fn monitors(
    tx: &mut sqlx::MySqlConnection,
    ids: &[u64],
) -> Result<BTreeMap<u64, MonitorInfo>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut select = sqlx::QueryBuilder::new(
        "SELECT id, namespace, name, url, labels FROM monitors WHERE id IN (",
    );
    let mut list = select.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    select.push(")");
    let rows: Vec<(u64, String, String, String, String)> =
        select.build_query_as().fetch_all(&mut *tx).await?;
    Ok(rows
        .into_iter()
        .map(|(id, namespace, name, url, labels)| {
            let labels = serde_json::from_str(&labels).unwrap_or_default();
            (
                id,
                MonitorInfo {
                    id,
                    namespace,
                    name,
                    url,
                    labels,
                },
            )
        })
        .collect())
}

/// What a batch changed.
#[derive(Debug, Default)]
pub struct Applied {
    /// Every applied result's transition, in slot order per monitor.
    pub transitions: Vec<Transition>,
    /// Notifications raised (committed; to be published).
    pub notifications: Vec<crds::contract::Notification>,
}

/// What applying a result changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Monitor.
    pub monitor_id: u64,
    /// Health before.
    pub from: Health,
    /// Health after.
    pub to: Health,
    /// Failures in a row after this result.
    pub consecutive_failures: u32,
    /// The result's slot.
    pub slot: DateTime<Utc>,
}

/// Applies one result to a state. `None` when the result changes nothing: its slot is not
/// newer than the last applied (a redelivery or a late duplicate), or the monitor is
/// paused (a check already in flight when it was paused).
pub fn apply(state: &State, record: &TelemetryRecord) -> Option<(State, Transition)> {
    let slot = record.scheduled_at.naive_utc();
    if state.last_slot.is_some_and(|last| slot <= last) {
        return None;
    }
    let from = Health::parse(&state.health).unwrap_or(Health::Pending);
    if from == Health::Paused {
        return None;
    }
    let to = if record.ok { Health::Up } else { Health::Down };
    let mut next = state.clone();
    next.last_slot = Some(slot);
    if record.ok {
        next.consecutive_failures = 0;
        next.consecutive_successes = state.consecutive_successes.saturating_add(1);
    } else {
        next.consecutive_successes = 0;
        next.consecutive_failures = state.consecutive_failures.saturating_add(1);
    }
    if from != to {
        next.health = to.as_str().to_string();
        next.health_since = Some(record.started_at.naive_utc());
    }
    let transition = Transition {
        monitor_id: state.monitor_id,
        from,
        to,
        consecutive_failures: next.consecutive_failures,
        slot: record.scheduled_at,
    };
    Some((next, transition))
}

/// Applies a batch of results in one transaction, evaluating alerts with `evaluator`
/// when given; returns what changed. Results of monitors that no longer exist are dropped.
///
/// # Errors
/// MySQL (or, while evaluating, Redis) errors: the caller nacks the batch; nothing was
/// written.
pub async fn apply_batch(
    pool: &MySqlPool,
    records: &[TelemetryRecord],
    evaluator: Option<&Evaluator>,
) -> Result<Applied> {
    if records.is_empty() {
        return Ok(Applied::default());
    }
    let mut by_monitor: BTreeMap<u64, Vec<&TelemetryRecord>> = BTreeMap::new();
    for record in records {
        by_monitor
            .entry(record.monitor_id)
            .or_default()
            .push(record);
    }
    let mut tx = pool.begin().await?;
    let mut select = sqlx::QueryBuilder::new(
        "SELECT monitor_id, health, health_since, consecutive_failures, consecutive_successes, \
         last_slot, current_incident_id FROM monitor_state WHERE monitor_id IN (",
    );
    let mut ids = select.separated(", ");
    for id in by_monitor.keys() {
        ids.push_bind(*id);
    }
    select.push(") ORDER BY monitor_id FOR UPDATE");
    let states: Vec<State> = select.build_query_as().fetch_all(&mut *tx).await?;

    // Only failures and possible recoveries are evaluated; the common Up → Up result needs
    // no monitor details.
    let to_evaluate: Vec<u64> = if evaluator.is_some() {
        states
            .iter()
            .filter(|state| {
                state.health == Health::Down.as_str()
                    || by_monitor
                        .get(&state.monitor_id)
                        .is_some_and(|results| results.iter().any(|r| !r.ok))
            })
            .map(|state| state.monitor_id)
            .collect()
    } else {
        Vec::new()
    };
    let infos = monitors(&mut tx, &to_evaluate).await?;

    let mut applied = Applied::default();
    let mut rows = Vec::new();
    for mut state in states {
        let monitor = infos.get(&state.monitor_id);
        let mut results = by_monitor.remove(&state.monitor_id).unwrap_or_default();
        results.sort_by_key(|r| r.scheduled_at);
        let mut last: Option<&TelemetryRecord> = None;
        for record in results {
            if let Some((mut next, transition)) = apply(&state, record) {
                if let (Some(evaluator), Some(monitor)) = (evaluator, monitor) {
                    let raised = evaluator
                        .evaluate(&mut tx, monitor, &state, &mut next, &transition, record)
                        .await?;
                    applied.notifications.extend(raised);
                }
                state = next;
                applied.transitions.push(transition);
                last = Some(record);
            }
        }
        if let Some(record) = last {
            rows.push((state, record));
        }
    }
    if !rows.is_empty() {
        let mut upsert = sqlx::QueryBuilder::new(
            "INSERT INTO monitor_state (monitor_id, health, health_since, consecutive_failures, \
             consecutive_successes, last_slot, last_check_at, last_status_code, last_latency_ms, \
             last_error_kind, last_error, cert_expires_at, current_incident_id) ",
        );
        upsert.push_values(&rows, |mut row, (state, record)| {
            row.push_bind(state.monitor_id)
                .push_bind(&state.health)
                .push_bind(state.health_since)
                .push_bind(state.consecutive_failures)
                .push_bind(state.consecutive_successes)
                .push_bind(state.last_slot)
                .push_bind(record.started_at.naive_utc())
                .push_bind(record.status_code)
                .push_bind(record.latency_ms)
                .push_bind(record.error_kind.map(|k| k.as_str()))
                .push_bind(record.error.as_deref())
                .push_bind(record.cert_expires_at.map(|t| t.naive_utc()))
                .push_bind(&state.current_incident_id);
        });
        upsert.push(
            " ON DUPLICATE KEY UPDATE health = VALUES(health), health_since = VALUES(health_since), \
             consecutive_failures = VALUES(consecutive_failures), \
             consecutive_successes = VALUES(consecutive_successes), last_slot = VALUES(last_slot), \
             last_check_at = VALUES(last_check_at), last_status_code = VALUES(last_status_code), \
             last_latency_ms = VALUES(last_latency_ms), last_error_kind = VALUES(last_error_kind), \
             last_error = VALUES(last_error), \
             cert_expires_at = COALESCE(VALUES(cert_expires_at), cert_expires_at), \
             current_incident_id = VALUES(current_incident_id)",
        );
        upsert.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn state(health: &str, failures: u32, last_slot: Option<i64>) -> State {
        State {
            monitor_id: 1,
            health: health.into(),
            health_since: None,
            consecutive_failures: failures,
            consecutive_successes: 0,
            last_slot: last_slot.map(|s| Utc.timestamp_opt(s, 0).unwrap().naive_utc()),
            current_incident_id: None,
        }
    }

    fn record(slot: i64, ok: bool) -> TelemetryRecord {
        TelemetryRecord {
            v: 1,
            monitor_id: 1,
            scheduled_at: Utc.timestamp_opt(slot, 0).unwrap(),
            started_at: Utc.timestamp_opt(slot, 0).unwrap(),
            generation: 1,
            ok,
            status_code: None,
            latency_ms: 1,
            timings: Default::default(),
            error_kind: None,
            error: None,
            cert_expires_at: None,
        }
    }

    #[test]
    fn failures_count_up_and_a_success_resets_them() {
        let (s1, t1) = apply(&state("Pending", 0, None), &record(10, false)).unwrap();
        assert_eq!(
            (t1.from, t1.to, s1.consecutive_failures),
            (Health::Pending, Health::Down, 1)
        );
        let (s2, t2) = apply(&s1, &record(20, false)).unwrap();
        assert_eq!(
            (t2.from, t2.to, s2.consecutive_failures),
            (Health::Down, Health::Down, 2)
        );
        assert_eq!(
            s2.health_since, s1.health_since,
            "no transition, same since"
        );
        let (s3, t3) = apply(&s2, &record(30, true)).unwrap();
        assert_eq!(
            (
                t3.from,
                t3.to,
                s3.consecutive_failures,
                s3.consecutive_successes
            ),
            (Health::Down, Health::Up, 0, 1)
        );
    }

    #[test]
    fn redelivered_or_older_results_change_nothing() {
        let (s1, _) = apply(&state("Up", 0, None), &record(10, false)).unwrap();
        assert_eq!(apply(&s1, &record(10, false)), None, "same slot again");
        assert_eq!(apply(&s1, &record(5, false)), None, "an older slot");
    }

    #[test]
    fn paused_monitors_ignore_results_in_flight() {
        assert_eq!(apply(&state("Paused", 0, None), &record(10, false)), None);
    }
}
