//! `alert_rules`, `escalation_policies` and their `escalation_levels`.
//!
//! Selectors are stored as given (JSON) next to `monitors.labels`; the checker resolves
//! which monitors a rule covers when it loads its rule cache (see the README: "where
//! selectors are resolved"), so a monitor created later is covered without touching the
//! rule's row.

use crds::{AlertRule, EscalationPolicy};

use super::{Change, Store, Table, change, lock_row};
use crate::Result;

/// Identity of an object being stored.
#[derive(Clone, Copy, Debug)]
pub struct Identity<'a> {
    /// Kubernetes UID.
    pub uid: &'a str,
    /// Namespace.
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// `metadata.generation`.
    pub generation: i64,
}

fn selector_json<T: serde::Serialize>(selector: Option<&T>) -> Option<String> {
    selector.map(|s| serde_json::to_string(s).expect("a label selector serialises"))
}

impl Store {
    /// Inserts or updates an AlertRule.
    ///
    /// # Errors
    /// MySQL errors.
    pub async fn upsert_alert_rule(&self, who: Identity<'_>, rule: &AlertRule) -> Result<Change> {
        let spec = &rule.spec;
        let cooldown_ms = u64::try_from(spec.cooldown().as_millis()).unwrap_or(u64::MAX);
        let mut tx = self.pool.begin().await?;
        let existing =
            lock_row(&mut tx, Table::AlertRules, who.uid, who.namespace, who.name).await?;
        sqlx::query(
            "INSERT INTO alert_rules (uid, namespace, name, generation, monitor_ref, monitor_selector, \
             channel_ref, alert_type, failure_threshold, cooldown_ms, enabled) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE namespace = VALUES(namespace), name = VALUES(name), \
               generation = VALUES(generation), monitor_ref = VALUES(monitor_ref), \
               monitor_selector = VALUES(monitor_selector), channel_ref = VALUES(channel_ref), \
               alert_type = VALUES(alert_type), failure_threshold = VALUES(failure_threshold), \
               cooldown_ms = VALUES(cooldown_ms), enabled = VALUES(enabled)",
        )
        .bind(who.uid)
        .bind(who.namespace)
        .bind(who.name)
        .bind(who.generation)
        .bind(&spec.monitor_ref)
        .bind(selector_json(spec.monitor_selector.as_ref()))
        .bind(&spec.channel_ref)
        .bind(spec.alert_type.as_str())
        .bind(spec.failure_threshold)
        .bind(cooldown_ms)
        .bind(spec.enabled)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(change(existing, who.generation))
    }

    /// Inserts or updates an EscalationPolicy and replaces its levels.
    ///
    /// # Errors
    /// MySQL errors.
    pub async fn upsert_escalation_policy(
        &self,
        who: Identity<'_>,
        policy: &EscalationPolicy,
    ) -> Result<Change> {
        let spec = &policy.spec;
        let mut tx = self.pool.begin().await?;
        let existing = lock_row(
            &mut tx,
            Table::EscalationPolicies,
            who.uid,
            who.namespace,
            who.name,
        )
        .await?;
        let id = match existing {
            Some((id, _)) => {
                sqlx::query(
                    "UPDATE escalation_policies SET namespace = ?, name = ?, generation = ?, \
                     monitor_ref = ?, monitor_selector = ?, enabled = ? WHERE id = ?",
                )
                .bind(who.namespace)
                .bind(who.name)
                .bind(who.generation)
                .bind(&spec.monitor_ref)
                .bind(selector_json(spec.monitor_selector.as_ref()))
                .bind(spec.enabled)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM escalation_levels WHERE policy_id = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                id
            }
            None => sqlx::query(
                "INSERT INTO escalation_policies (uid, namespace, name, generation, monitor_ref, \
                 monitor_selector, enabled) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(who.uid)
            .bind(who.namespace)
            .bind(who.name)
            .bind(who.generation)
            .bind(&spec.monitor_ref)
            .bind(selector_json(spec.monitor_selector.as_ref()))
            .bind(spec.enabled)
            .execute(&mut *tx)
            .await?
            .last_insert_id(),
        };
        for (index, level) in spec.levels.iter().enumerate() {
            sqlx::query(
                "INSERT INTO escalation_levels (policy_id, level, after_failures, channel_ref) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(id)
            .bind(u32::try_from(index + 1).unwrap_or(u32::MAX))
            .bind(level.after_failures)
            .bind(&level.channel_ref)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(change(existing, who.generation))
    }
}
