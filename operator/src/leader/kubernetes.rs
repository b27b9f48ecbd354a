//! The lease as a `coordination.k8s.io/v1` Lease object.
//!
//! Expiry is judged the way client-go does: not by comparing the holder's `renewTime` with
//! our clock (clocks differ), but by how long *we* have watched the record stay unchanged.
//! Every write is a replace carrying the `resourceVersion` we read, so two candidates
//! racing for an expired lease cannot both win: the loser gets 409 Conflict.

use std::sync::Mutex;

use k8s_openapi::{
    api::coordination::v1::{Lease, LeaseSpec},
    apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta},
    jiff::Timestamp,
};
use kube::{Api, Client, api::PostParams};
use tokio::time::Instant;

use super::{LeaseBackend, Timing};
use crate::Result;

/// A Lease `name` in `namespace`.
pub struct KubernetesLease {
    api: Api<Lease>,
    name: String,
    /// The last record seen (holder, resourceVersion) and when it was first seen.
    observed: Mutex<Option<(String, Instant)>>,
}

impl KubernetesLease {
    /// The Lease `name` in `namespace`.
    pub fn new(client: Client, namespace: &str, name: impl Into<String>) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.into(),
            observed: Mutex::new(None),
        }
    }

    fn spec(
        identity: &str,
        timing: Timing,
        transitions: i32,
        acquired: Option<MicroTime>,
    ) -> LeaseSpec {
        let now = MicroTime(Timestamp::now());
        LeaseSpec {
            holder_identity: Some(identity.to_string()),
            lease_duration_seconds: Some(
                i32::try_from(timing.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX),
            ),
            acquire_time: Some(acquired.unwrap_or_else(|| now.clone())),
            renew_time: Some(now),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    /// How long the current record has stayed the same, as far as we watched it.
    fn unchanged_for(&self, record: &str) -> std::time::Duration {
        let mut observed = self.observed.lock().expect("observed lock");
        match observed.as_ref() {
            Some((seen, since)) if seen == record => since.elapsed(),
            _ => {
                *observed = Some((record.to_string(), Instant::now()));
                std::time::Duration::ZERO
            }
        }
    }
}

fn conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(s) if s.code == 409)
}

impl LeaseBackend for KubernetesLease {
    async fn try_acquire_or_renew(&self, identity: &str, timing: Timing) -> Result<bool> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(Self::spec(identity, timing, 0, None)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(e) if conflict(&e) => Ok(false),
                Err(e) => Err(e.into()),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let transitions = spec.lease_transitions.unwrap_or(0);
        let record = format!(
            "{holder}@{}",
            lease.metadata.resource_version.clone().unwrap_or_default()
        );
        let new_spec = if holder == identity {
            Self::spec(identity, timing, transitions, spec.acquire_time)
        } else {
            let duration = std::time::Duration::from_secs(
                u64::try_from(spec.lease_duration_seconds.unwrap_or(15)).unwrap_or(15),
            );
            if !holder.is_empty() && self.unchanged_for(&record) < duration {
                return Ok(false);
            }
            Self::spec(identity, timing, transitions + 1, None)
        };
        lease.spec = Some(new_spec);
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn release(&self, identity: &str) -> Result<()> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(identity) {
            return Ok(());
        }
        spec.holder_identity = None;
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if conflict(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
