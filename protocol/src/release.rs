//! Node releases sent over the air: the signed manifest, the bundle an admin uploads, the
//! release reference a plan carries, and the progress a node reports in its state.
//!
//! A release is signed by the **release key**, held offline and separate from the plan key: a
//! stolen controller can send plans but cannot make nodes run its own code. The signature is
//! over the manifest's canonical bytes ([`ReleaseManifest::canonical`]): the four fields in a
//! fixed order, so the controller, the plan and the node all check the same bytes.
//!
//! A bundle is one file: the signed manifest as one line of JSON, a newline, then the binary.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::error::{check_id, ProtocolError};

/// What the release key signs: which build, for which architecture, and its exact bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseManifest {
    /// The node software's version string (`loa-node --version`), also its directory name.
    pub version: String,
    /// `amd64`, `arm64` or `armhf` (Debian's names), as nodes report theirs.
    pub arch: String,
    /// Lower-case hex SHA-256 of the binary.
    pub sha256: String,
    pub size: u64,
}

/// A manifest with its signature: the first line of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedManifest {
    #[serde(flatten)]
    pub manifest: ReleaseManifest,
    /// Base64 of the Ed25519 signature over [`ReleaseManifest::canonical`].
    pub signature: String,
}

/// The release a plan asks its node to run (absent: stay on what runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRef {
    pub version: String,
    pub arch: String,
    /// `GET` this with the node's media token: the binary alone.
    pub url: String,
    pub sha256: String,
    pub size: u64,
    /// Base64 Ed25519 signature of the release key over the manifest.
    pub signature: String,
    /// The admin allowed this rollout over links the node marks as metered.
    #[serde(default)]
    pub allow_metered: bool,
}

/// Where a node is with a release, as its state reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum UpdateStatus {
    /// Asked for, not started yet (the controller's word; a node never reports it).
    Pending,
    Downloading,
    /// Verified and written beside the running version; the switch comes next.
    Installed,
    /// The node runs this version and it has taken a plan.
    Running,
    /// It was tried and the node went back to the previous version (`reason` says why).
    RolledBack,
    /// Download or verification failed (`reason` says why); nothing was switched.
    Failed,
}

impl UpdateStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateStatus::Pending => "pending",
            UpdateStatus::Downloading => "downloading",
            UpdateStatus::Installed => "installed",
            UpdateStatus::Running => "running",
            UpdateStatus::RolledBack => "rolled_back",
            UpdateStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            UpdateStatus::Pending,
            UpdateStatus::Downloading,
            UpdateStatus::Installed,
            UpdateStatus::Running,
            UpdateStatus::RolledBack,
            UpdateStatus::Failed,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }
}

/// A node's progress with one release, in its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateProgress {
    pub version: String,
    pub status: UpdateStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ReleaseManifest {
    /// The bytes the release key signs: compact JSON, fields in this order.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest always serialises")
    }

    /// Refuses a manifest whose fields could not name a directory or a file's hash.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        check_id("release version", &self.version)?;
        check_id("release arch", &self.arch)?;
        if self.sha256.len() != 64
            || !self
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ProtocolError::Malformed(
                "release sha256 must be 64 lower-case hex digits".into(),
            ));
        }
        if self.size == 0 {
            return Err(ProtocolError::Malformed("release size is 0".into()));
        }
        Ok(())
    }

    /// Signs with the release key.
    pub fn sign(&self, key: &SigningKey) -> SignedManifest {
        SignedManifest {
            manifest: self.clone(),
            signature: B64.encode(key.sign(&self.canonical()).to_bytes()),
        }
    }

    /// Checks `signature` (base64) against the release key.
    pub fn verify(&self, signature: &str, key: &VerifyingKey) -> Result<(), ProtocolError> {
        self.validate()?;
        let raw = B64
            .decode(signature.trim())
            .map_err(|_| ProtocolError::BadSignature)?;
        let sig = Signature::from_slice(&raw).map_err(|_| ProtocolError::BadSignature)?;
        key.verify(&self.canonical(), &sig)
            .map_err(|_| ProtocolError::BadSignature)
    }
}

impl ReleaseRef {
    /// The manifest this reference claims, to verify its signature.
    pub fn manifest(&self) -> ReleaseManifest {
        ReleaseManifest {
            version: self.version.clone(),
            arch: self.arch.clone(),
            sha256: self.sha256.clone(),
            size: self.size,
        }
    }
}

/// Writes a bundle: the signed manifest's line, then the binary.
pub fn write_bundle(signed: &SignedManifest, binary: &[u8]) -> Vec<u8> {
    let mut out = serde_json::to_vec(signed).expect("a manifest always serialises");
    out.push(b'\n');
    out.extend_from_slice(binary);
    out
}

/// Splits a bundle into its signed manifest and its binary; checks the binary's size against
/// the manifest (the hash and signature are the caller's, who knows the key).
pub fn read_bundle(bytes: &[u8]) -> Result<(SignedManifest, &[u8]), ProtocolError> {
    let nl = bytes
        .iter()
        .take(4096)
        .position(|&b| b == b'\n')
        .ok_or_else(|| ProtocolError::Malformed("not a release bundle: no manifest line".into()))?;
    let signed: SignedManifest = serde_json::from_slice(&bytes[..nl])
        .map_err(|e| ProtocolError::Malformed(format!("not a release bundle: {e}")))?;
    signed.manifest.validate()?;
    let binary = &bytes[nl + 1..];
    if binary.len() as u64 != signed.manifest.size {
        return Err(ProtocolError::Malformed(format!(
            "the bundle's binary is {} bytes, its manifest says {}",
            binary.len(),
            signed.manifest.size
        )));
    }
    Ok((signed, binary))
}

/// The architecture of this build, by Debian's names (what a node reports).
pub fn this_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "armhf",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::generate_key;

    fn manifest() -> ReleaseManifest {
        ReleaseManifest {
            version: "0.2.0".into(),
            arch: "arm64".into(),
            sha256: "ab".repeat(32),
            size: 5,
        }
    }

    #[test]
    fn a_signed_manifest_verifies_only_under_its_key() {
        let (key, other) = (generate_key(), generate_key());
        let signed = manifest().sign(&key);
        assert_eq!(
            signed
                .manifest
                .verify(&signed.signature, &key.verifying_key()),
            Ok(())
        );
        assert_eq!(
            signed
                .manifest
                .verify(&signed.signature, &other.verifying_key()),
            Err(ProtocolError::BadSignature)
        );
    }

    #[test]
    fn every_field_is_covered_by_the_signature() {
        let key = generate_key();
        let signed = manifest().sign(&key);
        let changes: [fn(&mut ReleaseManifest); 4] = [
            |m| m.version = "0.2.1".into(),
            |m| m.arch = "armhf".into(),
            |m| m.sha256 = "cd".repeat(32),
            |m| m.size = 6,
        ];
        for change in changes {
            let mut m = signed.manifest.clone();
            change(&mut m);
            assert_eq!(
                m.verify(&signed.signature, &key.verifying_key()),
                Err(ProtocolError::BadSignature),
                "{m:?}"
            );
        }
        assert_eq!(
            signed.manifest.verify("not base64!", &key.verifying_key()),
            Err(ProtocolError::BadSignature)
        );
    }

    #[test]
    fn a_bundle_round_trips_and_a_short_one_is_refused() {
        let key = generate_key();
        let signed = manifest().sign(&key);
        let bytes = write_bundle(&signed, b"hello");
        let (back, binary) = read_bundle(&bytes).unwrap();
        assert_eq!((back, binary), (signed.clone(), &b"hello"[..]));
        let short = write_bundle(&signed, b"hell");
        assert!(matches!(
            read_bundle(&short),
            Err(ProtocolError::Malformed(m)) if m.contains("4 bytes")
        ));
        assert!(read_bundle(b"just a binary").is_err());
    }

    #[test]
    fn a_version_that_is_not_a_safe_directory_name_is_refused() {
        for bad in ["", "../x", ".hidden", "a/b", "1 0"] {
            let m = ReleaseManifest {
                version: bad.into(),
                ..manifest()
            };
            assert!(m.validate().is_err(), "{bad:?}");
        }
        assert!(manifest().validate().is_ok());
    }

    #[test]
    fn statuses_have_their_wire_names() {
        for s in ["pending", "running", "rolled_back", "failed"] {
            assert_eq!(UpdateStatus::parse(s).unwrap().as_str(), s);
        }
        let p: UpdateProgress =
            serde_json::from_str(r#"{"version":"1","status":"rolled_back","reason":"x"}"#).unwrap();
        assert_eq!(p.status, UpdateStatus::RolledBack);
    }
}
