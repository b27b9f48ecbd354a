//! `operator run --manifests DIR`: keeps MySQL in line with a directory of manifests.
//!
//! Every poll reads the directory, applies objects whose content (or referenced Secrets)
//! changed or whose last apply failed, and removes the rows of objects whose manifests
//! are gone. While any file fails to parse nothing is removed: a half-saved file must not
//! delete the monitors it holds. A directory whose files are unchanged since a pass that
//! applied everything is not read again; monitors are stored in batches.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    time::Duration,
};

use crds::manifest::Manifest;

use super::load::{DirStamp, Loaded, load_dir, stamp_dir};
use crate::{
    Result,
    apply::{self, Object, uid_of},
    references::References,
    store::{Change, Store, Table},
};

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    /// Objects stored or updated.
    pub applied: usize,
    /// Objects that failed (invalid, missing reference, database).
    pub failed: usize,
    /// Rows removed because their manifest disappeared.
    pub removed: usize,
    /// Whether removal was skipped because a file did not parse.
    pub removal_skipped: bool,
}

/// The reconcile loop over a directory.
pub struct DirectoryReconciler {
    dir: PathBuf,
    store: Store,
    /// uid → fingerprint of what was last applied successfully.
    applied: HashMap<String, String>,
    /// uid → last error text, so a persistent error is logged once, not every poll.
    errors: HashMap<String, String>,
    /// The directory as it was when a pass last applied everything: while it is unchanged
    /// a poll costs a few `stat` calls instead of parsing every manifest again.
    clean: Option<DirStamp>,
}

impl DirectoryReconciler {
    /// Reconciles `dir` into `store`.
    pub fn new(dir: PathBuf, store: Store) -> Self {
        Self {
            dir,
            store,
            applied: HashMap::new(),
            errors: HashMap::new(),
            clean: None,
        }
    }

    /// Polls every `interval` until `shutdown` resolves.
    pub async fn run(
        mut self,
        interval: Duration,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                _ = ticker.tick() => {}
            }
            if let Err(e) = self.pass().await {
                tracing::warn!(dir = %self.dir.display(), error = %e, "standalone pass failed");
            }
        }
    }

    /// One pass over the directory.
    ///
    /// # Errors
    /// Reading the directory, or listing stored rows, failed.
    pub async fn pass(&mut self) -> Result<PassReport> {
        let stamp = stamp_dir(&self.dir)?;
        if self.clean.as_ref() == Some(&stamp) {
            return Ok(PassReport::default());
        }
        let loaded = load_dir(&self.dir)?;
        let references = loaded.references();
        let mut report = PassReport::default();
        for document in loaded.documents.iter().filter(|d| d.parsed.is_err()) {
            if let Err(e) = &document.parsed {
                let key = format!("{}:{}", document.path.display(), document.line);
                if self.errors.insert(key, e.message.clone()).as_ref() != Some(&e.message) {
                    tracing::warn!(file = %document.path.display(), line = document.line,
                        object = %e.object, error = %e.message, "manifest does not parse");
                }
            }
        }
        let mut present: HashMap<Table, HashSet<String>> = HashMap::new();
        for table in Table::ALL {
            let mut pending = Vec::new();
            for (uid, object, fingerprint) in objects(&loaded, table, &references).await {
                present.entry(table).or_default().insert(uid.clone());
                if self.applied.get(&uid) != Some(&fingerprint) {
                    pending.push((uid, object, fingerprint));
                }
            }
            let outcomes = if table == Table::Monitors {
                let monitors: Vec<(&str, &crds::Monitor)> = pending
                    .iter()
                    .filter_map(|(uid, object, _)| match object {
                        Owned::Monitor(m) => Some((uid.as_str(), m.as_ref())),
                        _ => None,
                    })
                    .collect();
                apply::apply_monitors(&self.store, &references, &monitors).await
            } else {
                let mut outcomes = Vec::with_capacity(pending.len());
                for (uid, object, _) in &pending {
                    outcomes.push(
                        apply::apply(&self.store, &references, uid, object.as_object()).await,
                    );
                }
                outcomes
            };
            for ((uid, object, fingerprint), outcome) in pending.into_iter().zip(outcomes) {
                self.record(&mut report, uid, &object, fingerprint, outcome);
            }
        }
        if loaded.has_parse_errors() {
            report.removal_skipped = true;
            return Ok(report);
        }
        for table in Table::ALL {
            let keep = present.remove(&table).unwrap_or_default();
            for uid in self.store.uids(table).await? {
                if !keep.contains(&uid) && apply::cleanup(&self.store, table, &uid).await? {
                    report.removed += 1;
                    self.applied.remove(&uid);
                    tracing::info!(table = table.name(), %uid, "removed: its manifest is gone");
                }
            }
        }
        if report.failed == 0 {
            self.clean = Some(stamp);
        }
        Ok(report)
    }

    /// Remembers the outcome of applying one object and logs it (an error once, not on
    /// every poll).
    fn record(
        &mut self,
        report: &mut PassReport,
        uid: String,
        object: &Owned,
        fingerprint: String,
        outcome: Result<Change>,
    ) {
        match outcome {
            Ok(change) => {
                report.applied += 1;
                self.errors.remove(&uid);
                self.applied.insert(uid, fingerprint);
                if change != Change::Refreshed {
                    tracing::info!(object = %object.as_object().describe(), ?change, "applied");
                }
            }
            Err(e) => {
                report.failed += 1;
                self.applied.remove(&uid);
                let text = e.to_string();
                if self.errors.insert(uid, text.clone()).as_ref() != Some(&text) {
                    tracing::warn!(object = %object.as_object().describe(),
                        reason = e.reason(), error = %text, "not applied");
                }
            }
        }
    }
}

/// An owned object of one of the four kinds.
enum Owned {
    Monitor(Box<crds::Monitor>),
    AlertRule(Box<crds::AlertRule>),
    EscalationPolicy(Box<crds::EscalationPolicy>),
    NotificationChannel(Box<crds::NotificationChannel>),
}

impl Owned {
    fn as_object(&self) -> Object<'_> {
        match self {
            Self::Monitor(o) => Object::Monitor(o),
            Self::AlertRule(o) => Object::AlertRule(o),
            Self::EscalationPolicy(o) => Object::EscalationPolicy(o),
            Self::NotificationChannel(o) => Object::NotificationChannel(o),
        }
    }
}

/// The objects of `table` in the set, with their uid and a fingerprint of everything the
/// stored row depends on (the object and the Secrets it reads).
async fn objects<R: References>(
    loaded: &Loaded,
    table: Table,
    references: &R,
) -> Vec<(String, Owned, String)> {
    let mut out = Vec::new();
    for (_, manifest) in loaded.manifests() {
        let (uid, owned, json, secret_names) = match (table, manifest) {
            (Table::Monitors, Manifest::Monitor(o)) => (
                uid_of(o.as_ref()),
                Owned::Monitor(o.clone()),
                serde_json::to_string(o),
                o.spec
                    .headers
                    .iter()
                    .filter_map(|h| h.value_from.as_ref().map(|f| f.name.clone()))
                    .collect::<Vec<_>>(),
            ),
            (Table::AlertRules, Manifest::AlertRule(o)) => (
                uid_of(o.as_ref()),
                Owned::AlertRule(o.clone()),
                serde_json::to_string(o),
                vec![],
            ),
            (Table::EscalationPolicies, Manifest::EscalationPolicy(o)) => (
                uid_of(o.as_ref()),
                Owned::EscalationPolicy(o.clone()),
                serde_json::to_string(o),
                vec![],
            ),
            (Table::NotificationChannels, Manifest::NotificationChannel(o)) => (
                uid_of(o.as_ref()),
                Owned::NotificationChannel(o.clone()),
                serde_json::to_string(o),
                o.spec.secret_ref.iter().map(|s| s.name.clone()).collect(),
            ),
            _ => continue,
        };
        let namespace = super::load::namespace(match &owned {
            Owned::Monitor(o) => &o.metadata,
            Owned::AlertRule(o) => &o.metadata,
            Owned::EscalationPolicy(o) => &o.metadata,
            Owned::NotificationChannel(o) => &o.metadata,
        });
        let mut fingerprint = json.unwrap_or_default();
        for name in secret_names {
            if let Ok(secret) = references.secret(&namespace, &name).await {
                fingerprint.push_str(&serde_json::to_string(&secret).unwrap_or_default());
            }
        }
        // References to channels matter too: a rule whose channel appears must be retried.
        if let Owned::AlertRule(o) = &owned {
            let exists = references
                .channel_exists(&namespace, &o.spec.channel_ref)
                .await;
            fingerprint.push_str(&format!("{exists:?}"));
        }
        if let Owned::EscalationPolicy(o) = &owned {
            for level in &o.spec.levels {
                let exists = references
                    .channel_exists(&namespace, &level.channel_ref)
                    .await;
                fingerprint.push_str(&format!("{exists:?}"));
            }
        }
        out.push((uid, owned, fingerprint));
    }
    out
}
