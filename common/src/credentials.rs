//! Sealing credentials for MySQL.
//!
//! Secret values (a channel's webhook URL or SMTP password, a monitor's `Authorization`
//! header) must reach the notifier and the checker, which have no Kubernetes API access
//! of their own. The operator reads them from the Secret, seals them with AES-256-GCM
//! under the *credentials key* and stores only the sealed text; the checker and notifier
//! hold the same key (mounted from a Kubernetes Secret, `SENTINEL_CREDENTIALS_KEY`) and
//! open it. MySQL backups, replicas and logs therefore never see plain credentials.
//!
//! Format: `v1:<base64(nonce ‖ ciphertext ‖ tag)>` of the JSON map `{"key": "value"}`. A
//! fresh random nonce per seal; the object's uid is the associated data, so a sealed
//! value copied onto another row fails to open.

use std::collections::BTreeMap;

use crate::{Error, Result};
use base64::{Engine, engine::general_purpose::STANDARD};
use ring::{
    aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey},
    rand::{SecureRandom, SystemRandom},
};

/// The credentials key.
#[derive(Clone)]
pub struct Sealer {
    key: std::sync::Arc<LessSafeKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<key>)")
    }
}

const PREFIX: &str = "v1:";

impl Sealer {
    /// Reads a base64-encoded 32-byte key.
    ///
    /// # Errors
    /// [`Error::BadCredentialsKey`].
    pub fn from_base64(text: &str) -> Result<Self> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| Error::BadCredentialsKey)?;
        let unbound =
            UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| Error::BadCredentialsKey)?;
        Ok(Self {
            key: std::sync::Arc::new(LessSafeKey::new(unbound)),
        })
    }

    /// A random key, base64-encoded (for tests and first-time local setup).
    pub fn generate_key() -> String {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .expect("the system random source works");
        STANDARD.encode(bytes)
    }

    /// Seals `values` for the row identified by `owner` (the object's uid).
    pub fn seal(&self, owner: &str, values: &BTreeMap<String, String>) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .expect("the system random source works");
        let mut data = serde_json::to_vec(values).expect("a string map serialises");
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(owner.as_bytes()),
                &mut data,
            )
            .expect("AES-GCM sealing of a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Opens what [`Sealer::seal`] produced for the same `owner`.
    ///
    /// # Errors
    /// [`Error::OpenCredentials`] for a wrong key, owner or damaged text.
    pub fn open(&self, owner: &str, sealed: &str) -> Result<BTreeMap<String, String>> {
        let encoded = sealed.strip_prefix(PREFIX).ok_or(Error::OpenCredentials)?;
        let mut bytes = STANDARD
            .decode(encoded)
            .map_err(|_| Error::OpenCredentials)?;
        if bytes.len() < NONCE_LEN {
            return Err(Error::OpenCredentials);
        }
        let mut data = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| Error::OpenCredentials)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(owner.as_bytes()), &mut data)
            .map_err(|_| Error::OpenCredentials)?;
        serde_json::from_slice(plain).map_err(|_| Error::OpenCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<String, String> {
        BTreeMap::from([(
            "webhookUrl".to_string(),
            "https://hooks.example/secret".to_string(),
        )])
    }

    #[test]
    fn sealed_values_open_with_the_same_key_and_owner_only() {
        let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let sealed = sealer.seal("uid-1", &values());
        assert!(
            !sealed.contains("hooks.example"),
            "sealed text hides the value"
        );
        assert_eq!(sealer.open("uid-1", &sealed).unwrap(), values());
        assert!(matches!(
            sealer.open("uid-2", &sealed),
            Err(Error::OpenCredentials)
        ));
        let other = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        assert!(matches!(
            other.open("uid-1", &sealed),
            Err(Error::OpenCredentials)
        ));
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        assert_ne!(sealer.seal("u", &values()), sealer.seal("u", &values()));
    }

    #[test]
    fn a_short_or_malformed_key_is_refused() {
        assert!(matches!(
            Sealer::from_base64("c2hvcnQ="),
            Err(Error::BadCredentialsKey)
        ));
        assert!(matches!(
            Sealer::from_base64("not base64!"),
            Err(Error::BadCredentialsKey)
        ));
    }
}
