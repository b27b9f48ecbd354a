//! TLS client configurations: one verifying against the Mozilla roots (webpki-roots, so a
//! minimal image needs no CA bundle), one that accepts any certificate for monitors with
//! `tlsVerify: false` (self-signed internal endpoints). Both are built once and shared.

use std::sync::Arc;

use rustls::{
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime},
};

/// The two client configurations.
#[derive(Clone)]
pub struct TlsConfigs {
    /// Verifies the chain and the host name.
    pub verifying: Arc<ClientConfig>,
    /// Accepts any certificate (still records its expiry).
    pub insecure: Arc<ClientConfig>,
}

impl TlsConfigs {
    /// Builds both with the ring provider (the one crypto provider of this workspace).
    pub fn new() -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let verifying = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let insecure = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnything(provider)))
            .with_no_client_auth();
        Self {
            verifying: Arc::new(verifying),
            insecure: Arc::new(insecure),
        }
    }
}

impl Default for TlsConfigs {
    fn default() -> Self {
        Self::new()
    }
}

/// Accepts every certificate, but still checks handshake signatures (so the connection is
/// a real TLS session with whoever holds the key).
#[derive(Debug)]
struct AcceptAnything(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Expiry of a DER certificate (the leaf), if it parses.
pub fn not_after(certificate: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).ok()?;
    chrono::DateTime::from_timestamp(parsed.validity().not_after.timestamp(), 0)
}
