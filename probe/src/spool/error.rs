//! Spool failures.

use std::path::PathBuf;

/// A spool operation that failed. Damaged records are not errors: they are skipped and counted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// Another process holds the spool.
    #[error(
        "another vigil-probe is using the spool in {dir} (lock held on {lock}); stop it before starting a second one"
    )]
    Locked {
        /// The state directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The database failed.
    #[error("spool database: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

impl SpoolError {
    /// Whether the failure is the lock held by another process.
    pub fn is_locked(&self) -> bool {
        matches!(self, SpoolError::Locked { .. })
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SpoolError::Io {
            context: context.into(),
            source,
        }
    }
}
