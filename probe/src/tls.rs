//! TLS for the probe's own connections: rustls with the ring provider and Mozilla's root store (webpki-roots),
//! independent of the device's certificate store, so a root certificate planted on the device (as some
//! governments require) cannot make an intercepted connection look normal.

use std::sync::Arc;

/// The TLS client configuration every probe connection uses.
pub fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    let roots = rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    Ok(
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}
