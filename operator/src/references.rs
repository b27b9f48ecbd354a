//! Looking up what an object refers to: NotificationChannels (by `channelRef`) and Secrets
//! (by `secretRef` and header `valueFrom`).
//!
//! The reconcile core is written against [`References`], so the same code runs in a
//! cluster (lookups through the API server) and in standalone mode (lookups in the
//! manifests read from a directory).

use std::{collections::BTreeMap, future::Future};

use crate::Result;

/// The data of a Secret: key → value (UTF-8; binary values are not credentials we use).
pub type SecretData = BTreeMap<String, String>;

/// Where references are resolved.
pub trait References: Send + Sync {
    /// Whether a NotificationChannel `name` exists in `namespace`.
    fn channel_exists(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The Secret `name` in `namespace`, if it exists.
    fn secret(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<SecretData>>> + Send;
}

/// Turns a Secret's `data` (base64-decoded by k8s-openapi) and `stringData` into
/// [`SecretData`]; `stringData` wins, as the API server merges it over `data`.
pub fn secret_data(secret: &k8s_openapi::api::core::v1::Secret) -> SecretData {
    let mut out = SecretData::new();
    for (key, value) in secret.data.iter().flatten() {
        if let Ok(text) = String::from_utf8(value.0.clone()) {
            out.insert(key.clone(), text);
        }
    }
    for (key, value) in secret.string_data.iter().flatten() {
        out.insert(key.clone(), value.clone());
    }
    out
}

/// References resolved from an in-memory set of objects (standalone mode, tests).
#[derive(Clone, Debug, Default)]
pub struct StaticReferences {
    /// `(namespace, name)` of every NotificationChannel.
    pub channels: std::collections::BTreeSet<(String, String)>,
    /// Secrets by `(namespace, name)`.
    pub secrets: BTreeMap<(String, String), SecretData>,
}

impl References for StaticReferences {
    async fn channel_exists(&self, namespace: &str, name: &str) -> Result<bool> {
        Ok(self
            .channels
            .contains(&(namespace.to_string(), name.to_string())))
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<SecretData>> {
        Ok(self
            .secrets
            .get(&(namespace.to_string(), name.to_string()))
            .cloned())
    }
}
