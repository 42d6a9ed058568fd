//! Serde helper for fields that must be present but may be `null` (DESIGN.md §2: `status` "null when no response",
//! trace hops' `ip|null`). Plain `Option` fields would silently accept a missing key.

use serde::{Deserialize, Deserializer};

/// Deserializes `Option<T>` while leaving a missing key an error ("missing field `…`").
pub(crate) fn required<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}
