//! The probe's signing key: an Ed25519 key made on first use and kept, readable by the probe's user only, in
//! its state directory. Every upload body is signed with it, so the collector — and anyone re-checking an
//! export later — can tell the data came from this probe unaltered, even if its bearer token was stolen.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use vigil_measurement::signature::{self, PublicKey};

/// The key file's name inside the state directory.
pub const KEY_FILE: &str = "signing.key";

const KEY_PREFIX: &str = "ed25519-secret:";

/// Why the key could not be loaded or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Reading or writing the key file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a key this probe wrote.
    #[error(
        "{path}: not a Vigil signing key (expected `ed25519-secret:` and 64 hex digits); move it away to make a new one"
    )]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// Other users may read the key.
    #[error("{path}: readable by other users (mode {mode:o}); run `chmod 600` on it")]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The operating system gave no randomness.
    #[error("no randomness available for a new key: {0}")]
    Randomness(String),
}

/// The probe's secret key.
pub struct ProbeKey {
    secret: [u8; 32],
}

impl std::fmt::Debug for ProbeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProbeKey({})", self.public_key())
    }
}

impl ProbeKey {
    /// Loads the key from `state_dir`, making it first if there is none. Creation is atomic (written to a
    /// temporary file, synced, then linked into place), so a crash never leaves a half-written key, and two
    /// processes racing both end up with the same key.
    pub fn load_or_create(state_dir: &Path) -> Result<Self, KeyError> {
        let path = state_dir.join(KEY_FILE);
        match Self::load(&path) {
            Err(KeyError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
            other => return other,
        }
        let io = |source| KeyError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(io)?;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| KeyError::Randomness(e.to_string()))?;
        let temp = state_dir.join(format!(".{KEY_FILE}.{}", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)
            .and_then(|mut file| {
                file.write_all(format!("{KEY_PREFIX}{}\n", hex::encode(secret)).as_bytes())?;
                file.sync_all()
            })
            .and_then(|()| match std::fs::hard_link(&temp, &path) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                other => other,
            });
        let _ = std::fs::remove_file(&temp);
        written.map_err(io)?;
        if let Ok(dir) = std::fs::File::open(state_dir) {
            let _ = dir.sync_all();
        }
        let key = Self::load(&path)?;
        tracing::info!(public_key = %key.public_key(), path = %path.display(), "made a new signing key");
        Ok(key)
    }

    /// Loads an existing key file, refusing one that others may read.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyError::Exposed {
                path: path.to_owned(),
                mode,
            });
        }
        let text = std::io::read_to_string(file).map_err(io)?;
        let malformed = || KeyError::Malformed { path: path.to_owned() };
        let hex_part = text.trim().strip_prefix(KEY_PREFIX).ok_or_else(malformed)?;
        let mut secret = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut secret).map_err(|_| malformed())?;
        Ok(ProbeKey { secret })
    }

    /// The public half, as `vigil-collector probe add --pubkey` takes it.
    pub fn public_key(&self) -> PublicKey {
        signature::public_key_of(&self.secret)
    }

    /// The `Vigil-Signature` header value for an upload body.
    pub fn sign(&self, body: &[u8]) -> String {
        signature::sign(&self.secret, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_private_and_then_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("state");
        let first = ProbeKey::load_or_create(&state).expect("made");
        let mode = std::fs::metadata(state.join(KEY_FILE))
            .expect("file")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let again = ProbeKey::load_or_create(&state).expect("loaded");
        assert_eq!(first.public_key(), again.public_key());
        let header = first.sign(b"body");
        assert!(again.public_key().verify(b"body", &header).is_ok());
        assert_eq!(
            std::fs::read_dir(&state).expect("dir").count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn an_exposed_or_foreign_key_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        ProbeKey::load_or_create(dir.path()).expect("made");
        let path = dir.path().join(KEY_FILE);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert!(matches!(
            ProbeKey::load_or_create(dir.path()),
            Err(KeyError::Exposed { mode: 0o644, .. })
        ));
        std::fs::write(&path, "something else\n").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert!(matches!(
            ProbeKey::load_or_create(dir.path()),
            Err(KeyError::Malformed { .. })
        ));
        assert_eq!(std::fs::read_to_string(&path).expect("kept"), "something else\n");
    }
}
