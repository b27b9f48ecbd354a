//! The reconcile core shared by the cluster controllers and standalone mode: validate an
//! object, resolve its references, and store it. No Kubernetes status or Events here; the
//! callers report the outcome their own way (status condition + Event, or a log line).
//!
//! ```text
//!  validate (schema CEL + semantic) ──► references (channels, Secrets) ──► store (MySQL)
//!        │ InvalidSpec                     │ ChannelNotFound / SecretNotFound   │ DatabaseUnavailable
//! ```
//!
//! An object that fails any step writes nothing: a broken edit leaves the last valid
//! version in MySQL (checks keep running with it) until the object is fixed.

use std::collections::BTreeMap;

use crds::{
    AlertRule, EscalationPolicy, Monitor, NotificationChannel, Validate,
    notification_channel::ChannelType,
};
use kube::ResourceExt;

use crate::{
    Error, Result,
    references::References,
    store::{
        Change, Store, Table,
        monitors::{MAX_BATCH, MonitorRow},
        rules::Identity,
    },
};

/// The objects the core reconciles.
#[derive(Clone, Copy, Debug)]
pub enum Object<'a> {
    /// A Monitor.
    Monitor(&'a Monitor),
    /// An AlertRule.
    AlertRule(&'a AlertRule),
    /// An EscalationPolicy.
    EscalationPolicy(&'a EscalationPolicy),
    /// A NotificationChannel.
    NotificationChannel(&'a NotificationChannel),
}

impl Object<'_> {
    /// The table the object is stored in.
    pub fn table(self) -> Table {
        match self {
            Self::Monitor(_) => Table::Monitors,
            Self::AlertRule(_) => Table::AlertRules,
            Self::EscalationPolicy(_) => Table::EscalationPolicies,
            Self::NotificationChannel(_) => Table::NotificationChannels,
        }
    }

    fn meta(self) -> &'static str {
        match self {
            Self::Monitor(_) => "Monitor",
            Self::AlertRule(_) => "AlertRule",
            Self::EscalationPolicy(_) => "EscalationPolicy",
            Self::NotificationChannel(_) => "NotificationChannel",
        }
    }

    fn metadata(&self) -> &kube::api::ObjectMeta {
        match self {
            Self::Monitor(o) => &o.metadata,
            Self::AlertRule(o) => &o.metadata,
            Self::EscalationPolicy(o) => &o.metadata,
            Self::NotificationChannel(o) => &o.metadata,
        }
    }

    /// `Kind/namespace/name`, for logs.
    pub fn describe(&self) -> String {
        let meta = self.metadata();
        format!(
            "{}/{}/{}",
            self.meta(),
            meta.namespace.as_deref().unwrap_or("default"),
            meta.name.as_deref().unwrap_or_default()
        )
    }

    fn validate(self) -> Vec<crds::Problem> {
        match self {
            Self::Monitor(o) => o.validate(),
            Self::AlertRule(o) => o.validate(),
            Self::EscalationPolicy(o) => o.validate(),
            Self::NotificationChannel(o) => o.validate(),
        }
    }
}

/// Validates, resolves and stores `object` under `uid`.
///
/// # Errors
/// [`Error::InvalidSpec`], [`Error::ChannelNotFound`], [`Error::SecretNotFound`],
/// [`Error::NoCredentialsKey`], or a MySQL / API error.
pub async fn apply<R: References>(
    store: &Store,
    references: &R,
    uid: &str,
    object: Object<'_>,
) -> Result<Change> {
    let problems = object.validate();
    if !problems.is_empty() {
        return Err(Error::InvalidSpec(problems));
    }
    let who = identity(uid, object.metadata());
    match object {
        Object::Monitor(monitor) => {
            let row = monitor_row(references, uid, monitor).await?;
            store.upsert_monitor(&row).await
        }
        Object::AlertRule(rule) => {
            require_channel(
                references,
                who.namespace,
                &rule.spec.channel_ref,
                "spec.channelRef",
            )
            .await?;
            store.upsert_alert_rule(who, rule).await
        }
        Object::EscalationPolicy(policy) => {
            for (i, level) in policy.spec.levels.iter().enumerate() {
                require_channel(
                    references,
                    who.namespace,
                    &level.channel_ref,
                    &format!("spec.levels[{i}].channelRef"),
                )
                .await?;
            }
            store.upsert_escalation_policy(who, policy).await
        }
        Object::NotificationChannel(channel) => {
            let credentials = channel_credentials(references, who.namespace, channel).await?;
            store.upsert_channel(who, channel, &credentials).await
        }
    }
}

/// Validates, resolves and stores many monitors: what [`apply`] does for each, with the
/// valid ones written [`MAX_BATCH`] per transaction. A batch the database refuses is
/// retried object by object, so one bad row fails alone and gets its own error.
/// Returns one outcome per input, in order.
pub async fn apply_monitors<R: References>(
    store: &Store,
    references: &R,
    monitors: &[(&str, &Monitor)],
) -> Vec<Result<Change>> {
    let mut outcomes: Vec<Option<Result<Change>>> = Vec::with_capacity(monitors.len());
    let mut ready = Vec::new();
    for (i, (uid, monitor)) in monitors.iter().enumerate() {
        let problems = monitor.validate();
        if !problems.is_empty() {
            outcomes.push(Some(Err(Error::InvalidSpec(problems))));
            continue;
        }
        match monitor_row(references, uid, monitor).await {
            Ok(row) => {
                outcomes.push(None);
                ready.push((i, row));
            }
            Err(e) => outcomes.push(Some(Err(e))),
        }
    }
    for batch in ready.chunks(MAX_BATCH) {
        let rows: Vec<MonitorRow<'_>> = batch.iter().map(|(_, row)| row.clone()).collect();
        match store.upsert_monitors(&rows).await {
            Ok(changes) => {
                for ((i, _), change) in batch.iter().zip(changes) {
                    outcomes[*i] = Some(Ok(change));
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, rows = rows.len(), "batch refused; storing one by one");
                for (i, row) in batch {
                    outcomes[*i] = Some(store.upsert_monitor(row).await);
                }
            }
        }
    }
    outcomes
        .into_iter()
        .map(|o| o.expect("every monitor has an outcome"))
        .collect()
}

/// Removes the object with `uid` from `table`; returns whether it was stored.
///
/// # Errors
/// MySQL errors.
pub async fn cleanup(store: &Store, table: Table, uid: &str) -> Result<bool> {
    Ok(store.delete(table, uid).await?)
}

fn identity<'a>(uid: &'a str, meta: &'a kube::api::ObjectMeta) -> Identity<'a> {
    Identity {
        uid,
        namespace: meta.namespace.as_deref().unwrap_or("default"),
        name: meta.name.as_deref().unwrap_or_default(),
        generation: meta.generation.unwrap_or(1),
    }
}

/// The row stored for a (validated) monitor: its identity and its Secret header values.
async fn monitor_row<'a, R: References>(
    references: &R,
    uid: &'a str,
    monitor: &'a Monitor,
) -> Result<MonitorRow<'a>> {
    let who = identity(uid, &monitor.metadata);
    let credentials = monitor_credentials(references, who.namespace, monitor).await?;
    Ok(MonitorRow {
        uid,
        namespace: who.namespace,
        name: who.name,
        generation: who.generation,
        monitor,
        credentials,
    })
}

async fn require_channel<R: References>(
    references: &R,
    namespace: &str,
    name: &str,
    field: &str,
) -> Result<()> {
    if references.channel_exists(namespace, name).await? {
        Ok(())
    } else {
        Err(Error::ChannelNotFound {
            field: field.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }
}

/// Header values from Secrets, keyed `secretName/key`.
async fn monitor_credentials<R: References>(
    references: &R,
    namespace: &str,
    monitor: &Monitor,
) -> Result<BTreeMap<String, String>> {
    let mut credentials = BTreeMap::new();
    for header in &monitor.spec.headers {
        let Some(from) = &header.value_from else {
            continue;
        };
        let secret = references
            .secret(namespace, &from.name)
            .await?
            .ok_or_else(|| Error::SecretNotFound {
                namespace: namespace.to_string(),
                name: from.name.clone(),
                key: None,
            })?;
        let value = secret.get(&from.key).ok_or_else(|| Error::SecretNotFound {
            namespace: namespace.to_string(),
            name: from.name.clone(),
            key: Some(from.key.clone()),
        })?;
        credentials.insert(format!("{}/{}", from.name, from.key), value.clone());
    }
    Ok(credentials)
}

/// The values of the Secret keys the channel's type reads.
async fn channel_credentials<R: References>(
    references: &R,
    namespace: &str,
    channel: &NotificationChannel,
) -> Result<BTreeMap<String, String>> {
    let Some(secret_ref) = &channel.spec.secret_ref else {
        return Ok(BTreeMap::new());
    };
    let secret = references
        .secret(namespace, &secret_ref.name)
        .await?
        .ok_or_else(|| Error::SecretNotFound {
            namespace: namespace.to_string(),
            name: secret_ref.name.clone(),
            key: None,
        })?;
    let channel_type = channel.spec.channel_type().unwrap_or(ChannelType::Webhook);
    let mut credentials = BTreeMap::new();
    for key in channel_type.secret_keys() {
        match secret.get(key.key) {
            Some(value) => {
                credentials.insert(key.key.to_string(), value.clone());
            }
            None if key.required => {
                return Err(Error::SecretNotFound {
                    namespace: namespace.to_string(),
                    name: secret_ref.name.clone(),
                    key: Some(key.key.to_string()),
                });
            }
            None => {}
        }
    }
    Ok(credentials)
}

/// The uid an object is stored under: its Kubernetes UID, or in standalone mode (no API
/// server assigns one) a UUIDv5 of `kind/namespace/name`, stable across restarts.
pub fn uid_of<K: kube::Resource<DynamicType = ()>>(object: &K) -> String {
    object.meta().uid.clone().unwrap_or_else(|| {
        let key = format!(
            "{}/{}/{}",
            K::kind(&()),
            object.namespace().unwrap_or_else(|| "default".into()),
            object.name_any()
        );
        uuid::Uuid::new_v5(&STANDALONE_NAMESPACE, key.as_bytes()).to_string()
    })
}

/// UUIDv5 namespace for standalone uids.
const STANDALONE_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x6f1c_5a3e_9d2b_4c7a_8e41_2b9f_0d3c_7e15);
