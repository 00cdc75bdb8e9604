//! Signed envelopes: `{"payload": "<the body's JSON text>", "sig": "<base64 Ed25519>"}`.
//!
//! The signature covers exactly the payload's bytes as they travel, so no re-serialisation can
//! make a signed message mean something else. Keys travel as base64 of their 32 raw bytes.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{check_size, ProtocolError};

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    /// The body's JSON text; the signature is over these bytes.
    payload: String,
    /// Base64 of the 64-byte Ed25519 signature.
    sig: String,
}

/// Serialises `body` and signs it: the bytes to publish.
pub fn seal<T: Serialize>(body: &T, key: &SigningKey) -> Vec<u8> {
    let payload = serde_json::to_string(body).expect("protocol bodies always serialise");
    let sig = key.sign(payload.as_bytes());
    let env = Envelope {
        payload,
        sig: B64.encode(sig.to_bytes()),
    };
    serde_json::to_vec(&env).expect("an envelope always serialises")
}

/// Checks size and signature, then decodes the body. Nothing is parsed before the size check,
/// and the body is not parsed before the signature is verified.
pub fn open<T: DeserializeOwned>(
    bytes: &[u8],
    key: &VerifyingKey,
    limit: usize,
) -> Result<T, ProtocolError> {
    open_with_any(bytes, std::slice::from_ref(key), limit).map(|(body, _)| body)
}

/// [`open`] for a message that may be signed by any of `keys` (a node trusts the controller's
/// current key and, during a rotation, the next one). Returns the body and which key signed it.
pub fn open_with_any<T: DeserializeOwned>(
    bytes: &[u8],
    keys: &[VerifyingKey],
    limit: usize,
) -> Result<(T, usize), ProtocolError> {
    check_size(bytes, limit)?;
    let env: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| ProtocolError::Malformed(format!("not a signed envelope: {e}")))?;
    let sig_bytes = B64
        .decode(env.sig.as_bytes())
        .map_err(|_| ProtocolError::BadSignature)?;
    let sig = Signature::from_slice(&sig_bytes).map_err(|_| ProtocolError::BadSignature)?;
    let signer = keys
        .iter()
        .position(|k| k.verify(env.payload.as_bytes(), &sig).is_ok())
        .ok_or(ProtocolError::BadSignature)?;
    Ok((serde_json::from_str(&env.payload)?, signer))
}

/// Decodes the body of an envelope without checking its signature: only for the signer's own
/// copy of what it sent (the controller reading back a plan it stored).
pub fn peek<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ProtocolError> {
    let env: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| ProtocolError::Malformed(format!("not a signed envelope: {e}")))?;
    Ok(serde_json::from_str(&env.payload)?)
}

/// A new random signing key.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// The base64 text of a key's public half, as nodes pin it.
pub fn public_key_b64(key: &SigningKey) -> String {
    verifying_key_b64(&key.verifying_key())
}

/// The base64 text of a public key: how plans announce a key and node states name one.
pub fn verifying_key_b64(key: &VerifyingKey) -> String {
    B64.encode(key.to_bytes())
}

/// Reads a public key from its base64 text.
pub fn verifying_key_from_b64(text: &str) -> Result<VerifyingKey, ProtocolError> {
    let raw: [u8; 32] = B64
        .decode(text.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ProtocolError::Malformed("a public key is 32 bytes in base64".into()))?;
    VerifyingKey::from_bytes(&raw)
        .map_err(|e| ProtocolError::Malformed(format!("not an Ed25519 public key: {e}")))
}

/// Reads a signing key from the base64 text of its 32-byte secret.
pub fn signing_key_from_b64(text: &str) -> Result<SigningKey, ProtocolError> {
    let raw: [u8; 32] = B64
        .decode(text.trim())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| ProtocolError::Malformed("a secret key is 32 bytes in base64".into()))?;
    Ok(SigningKey::from_bytes(&raw))
}

/// The base64 text of a key's secret half, for the controller's key file.
pub fn secret_key_b64(key: &SigningKey) -> String {
    B64.encode(key.to_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Body {
        n: u32,
        s: String,
    }

    #[test]
    fn sealed_body_opens_with_the_right_key() {
        let key = generate_key();
        let body = Body {
            n: 7,
            s: "thôn Nà Sài".into(),
        };
        let bytes = seal(&body, &key);
        let back: Body = open(&bytes, &key.verifying_key(), 1 << 20).unwrap();
        assert_eq!(back, body);
    }

    #[test]
    fn another_key_is_a_bad_signature() {
        let bytes = seal(&Body { n: 1, s: "".into() }, &generate_key());
        let err = open::<Body>(&bytes, &generate_key().verifying_key(), 1 << 20).unwrap_err();
        assert_eq!(err, ProtocolError::BadSignature);
    }

    #[test]
    fn signature_covers_exactly_the_bytes_sent() {
        let key = generate_key();
        let bytes = seal(
            &Body {
                n: 1,
                s: "a".into(),
            },
            &key,
        );
        let mut env: Envelope = serde_json::from_slice(&bytes).unwrap();
        // Same meaning, different bytes: an extra space inside the payload.
        env.payload = env.payload.replacen(':', ": ", 1);
        let reformatted = serde_json::to_vec(&env).unwrap();
        let err = open::<Body>(&reformatted, &key.verifying_key(), 1 << 20).unwrap_err();
        assert_eq!(err, ProtocolError::BadSignature);
        // The bytes as sent still verify.
        assert!(open::<Body>(&bytes, &key.verifying_key(), 1 << 20).is_ok());
    }

    #[test]
    fn oversize_is_refused_before_parsing() {
        let key = generate_key();
        let bytes = seal(
            &Body {
                n: 1,
                s: "x".repeat(100),
            },
            &key,
        );
        let err = open::<Body>(&bytes, &key.verifying_key(), 50).unwrap_err();
        assert!(matches!(err, ProtocolError::Oversize { limit: 50, .. }));
    }

    #[test]
    fn garbage_is_malformed_and_a_mangled_signature_is_bad() {
        let key = generate_key();
        let err = open::<Body>(b"\xff\x00garbage", &key.verifying_key(), 1024).unwrap_err();
        assert!(matches!(err, ProtocolError::Malformed(_)));
        let bad = br#"{"payload":"{\"n\":1,\"s\":\"\"}","sig":"not base64!"}"#;
        let err = open::<Body>(bad, &key.verifying_key(), 1024).unwrap_err();
        assert_eq!(err, ProtocolError::BadSignature);
    }

    #[test]
    fn any_of_several_keys_opens_and_says_which() {
        let (old, new) = (generate_key(), generate_key());
        let keys = [old.verifying_key(), new.verifying_key()];
        let bytes = seal(&Body { n: 2, s: "".into() }, &new);
        let (body, signer): (Body, usize) = open_with_any(&bytes, &keys, 1024).unwrap();
        assert_eq!((body.n, signer), (2, 1));
        let err = open_with_any::<Body>(&bytes, &keys[..1], 1024).unwrap_err();
        assert_eq!(err, ProtocolError::BadSignature);
        assert!(open_with_any::<Body>(&bytes, &[], 1024).is_err());
    }

    #[test]
    fn keys_round_trip_through_base64() {
        let key = generate_key();
        let public = verifying_key_from_b64(&public_key_b64(&key)).unwrap();
        assert_eq!(public, key.verifying_key());
        let secret = signing_key_from_b64(&secret_key_b64(&key)).unwrap();
        assert_eq!(secret.to_bytes(), key.to_bytes());
        assert!(verifying_key_from_b64("short").is_err());
    }
}
