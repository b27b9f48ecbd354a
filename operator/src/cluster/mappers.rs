//! Which objects to reconcile again when something they refer to changes: a Secret (for
//! Monitors' header `valueFrom` and NotificationChannels' `secretRef`) or a
//! NotificationChannel (for AlertRules' `channelRef` and EscalationPolicies' levels).
//! This is what turns `ChannelNotFound` into `Ready=True` as soon as the channel appears.

use crds::{AlertRule, EscalationPolicy, Monitor, NotificationChannel};
use k8s_openapi::api::core::v1::Secret;
use kube::{
    ResourceExt,
    core::DeserializeGuard,
    runtime::reflector::{ObjectRef, Store},
};

use super::Managed;

/// Monitors whose headers read `secret`.
pub fn monitors_reading_secret(
    store: &Store<DeserializeGuard<Monitor>>,
    secret: &Secret,
) -> Vec<ObjectRef<DeserializeGuard<Monitor>>> {
    referring(store, secret, |m, name| {
        m.spec
            .headers
            .iter()
            .any(|h| h.value_from.as_ref().is_some_and(|f| f.name == name))
    })
}

/// NotificationChannels whose credentials are in `secret`.
pub fn channels_reading_secret(
    store: &Store<DeserializeGuard<NotificationChannel>>,
    secret: &Secret,
) -> Vec<ObjectRef<DeserializeGuard<NotificationChannel>>> {
    referring(store, secret, |c, name| {
        c.spec.secret_ref.as_ref().is_some_and(|s| s.name == name)
    })
}

/// AlertRules that notify `channel`.
pub fn rules_notifying(
    store: &Store<DeserializeGuard<AlertRule>>,
    channel: &NotificationChannel,
) -> Vec<ObjectRef<DeserializeGuard<AlertRule>>> {
    referring(store, channel, |r, name| r.spec.channel_ref == name)
}

/// EscalationPolicies with a level that notifies `channel`.
pub fn policies_notifying(
    store: &Store<DeserializeGuard<EscalationPolicy>>,
    channel: &NotificationChannel,
) -> Vec<ObjectRef<DeserializeGuard<EscalationPolicy>>> {
    referring(store, channel, |p, name| {
        p.spec.levels.iter().any(|l| l.channel_ref == name)
    })
}

/// The objects in `store` (same namespace as `changed`) for which `refers(object, name of
/// changed)` holds.
fn referring<K, O>(
    store: &Store<DeserializeGuard<K>>,
    changed: &O,
    refers: impl Fn(&K, &str) -> bool,
) -> Vec<ObjectRef<DeserializeGuard<K>>>
where
    K: Managed,
    O: ResourceExt,
{
    let namespace = changed.namespace();
    let name = changed.name_any();
    store
        .state()
        .iter()
        .filter_map(|guard| guard.0.as_ref().ok())
        .filter(|object| object.namespace() == namespace && refers(object, &name))
        .map(|object| {
            ObjectRef::new(&object.name_any()).within(&object.namespace().unwrap_or_default())
        })
        .collect()
}
