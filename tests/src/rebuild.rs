//! A second real build of the node, with another version string, for the over-the-air update
//! test: `loa-node` rebuilt with `LOA_BUILD_VERSION` set, into a target directory of its own.
//!
//! The new target directory starts as hard links to the tests' own (`cp -al`), so nothing but
//! the node's small binary crate is compiled and linked again. Before the build, the copy's
//! files that the rebuild would rewrite (the binary's outputs, its fingerprint, the
//! incremental state and cargo's locks) are removed from it, and its fingerprints and build
//! script outputs are copied rather than linked, so no inode is shared with a file that
//! changes: `target/debug/loa-node`, which other tests run in parallel, is not touched.
//!
//! The build runs without the variables `cargo test` sets for a test (`CARGO_MANIFEST_DIR`
//! and the like), as from a shell: some build scripts watch them, and with them set every
//! dependency that has one would be built again.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::procs::bin_dir;

/// Builds `loa-node` reporting `version`; returns the new binary's path (under
/// `target/ota-{version}/`).
pub fn node_with_version(version: &str) -> anyhow::Result<PathBuf> {
    let profile_dir = bin_dir();
    let profile = profile_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("no profile directory"))?
        .to_string();
    let root = profile_dir
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no target directory"))?
        .join(format!("ota-{version}"));
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    std::fs::create_dir_all(&root)?;
    let copy = root.join(&profile);
    let status = Command::new("cp")
        .arg("-al")
        .arg(&profile_dir)
        .arg(&copy)
        .status()?;
    anyhow::ensure!(status.success(), "cp -al {} failed", profile_dir.display());
    unshare(&copy)?;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or_else(|| anyhow::anyhow!("no workspace"))?
        .join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if (k.starts_with("CARGO_") && k != "CARGO_HOME") || k == "CARGO" || k == "LD_LIBRARY_PATH"
        {
            cmd.env_remove(&*k);
        }
    }
    // The same selection the binaries were built with (`cargo build --workspace --bins`, as
    // scripts/test.sh does), so the dependencies' features, and so their builds, are the
    // ones already there: only the node's binary crate is compiled again.
    cmd.args(["build", "--quiet", "--workspace", "--bins"])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &root)
        .env("LOA_BUILD_VERSION", version);
    if profile == "release" {
        cmd.arg("--release");
    }
    let started = std::time::Instant::now();
    let out = cmd.output()?;
    eprintln!(
        "built loa-node {version} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    anyhow::ensure!(
        out.status.success(),
        "building loa-node {version} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(copy.join("loa-node"))
}

/// Removes from the copy every file the node binary's rebuild writes in place.
fn unshare(copy: &Path) -> anyhow::Result<()> {
    let remove = |p: &Path| -> std::io::Result<()> {
        if p.is_dir() {
            std::fs::remove_dir_all(p)
        } else {
            std::fs::remove_file(p)
        }
    };
    for name in ["loa-node", "loa-node.d", ".cargo-lock"] {
        let _ = remove(&copy.join(name));
    }
    for entry in std::fs::read_dir(copy)? {
        let p = entry?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with(".cargo") && name.contains("lock") {
            remove(&p)?;
        }
    }
    // The binary's own outputs: `deps/loa_node-HASH` (not the library's `libloa_node-…`).
    for entry in std::fs::read_dir(copy.join("deps"))? {
        let p = entry?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("loa_node-") {
            remove(&p)?;
        }
    }
    // Its fingerprint: the `.fingerprint/loa-node-HASH` folder holding `bin-loa-node`.
    for entry in std::fs::read_dir(copy.join(".fingerprint"))? {
        let p = entry?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("loa-node-") && p.join("bin-loa-node").exists() {
            remove(&p)?;
        }
    }
    // Fingerprints and build script outputs are rewritten in place: copies, with their times.
    for dir in [".fingerprint", "build"] {
        let linked = copy.join(dir);
        let aside = copy.join(format!("{dir}.linked"));
        std::fs::rename(&linked, &aside)?;
        let status = Command::new("cp")
            .arg("-a")
            .arg(&aside)
            .arg(&linked)
            .status()?;
        anyhow::ensure!(status.success(), "cp -a {} failed", aside.display());
        std::fs::remove_dir_all(&aside)?;
    }
    // Incremental state is rewritten as it is used.
    if let Ok(dir) = std::fs::read_dir(copy.join("incremental")) {
        for entry in dir {
            let p = entry?.path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("loa_node-") {
                remove(&p)?;
            }
        }
    }
    Ok(())
}
