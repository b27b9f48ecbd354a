//! [`References`] through the Kubernetes API: a `get` of the NotificationChannel or Secret.
//! A 404 means "does not exist"; other errors propagate and are retried.

use crds::NotificationChannel;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::{
    Result,
    references::{References, SecretData, secret_data},
};

/// Lookups through the API server.
#[derive(Clone)]
pub struct ApiReferences {
    client: Client,
}

impl ApiReferences {
    /// Lookups with `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl References for ApiReferences {
    async fn channel_exists(&self, namespace: &str, name: &str) -> Result<bool> {
        let api: Api<NotificationChannel> = Api::namespaced(self.client.clone(), namespace);
        Ok(api.get_metadata_opt(name).await?.is_some())
    }

    async fn secret(&self, namespace: &str, name: &str) -> Result<Option<SecretData>> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        Ok(api.get_opt(name).await?.map(|s| secret_data(&s)))
    }
}
