//! Conversions between stored epoch milliseconds and UTC times.

use chrono::{DateTime, Utc};

use crate::store::StoreError;

/// Epoch milliseconds of a time.
pub(super) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The time stored as epoch milliseconds.
pub(super) fn from_ms(ms: i64, context: &'static str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt {
        context,
        detail: format!("{ms} ms is out of range"),
    })
}
