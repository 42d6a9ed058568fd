//! SQLite's errors as the store's: the backend's own error stays inside the backend.

use crate::store::StoreError;

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        // Busy or locked databases, I/O hiccups, a full disk or memory may pass; anything else will not.
        let retryable = matches!(
            &err,
            rusqlite::Error::SqliteFailure(e, _) if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::OutOfMemory
            )
        );
        StoreError::Backend {
            backend: "sqlite",
            message: err.to_string(),
            retryable,
        }
    }
}
