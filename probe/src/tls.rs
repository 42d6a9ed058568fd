//! TLS for the probe's own connections: rustls with the ring provider and Mozilla's root store (webpki-roots),
//! independent of the device's certificate store, so a root certificate planted on the device (as some
//! governments require) cannot make an intercepted connection look normal.

use std::sync::Arc;

/// The TLS client configuration every probe connection uses, also trusting `extra_roots` (DER certificates: a
/// private CA, or a test's own; none in production).
pub fn client_config_with(extra_roots: &[Vec<u8>]) -> Result<rustls::ClientConfig, rustls::Error> {
    let mut roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in extra_roots {
        roots.add(rustls::pki_types::CertificateDer::from(der.clone()))?;
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The certificates (DER) of a PEM file; why not, when it cannot be read or holds none.
pub fn pem_certificates(path: &std::path::Path) -> Result<Vec<Vec<u8>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block".to_owned());
    }
    Ok(certs)
}

/// A TLS setting for the collector that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CollectorTlsError {
    /// The CA file could not be read or holds no certificate.
    #[error("collector.ca_file {path}: {reason}")]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// A pin is not a SHA-256 fingerprint.
    #[error("collector.cert_sha256: `{0}` is not 64 hex digits")]
    Pin(String),
    /// rustls refused the configuration.
    #[error(transparent)]
    Rustls(#[from] rustls::Error),
}

/// Reads a SHA-256 fingerprint: 64 hex digits, colons and case ignored.
pub fn parse_pin(text: &str) -> Option<[u8; 32]> {
    let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
    let mut out = [0u8; 32];
    hex::decode_to_slice(&digits, &mut out).ok()?;
    Some(out)
}

/// The TLS configuration for uploads to the collector: the public roots, or only `ca_file`'s certificates; and
/// when `pins` are given, only a collector certificate with one of those SHA-256 fingerprints.
pub fn collector_client_config(
    ca_file: Option<&std::path::Path>,
    pins: &[String],
) -> Result<rustls::ClientConfig, CollectorTlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match ca_file {
        None => rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let certs = pem_certificates(path).map_err(|reason| CollectorTlsError::CaFile {
                path: path.to_owned(),
                reason,
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in certs {
                roots.add(rustls::pki_types::CertificateDer::from(cert))?;
            }
            roots
        }
    };
    let builder =
        rustls::ClientConfig::builder_with_provider(Arc::clone(&provider)).with_safe_default_protocol_versions()?;
    if pins.is_empty() {
        return Ok(builder.with_root_certificates(roots).with_no_client_auth());
    }
    let pins = pins
        .iter()
        .map(|p| parse_pin(p).ok_or_else(|| CollectorTlsError::Pin(p.clone())))
        .collect::<Result<Vec<_>, _>>()?;
    let chain = match ca_file {
        Some(_) => Some(
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?,
        ),
        None => None,
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedVerifier { pins, chain, provider }))
        .with_no_client_auth())
}

/// Accepts the collector's certificate by its fingerprint (and its chain to the configured CA, if any). The
/// handshake's signatures are verified as usual, so the peer must hold the pinned certificate's key.
#[derive(Debug)]
struct PinnedVerifier {
    pins: Vec<[u8; 32]>,
    chain: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use sha2::Digest;
        let fingerprint: [u8; 32] = sha2::Sha256::digest(end_entity.as_ref()).into();
        if !self.pins.contains(&fingerprint) {
            return Err(rustls::Error::General(format!(
                "the collector's certificate (SHA-256 {}) is not one of the pinned ones",
                hex::encode(fingerprint)
            )));
        }
        match &self.chain {
            Some(chain) => chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            None => Ok(rustls::client::danger::ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
