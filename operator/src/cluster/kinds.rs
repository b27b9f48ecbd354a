//! What the generic reconciler needs to know about each kind.

use std::fmt::Debug;

use crds::{AlertRule, EscalationPolicy, Monitor, NotificationChannel};
use k8s_openapi::{NamespaceResourceScope, apimachinery::pkg::apis::meta::v1::Condition};
use kube::Resource;
use serde::{Serialize, de::DeserializeOwned};

use crate::apply::Object;

/// A kind the operator reconciles.
pub trait Managed:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The object for the reconcile core.
    fn object(&self) -> Object<'_>;
    /// The current status conditions (to keep `lastTransitionTime` when nothing flips).
    fn conditions(&self) -> &[Condition];
    /// Status fields written together with the Ready condition, besides
    /// `observedGeneration` and `conditions`.
    fn status_extra(&self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::new()
    }
}

impl Managed for Monitor {
    fn object(&self) -> Object<'_> {
        Object::Monitor(self)
    }
    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }
}

impl Managed for AlertRule {
    fn object(&self) -> Object<'_> {
        Object::AlertRule(self)
    }
    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }
}

impl Managed for EscalationPolicy {
    fn object(&self) -> Object<'_> {
        Object::EscalationPolicy(self)
    }
    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }
    fn status_extra(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut extra = serde_json::Map::new();
        extra.insert("levels".into(), self.spec.levels.len().into());
        extra
    }
}

impl Managed for NotificationChannel {
    fn object(&self) -> Object<'_> {
        Object::NotificationChannel(self)
    }
    fn conditions(&self) -> &[Condition] {
        self.status.as_ref().map_or(&[], |s| &s.conditions)
    }
}
