//! HTTPS served by the collector itself: a certificate chain and key from PEM files, loaded at start and again
//! on SIGHUP (a renewed certificate is picked up without dropping connections; a bad file is logged and the
//! old pair kept).

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A certificate or key that could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {reason}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// rustls refused the pair (e.g. the key does not match the certificate).
    #[error("certificate and key: {0}")]
    Config(#[from] rustls::Error),
}

/// The server's TLS configuration, swapped on reload.
pub struct TlsSource {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl std::fmt::Debug for TlsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSource")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl TlsSource {
    /// Loads the pair once; fails if it cannot be used.
    pub fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let config = server_config(cert, key)?;
        Ok(TlsSource {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(config)),
        })
    }

    /// Reads the files again; on failure the configuration in use is kept.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = Arc::new(server_config(&self.cert, &self.key)?);
        let mut current = self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = config;
        Ok(())
    }

    /// An acceptor with the configuration in use now.
    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let current = self.current.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        tokio_rustls::TlsAcceptor::from(Arc::clone(&current))
    }

    /// Reloads on every SIGHUP until the process ends.
    pub fn reload_on_sighup(self: &Arc<Self>) -> std::io::Result<tokio::task::JoinHandle<()>> {
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let source = Arc::clone(self);
        Ok(tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match source.reload() {
                    Ok(()) => tracing::info!(cert = %source.cert.display(), "TLS certificate reloaded"),
                    Err(err) => {
                        tracing::error!(error = %err, "TLS reload failed; still serving the previous certificate")
                    }
                }
            }
        }))
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<rustls::ServerConfig, TlsError> {
    let pem = |path: &Path, reason: String| TlsError::Pem {
        path: path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| pem(cert, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem(cert, "no CERTIFICATE block".to_owned()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, e.to_string()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path) {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        std::fs::write(dir.join("cert.pem"), certified.cert.pem()).expect("write");
        std::fs::write(dir.join("key.pem"), certified.signing_key.serialize_pem()).expect("write");
    }

    #[test]
    fn a_reload_swaps_a_good_pair_and_keeps_the_old_one_on_a_bad_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        assert!(
            matches!(TlsSource::load(&cert, &key), Err(TlsError::Pem { .. })),
            "missing files"
        );
        write_pair(dir.path());
        let source = TlsSource::load(&cert, &key).expect("loads");
        let config = |s: &TlsSource| Arc::clone(&s.current.read().expect("lock"));
        let first = config(&source);
        write_pair(dir.path());
        source.reload().expect("reloads");
        let second = config(&source);
        assert!(!Arc::ptr_eq(&first, &second), "the new pair is in use");
        std::fs::write(&cert, "not a certificate").expect("write");
        assert!(source.reload().is_err());
        assert!(
            Arc::ptr_eq(&second, &config(&source)),
            "a bad file leaves the previous pair in use"
        );
        // A key that does not belong to the certificate is refused too.
        write_pair(dir.path());
        let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("certificate");
        std::fs::write(&key, other.signing_key.serialize_pem()).expect("write");
        assert!(matches!(source.reload(), Err(TlsError::Config(_))));
    }
}
