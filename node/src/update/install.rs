//! Installs a release beside the running version: the signature is checked against the
//! release key before anything is downloaded, the binary is downloaded with the media token
//! (resumable, SHA-256 checked, [`crate::fetch`]), its size checked, and it is written as
//! `DATA/releases/V/loa-node` with mode 0755. Nothing is switched here.

use ed25519_dalek::VerifyingKey;
use loa_protocol::ReleaseRef;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::trial::Releases;

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "this node has no release key ([update] release_key in node.toml): it takes no release"
    )]
    NoKey,
    #[error("[update] release_key in node.toml is not a public key: {0}")]
    BadKey(String),
    #[error("the release is not signed by this node's release key")]
    BadSignature,
    #[error("the release is malformed: {0}")]
    Malformed(String),
    #[error("{0}")]
    Fetch(#[from] crate::fetch::FetchError),
    #[error("the downloaded release is {got} bytes, its manifest says {want}")]
    Size { got: u64, want: u64 },
    #[error("cannot write the release: {0}")]
    Disk(#[from] std::io::Error),
}

/// The release key from node.toml, or why there is none to use.
pub fn release_key(text: Option<&str>) -> Result<VerifyingKey, InstallError> {
    let text = text
        .filter(|t| !t.trim().is_empty())
        .ok_or(InstallError::NoKey)?;
    loa_protocol::verifying_key_from_b64(text).map_err(|e| InstallError::BadKey(e.to_string()))
}

/// Checks the plan's release reference against the release key (no download yet).
pub fn verify(release: &ReleaseRef, key: &VerifyingKey) -> Result<(), InstallError> {
    match release.manifest().verify(&release.signature, key) {
        Ok(()) => Ok(()),
        Err(loa_protocol::ProtocolError::BadSignature) => Err(InstallError::BadSignature),
        Err(e) => Err(InstallError::Malformed(e.to_string())),
    }
}

/// Downloads, checks and writes the release; returns the installed binary's path.
pub async fn install(
    http: &reqwest::Client,
    token: &str,
    releases_dir: &Path,
    release: &ReleaseRef,
    key: &VerifyingKey,
) -> Result<PathBuf, InstallError> {
    verify(release, key)?;
    let incoming = releases_dir.join("incoming");
    let got = crate::fetch::fetch(http, &release.url, token, &release.sha256, &incoming).await?;
    let size = tokio::fs::metadata(&got).await?.len();
    if size != release.size {
        let _ = tokio::fs::remove_file(&got).await;
        return Err(InstallError::Size {
            got: size,
            want: release.size,
        });
    }
    let dest = Releases::binary(releases_dir, &release.version);
    let dir = dest.parent().expect("a release binary has a directory");
    tokio::fs::create_dir_all(dir).await?;
    let tmp = dir.join("loa-node.tmp");
    tokio::fs::copy(&got, &tmp).await?;
    tokio::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755)).await?;
    tokio::fs::File::open(&tmp).await?.sync_all().await?;
    tokio::fs::rename(&tmp, &dest).await?;
    let _ = tokio::fs::remove_file(&got).await;
    Ok(dest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use loa_protocol::{generate_key, public_key_b64, ReleaseManifest};

    fn signed(key: &ed25519_dalek::SigningKey) -> ReleaseRef {
        let m = ReleaseManifest {
            version: "2".into(),
            arch: "amd64".into(),
            sha256: "ab".repeat(32),
            size: 10,
        };
        let s = m.sign(key);
        ReleaseRef {
            version: m.version,
            arch: m.arch,
            url: "http://c/r".into(),
            sha256: m.sha256,
            size: m.size,
            signature: s.signature,
            allow_metered: false,
        }
    }

    #[test]
    fn a_node_without_a_release_key_refuses_every_release() {
        assert!(matches!(release_key(None), Err(InstallError::NoKey)));
        assert!(matches!(release_key(Some("  ")), Err(InstallError::NoKey)));
        assert!(matches!(
            release_key(Some("short")),
            Err(InstallError::BadKey(_))
        ));
        let err = release_key(None).unwrap_err().to_string();
        assert!(err.contains("[update] release_key"), "{err}");
    }

    #[test]
    fn only_the_release_key_verifies_a_release() {
        let (release_key_pair, plan_key) = (generate_key(), generate_key());
        let key = release_key(Some(&public_key_b64(&release_key_pair))).unwrap();
        assert!(verify(&signed(&release_key_pair), &key).is_ok());
        // Signed by another key (the plan key, say): refused.
        assert!(matches!(
            verify(&signed(&plan_key), &key),
            Err(InstallError::BadSignature)
        ));
        // A changed size under the same signature: refused.
        let mut r = signed(&release_key_pair);
        r.size = 11;
        assert!(matches!(verify(&r, &key), Err(InstallError::BadSignature)));
    }
}
