//! The cluster mode: one kube-runtime `Controller` per kind, all sharing a [`Context`].
//!
//! ```text
//!  Monitor controller              ◄─ watches Secrets (header valueFrom)
//!  NotificationChannel controller  ◄─ watches Secrets (secretRef)
//!  AlertRule controller            ◄─ watches NotificationChannels (channelRef)
//!  EscalationPolicy controller     ◄─ watches NotificationChannels (levels[].channelRef)
//! ```
//!
//! Each watches its kind through `DeserializeGuard`, so one object that does not even
//! deserialize gets `Ready=False/InvalidSpec` and never stalls the others. Controllers run
//! on every replica (reconciles are idempotent and serialised per row by MySQL locks);
//! only the leader runs the status sync (and later the scheduler and autoscaler).

mod context;
mod kinds;
pub mod mappers;
mod reconcile;
mod references;

use std::{future::Future, sync::Arc};

use crds::{AlertRule, EscalationPolicy, Monitor, NotificationChannel};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::{
    Api, Client,
    core::DeserializeGuard,
    runtime::{Controller, watcher},
};

pub use context::{Context, FIELD_MANAGER, FINALIZER, Metrics};
pub use kinds::Managed;
pub use reconcile::{error_policy, reconcile};
pub use references::ApiReferences;

/// Runs the four controllers until `shutdown` resolves.
pub async fn run_controllers(
    client: Client,
    context: Arc<Context>,
    shutdown: impl Future<Output = ()> + Send + Sync + Clone + 'static,
) {
    let config = watcher::Config::default().any_semantic();

    let monitors = Controller::new(
        Api::<DeserializeGuard<Monitor>>::all(client.clone()),
        config.clone(),
    );
    let store = monitors.store();
    let monitors = monitors
        .watches(
            Api::<Secret>::all(client.clone()),
            config.clone(),
            move |secret| mappers::monitors_reading_secret(&store, &secret),
        )
        .graceful_shutdown_on(shutdown.clone())
        .run(
            reconcile::<Monitor>,
            error_policy::<Monitor>,
            context.clone(),
        )
        .for_each(|_| async {});

    let channels = Controller::new(
        Api::<DeserializeGuard<NotificationChannel>>::all(client.clone()),
        config.clone(),
    );
    let store = channels.store();
    let channels = channels
        .watches(
            Api::<Secret>::all(client.clone()),
            config.clone(),
            move |secret| mappers::channels_reading_secret(&store, &secret),
        )
        .graceful_shutdown_on(shutdown.clone())
        .run(
            reconcile::<NotificationChannel>,
            error_policy::<NotificationChannel>,
            context.clone(),
        )
        .for_each(|_| async {});

    let rules = Controller::new(
        Api::<DeserializeGuard<AlertRule>>::all(client.clone()),
        config.clone(),
    );
    let store = rules.store();
    let rules = rules
        .watches(
            Api::<NotificationChannel>::all(client.clone()),
            config.clone(),
            move |channel| mappers::rules_notifying(&store, &channel),
        )
        .graceful_shutdown_on(shutdown.clone())
        .run(
            reconcile::<AlertRule>,
            error_policy::<AlertRule>,
            context.clone(),
        )
        .for_each(|_| async {});

    let policies = Controller::new(
        Api::<DeserializeGuard<EscalationPolicy>>::all(client.clone()),
        config.clone(),
    );
    let store = policies.store();
    let policies = policies
        .watches(
            Api::<NotificationChannel>::all(client.clone()),
            config,
            move |channel| mappers::policies_notifying(&store, &channel),
        )
        .graceful_shutdown_on(shutdown)
        .run(
            reconcile::<EscalationPolicy>,
            error_policy::<EscalationPolicy>,
            context,
        )
        .for_each(|_| async {});

    futures::join!(monitors, channels, rules, policies);
}
