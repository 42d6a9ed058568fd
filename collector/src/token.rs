//! Probe credentials: random bearer tokens, their hashes, and pseudonymous probe ids.
//!
//! A token is shown once at registration and never stored; the store keeps its SHA-256. Probe ids are drawn
//! independently of tokens, so a public id says nothing about a credential.

use sha2::{Digest, Sha256};

use crate::store::TokenHash;

/// Prefix that marks a Vigil probe token (helps secret scanners and humans).
pub const TOKEN_PREFIX: &str = "vgl_";

/// The operating system's random source failed.
#[derive(Debug, thiserror::Error)]
#[error("no randomness available from the operating system: {0}")]
pub struct RandomnessError(String);

fn random_bytes<const N: usize>() -> Result<[u8; N], RandomnessError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| RandomnessError(e.to_string()))?;
    Ok(buf)
}

/// A new bearer token: the prefix and 256 random bits in hex.
pub fn new_token() -> Result<String, RandomnessError> {
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(random_bytes::<32>()?)))
}

/// A new pseudonymous probe id: `prb-` and 48 random bits in hex.
pub fn new_probe_id() -> Result<String, RandomnessError> {
    Ok(format!("prb-{}", hex::encode(random_bytes::<6>()?)))
}

/// The hash under which a token is stored and looked up.
pub fn hash_token(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_prefixed_and_distinct() {
        let a = new_token().expect("randomness");
        let b = new_token().expect("randomness");
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == TOKEN_PREFIX.len() + 64, "{a}");
        assert_ne!(a, b);
        assert_ne!(hash_token(&a), hash_token(&b));
        assert_eq!(hash_token(&a), hash_token(&a));
    }

    #[test]
    fn probe_ids_are_short_and_distinct() {
        let a = new_probe_id().expect("randomness");
        assert!(a.starts_with("prb-") && a.len() == 16, "{a}");
        assert_ne!(a, new_probe_id().expect("randomness"));
    }
}
