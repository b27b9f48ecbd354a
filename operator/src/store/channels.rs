//! `notification_channels`: type, non-secret settings, and the sealed credentials.

use std::collections::BTreeMap;

use crds::NotificationChannel;

use super::{Change, Store, Table, change, lock_row, rules::Identity};
use crate::{Error, Result};

impl Store {
    /// Inserts or updates a NotificationChannel. `credentials` holds the values of the
    /// Secret keys the channel type reads; they are sealed before they reach MySQL.
    ///
    /// # Errors
    /// MySQL errors; [`Error::NoCredentialsKey`] when there are credentials and no key.
    pub async fn upsert_channel(
        &self,
        who: Identity<'_>,
        channel: &NotificationChannel,
        credentials: &BTreeMap<String, String>,
    ) -> Result<Change> {
        let spec = &channel.spec;
        // The spec without type, secretRef and enabled is exactly the type's settings block.
        let mut settings = serde_json::to_value(spec).expect("a channel spec serialises");
        if let Some(map) = settings.as_object_mut() {
            for key in ["type", "secretRef", "enabled"] {
                map.remove(key);
            }
        }
        let sealed = if credentials.is_empty() {
            None
        } else {
            let sealer = self
                .sealer
                .as_ref()
                .ok_or(Error::Credentials(common::Error::NoCredentialsKey))?;
            Some(sealer.seal(who.uid, credentials))
        };
        let mut tx = self.pool.begin().await?;
        let existing = lock_row(
            &mut tx,
            Table::NotificationChannels,
            who.uid,
            who.namespace,
            who.name,
        )
        .await?;
        sqlx::query(
            "INSERT INTO notification_channels (uid, namespace, name, generation, channel_type, \
             enabled, settings, secret_name, credentials) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE namespace = VALUES(namespace), name = VALUES(name), \
               generation = VALUES(generation), channel_type = VALUES(channel_type), \
               enabled = VALUES(enabled), settings = VALUES(settings), \
               secret_name = VALUES(secret_name), credentials = VALUES(credentials)",
        )
        .bind(who.uid)
        .bind(who.namespace)
        .bind(who.name)
        .bind(who.generation)
        .bind(&spec.channel_type)
        .bind(spec.enabled)
        .bind(settings.to_string())
        .bind(spec.secret_ref.as_ref().map(|s| s.name.as_str()))
        .bind(&sealed)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(change(existing, who.generation))
    }
}
