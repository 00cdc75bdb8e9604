//! The release key, held offline by whoever builds node releases: `loa-controller release
//! keygen` makes it, `loa-controller release sign` makes a bundle with it. The controller
//! itself only ever holds the public half (`release_key` in its config).

use sha2::{Digest, Sha256};
use std::path::Path;

use crate::keys::{read_key, write_key, KeyError};

/// Writes a new release key to `out` (mode 0600, never over an existing file); returns its
/// public half, base64, for the controller's config.
pub fn keygen(out: &Path) -> Result<String, KeyError> {
    let key = loa_protocol::generate_key();
    write_key(out, &key)?;
    Ok(loa_protocol::public_key_b64(&key))
}

/// The bundle of `binary` as release `version` for `arch`, signed with the key at `key_file`.
pub fn sign(key_file: &Path, arch: &str, version: &str, binary: &[u8]) -> anyhow::Result<Vec<u8>> {
    let key = read_key(key_file)?
        .ok_or_else(|| anyhow::anyhow!("{}: no such key file", key_file.display()))?;
    let manifest = loa_protocol::ReleaseManifest {
        version: version.to_string(),
        arch: arch.to_string(),
        sha256: hex::encode(Sha256::digest(binary)),
        size: binary.len() as u64,
    };
    manifest.validate()?;
    Ok(loa_protocol::release::write_bundle(
        &manifest.sign(&key),
        binary,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_bundle_verifies_under_the_printed_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let public = keygen(&dir.path().join("release.key")).unwrap();
        assert!(
            keygen(&dir.path().join("release.key")).is_err(),
            "never overwrites"
        );
        let bundle = sign(
            &dir.path().join("release.key"),
            "arm64",
            "0.2.0",
            b"\x7fELF...",
        )
        .unwrap();
        let (signed, binary) = loa_protocol::release::read_bundle(&bundle).unwrap();
        assert_eq!(binary, b"\x7fELF...");
        let key = loa_protocol::verifying_key_from_b64(&public).unwrap();
        assert!(signed.manifest.verify(&signed.signature, &key).is_ok());
        let other = loa_protocol::generate_key().verifying_key();
        assert!(signed.manifest.verify(&signed.signature, &other).is_err());
        assert!(sign(&dir.path().join("release.key"), "arm64", "../x", b"x").is_err());
    }
}
