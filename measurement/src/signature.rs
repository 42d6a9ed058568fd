//! Batch signatures (DESIGN.md §2 extension): a probe signs the exact bytes of each upload body with its
//! Ed25519 key and sends the signature in the `Vigil-Signature` header as `ed25519=<128 hex digits>`. Public
//! keys travel as `ed25519:<64 hex digits>`. Only the wire text forms and the check live here; keys are made and
//! kept by the probe.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

/// The HTTP header carrying a batch's signature.
pub const SIGNATURE_HEADER: &str = "Vigil-Signature";

const SIGNATURE_PREFIX: &str = "ed25519=";
const KEY_PREFIX: &str = "ed25519:";

/// Why a key or signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The public key text is not `ed25519:` and 64 hex digits, or not a point on the curve.
    #[error("a public key must be `ed25519:` followed by 64 hex digits of a valid Ed25519 key")]
    BadKey,
    /// The header is not `ed25519=` and 128 hex digits.
    #[error("the {SIGNATURE_HEADER} header must be `ed25519=` followed by 128 hex digits")]
    BadSignatureText,
    /// Well-formed, but not a signature of these bytes by this key.
    #[error("the signature does not verify over the body with this probe's registered key")]
    Mismatch,
}

/// A probe's public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey(pub [u8; 32]);

impl PublicKey {
    /// Reads `ed25519:<64 hex>` (surrounding whitespace ignored, hex case-insensitive).
    pub fn parse(text: &str) -> Result<Self, SignatureError> {
        let hex_part = text.trim().strip_prefix(KEY_PREFIX).ok_or(SignatureError::BadKey)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| SignatureError::BadKey)?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| SignatureError::BadKey)?;
        Ok(PublicKey(bytes))
    }

    /// Checks a `Vigil-Signature` header value against `body`. Strict verification: no malleable or
    /// small-order forms are accepted.
    pub fn verify(&self, body: &[u8], header: &str) -> Result<[u8; 64], SignatureError> {
        let signature = parse_signature(header)?;
        self.verify_raw(body, &signature)?;
        Ok(signature)
    }

    /// Checks raw signature bytes against `body` (as kept in the store).
    pub fn verify_raw(&self, body: &[u8], signature: &[u8; 64]) -> Result<(), SignatureError> {
        let key = VerifyingKey::from_bytes(&self.0).map_err(|_| SignatureError::BadKey)?;
        key.verify_strict(body, &Signature::from_bytes(signature))
            .map_err(|_| SignatureError::Mismatch)
    }
}

impl std::fmt::Display for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{KEY_PREFIX}{}", hex::encode(self.0))
    }
}

impl serde::Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads a `Vigil-Signature` header value.
pub fn parse_signature(header: &str) -> Result<[u8; 64], SignatureError> {
    let hex_part = header
        .trim()
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(SignatureError::BadSignatureText)?;
    let mut bytes = [0u8; 64];
    hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| SignatureError::BadSignatureText)?;
    Ok(bytes)
}

/// The public key of a secret key (32-byte Ed25519 seed).
pub fn public_key_of(secret: &[u8; 32]) -> PublicKey {
    PublicKey(SigningKey::from_bytes(secret).verifying_key().to_bytes())
}

/// The `Vigil-Signature` header value for `body` signed with `secret` (32-byte Ed25519 seed).
pub fn sign(secret: &[u8; 32], body: &[u8]) -> String {
    let signature = SigningKey::from_bytes(secret).sign(body);
    format!("{SIGNATURE_PREFIX}{}", hex::encode(signature.to_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];

    #[test]
    fn a_signature_verifies_only_over_its_own_body_and_key() {
        let key = public_key_of(&SECRET);
        let header = sign(&SECRET, b"line 1\nline 2\n");
        assert!(key.verify(b"line 1\nline 2\n", &header).is_ok());
        assert_eq!(key.verify(b"line 1\nline 3\n", &header), Err(SignatureError::Mismatch));
        let other = public_key_of(&[8; 32]);
        assert_eq!(
            other.verify(b"line 1\nline 2\n", &header),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn key_and_signature_texts_round_trip_and_refuse_junk() {
        let key = public_key_of(&SECRET);
        let text = key.to_string();
        assert!(text.starts_with("ed25519:") && text.len() == 8 + 64, "{text}");
        assert_eq!(
            PublicKey::parse(&format!("  {}\n", text.to_uppercase().replace("ED25519", "ed25519"))),
            Ok(key)
        );
        for bad in ["", "ed25519:", "ed25519:zz", &text[1..], &format!("{text}00")] {
            assert_eq!(PublicKey::parse(bad), Err(SignatureError::BadKey), "{bad}");
        }
        for bad in ["", "ed25519=", "ed25519=abc", "rsa=00", &sign(&SECRET, b"x")[1..]] {
            assert_eq!(parse_signature(bad), Err(SignatureError::BadSignatureText), "{bad}");
        }
    }
}
