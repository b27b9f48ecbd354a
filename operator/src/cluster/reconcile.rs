//! The generic reconcile for the four kinds: behind a finalizer, apply (validate → resolve →
//! store) or clean up, then report through the `Ready` condition and Events.
//!
//! ```text
//!  DeserializeGuard ─ Err ──► Ready=False/InvalidSpec (+ Warning Event), wait for a change
//!        │ Ok
//!  finalizer ─ Apply ──► apply::apply ─ Ok ──► Ready=True, Event Created/Updated, resync later
//!        │                          └─ Err ──► Ready=False/<reason>, Warning Event ─► error_policy
//!        └─ Cleanup ──► delete the rows ─► finalizer removed (MySQL down: kept, retried)
//! ```

use std::{sync::Arc, time::Duration};

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::{Condition, Time},
    jiff::Timestamp,
};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
    core::{DeserializeGuard, error_boundary::InvalidObject},
    runtime::{
        controller::Action,
        events::{Event, EventType},
        finalizer::{self, finalizer},
    },
};
use serde_json::json;

use super::{
    context::{Context, FIELD_MANAGER, FINALIZER},
    kinds::Managed,
};
use crate::{Error, Result, apply, store::Change};

/// How often a healthy object is reconciled again without a change: picks up anything a
/// watch missed (e.g. a Secret rotated while the operator was down).
const RESYNC: Duration = Duration::from_secs(600);

/// Reconciles one object of kind `K`.
///
/// # Errors
/// The apply or cleanup error, after it was reported in status and Events.
#[tracing::instrument(skip_all, fields(kind = K::kind(&()).as_ref(), namespace, name))]
pub async fn reconcile<K: Managed>(
    guard: Arc<DeserializeGuard<K>>,
    context: Arc<Context>,
) -> Result<Action> {
    let kind = K::kind(&()).to_string();
    context.metrics.reconciles.with_label_values(&[&kind]).inc();
    let _timer = context
        .metrics
        .duration
        .with_label_values(&[&kind])
        .start_timer();
    let result = match &guard.0 {
        Err(invalid) => report_undecodable::<K>(invalid, &context).await,
        Ok(object) => {
            tracing::Span::current()
                .record(
                    "namespace",
                    object.namespace().as_deref().unwrap_or_default(),
                )
                .record("name", object.name_any());
            let api: Api<K> = Api::namespaced(
                context.client.clone(),
                object.namespace().as_deref().unwrap_or("default"),
            );
            finalizer(&api, FINALIZER, Arc::new(object.clone()), |event| async {
                match event {
                    finalizer::Event::Apply(object) => {
                        apply_object(object.as_ref(), &context).await
                    }
                    finalizer::Event::Cleanup(object) => {
                        cleanup_object(object.as_ref(), &context).await
                    }
                }
            })
            .await
            .map_err(|e| match e {
                finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
                finalizer::Error::AddFinalizer(e) => {
                    Error::Finalizer(format!("add finalizer: {e}"))
                }
                finalizer::Error::RemoveFinalizer(e) => {
                    Error::Finalizer(format!("remove finalizer: {e}"))
                }
                finalizer::Error::UnnamedObject => {
                    Error::Finalizer("handle an unnamed object".into())
                }
                finalizer::Error::InvalidFinalizer => {
                    Error::Finalizer("build the finalizer patch".into())
                }
            })
        }
    };
    if let Err(error) = &result {
        context
            .metrics
            .failures
            .with_label_values(&[&kind, error.reason()])
            .inc();
    }
    result
}

/// Decides when to retry a failed reconcile: never on its own for what only a change can
/// fix (invalid spec; missing channel or Secret, whose watches re-trigger us), with capped
/// exponential backoff for everything transient.
pub fn error_policy<K: Managed>(
    guard: Arc<DeserializeGuard<K>>,
    error: &Error,
    context: Arc<Context>,
) -> Action {
    if error.waits_for_change() {
        return Action::await_change();
    }
    let uid = match &guard.0 {
        Ok(object) => object.uid(),
        Err(invalid) => invalid.metadata.uid.clone(),
    }
    .unwrap_or_default();
    let delay = context.backoff(&uid);
    tracing::warn!(reason = error.reason(), error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn apply_object<K: Managed>(object: &K, context: &Context) -> Result<Action> {
    let uid = object.uid().unwrap_or_default();
    match apply::apply(&context.store, &context.references, &uid, object.object()).await {
        Ok(change) => {
            let generation = object.meta().generation.unwrap_or_default();
            let message = format!("stored (generation {generation})");
            patch_status(
                object,
                context,
                ready(object.conditions(), true, "Stored", &message),
            )
            .await?;
            let reason = match change {
                Change::Created => Some("Created"),
                Change::Updated => Some("Updated"),
                Change::Refreshed => None,
            };
            if let Some(reason) = reason {
                publish(context, object, EventType::Normal, reason, message).await;
            }
            context.succeeded(&uid);
            tracing::info!(?change, "reconciled");
            Ok(Action::requeue(RESYNC))
        }
        Err(error) => {
            let message = error.to_string();
            let condition = ready(object.conditions(), false, error.reason(), &message);
            if let Err(status_error) = patch_status(object, context, condition).await {
                tracing::warn!(error = %status_error, "failed to write Ready=False");
            }
            publish(context, object, EventType::Warning, error.reason(), message).await;
            Err(error)
        }
    }
}

async fn cleanup_object<K: Managed>(object: &K, context: &Context) -> Result<Action> {
    let uid = object.uid().unwrap_or_default();
    let removed = apply::cleanup(&context.store, object.object().table(), &uid).await?;
    tracing::info!(removed, "cleaned up");
    Ok(Action::await_change())
}

/// An object that does not deserialize: say why in its status; nothing is stored. If it is
/// being deleted with our finalizer (it was valid once), remove its rows and the finalizer.
async fn report_undecodable<K: Managed>(
    invalid: &InvalidObject,
    context: &Context,
) -> Result<Action> {
    let meta = &invalid.metadata;
    let name = meta.name.clone().unwrap_or_default();
    let namespace = meta.namespace.clone().unwrap_or_else(|| "default".into());
    let api: Api<K> = Api::namespaced(context.client.clone(), &namespace);
    let ours = meta.finalizers.iter().flatten().any(|f| f == FINALIZER);
    if meta.deletion_timestamp.is_some() && ours {
        let uid = meta.uid.clone().unwrap_or_default();
        let table = table_of::<K>();
        apply::cleanup(&context.store, table, &uid).await?;
        let remaining: Vec<&String> = meta
            .finalizers
            .iter()
            .flatten()
            .filter(|f| *f != FINALIZER)
            .collect();
        api.patch_metadata(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": remaining}})),
        )
        .await?;
        return Ok(Action::await_change());
    }
    let message = format!("the object does not match the schema: {}", invalid.error);
    let condition = ready(&[], false, "InvalidSpec", &message);
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": {
            "observedGeneration": meta.generation,
            "conditions": [condition],
        }
    });
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(patch),
    )
    .await?;
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(K::api_version(&()).into()),
        kind: Some(K::kind(&()).into()),
        name: Some(name),
        namespace: Some(namespace),
        uid: meta.uid.clone(),
        ..Default::default()
    };
    if let Err(e) = context
        .recorder
        .publish(
            &Event {
                type_: EventType::Warning,
                reason: "InvalidSpec".into(),
                note: Some(truncate(&message, 1000)),
                action: "Reconcile".into(),
                secondary: None,
            },
            &reference,
        )
        .await
    {
        tracing::warn!(error = %e, "failed to publish an Event");
    }
    Ok(Action::await_change())
}

fn table_of<K: Managed>() -> crate::store::Table {
    use crate::store::Table;
    match K::kind(&()).as_ref() {
        "Monitor" => Table::Monitors,
        "AlertRule" => Table::AlertRules,
        "EscalationPolicy" => Table::EscalationPolicies,
        _ => Table::NotificationChannels,
    }
}

/// The Ready condition, keeping `lastTransitionTime` when the status does not flip.
pub(crate) fn ready(current: &[Condition], ok: bool, reason: &str, message: &str) -> Condition {
    let status = if ok { "True" } else { "False" };
    let previous = current.iter().find(|c| c.type_ == "Ready");
    let last_transition_time = match previous {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => Time(Timestamp::now()),
    };
    Condition {
        type_: "Ready".into(),
        status: status.into(),
        reason: reason.into(),
        message: truncate(message, 1000),
        last_transition_time,
        observed_generation: None,
    }
}

async fn patch_status<K: Managed>(
    object: &K,
    context: &Context,
    condition: Condition,
) -> Result<()> {
    let api: Api<K> = Api::namespaced(
        context.client.clone(),
        object.namespace().as_deref().unwrap_or("default"),
    );
    let mut status = object.status_extra();
    status.insert("observedGeneration".into(), object.meta().generation.into());
    status.insert("conditions".into(), json!([condition]));
    let patch = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(patch),
    )
    .await?;
    Ok(())
}

/// Publishes an Event; a failure to publish is logged, never fails the reconcile.
async fn publish<K: Managed>(
    context: &Context,
    object: &K,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(truncate(&note, 1000)),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = context
        .recorder
        .publish(&event, &object.object_ref(&()))
        .await
    {
        tracing::warn!(error = %e, "failed to publish an Event");
    }
}

/// `text` cut to `max` bytes, with an ellipsis when it was cut (Event notes and condition
/// messages have API limits).
fn truncate(text: &str, max: usize) -> String {
    let cut = common::text::truncate(text, max);
    if cut.len() == text.len() {
        cut.to_string()
    } else {
        format!("{cut}…")
    }
}
