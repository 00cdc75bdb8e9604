//! Node releases for the tests, made as a release builder makes them: a release key from
//! `loa-controller release keygen` and bundles signed with it by `loa-controller release sign`.

use crate::procs::bin;
use std::path::Path;
use std::process::Command;

/// A fresh release key written to `out`; returns its public half (base64).
pub fn keygen(out: &Path) -> anyhow::Result<String> {
    let o = Command::new(bin("loa-controller")?)
        .args(["release", "keygen", "--out"])
        .arg(out)
        .output()?;
    anyhow::ensure!(
        o.status.success(),
        "release keygen failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Ok(String::from_utf8(o.stdout)?.trim().to_string())
}

/// `binary` as release `version` for this machine's architecture, signed with the key file
/// `key`, written to `dir/{version}.bundle`; returns the bundle's path.
pub fn bundle(
    dir: &Path,
    key: &Path,
    version: &str,
    binary: &Path,
) -> anyhow::Result<std::path::PathBuf> {
    let out = dir.join(format!("{version}.bundle"));
    let o = Command::new(bin("loa-controller")?)
        .args(["release", "sign", "--key"])
        .arg(key)
        .args([
            "--arch",
            loa_protocol::release::this_arch(),
            "--version",
            version,
        ])
        .arg(binary)
        .arg("--out")
        .arg(&out)
        .output()?;
    anyhow::ensure!(
        o.status.success(),
        "release sign failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Ok(out)
}
