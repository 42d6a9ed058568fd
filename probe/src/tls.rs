//! TLS for the probe's own connections: rustls with the ring provider and Mozilla's root store (webpki-roots),
//! independent of the device's certificate store, so a root certificate planted on the device (as some
//! governments require) cannot make an intercepted connection look normal.

use std::sync::Arc;

/// The TLS client configuration every probe connection uses.
pub fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    client_config_with(&[])
}

/// The same, also trusting `extra_roots` (DER certificates: a private CA, or a test's own).
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
