//! `scripts/setup.sh`, the first step of the README's first command, on a machine whose package
//! sources half fail: `apt-get update` failing for one index (a mirror being synced) must not
//! stop it; a package loa needs that cannot be installed must, naming it.
//!
//! apt itself cannot be made to fail on cue here (and installing for real needs the network),
//! so `apt-get`, `dpkg-query` and `sudo` are small stand-ins on `PATH` that do what a broken
//! mirror does and record what they were asked. The script under test is the real one.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Writes an executable shell script `name` into `dir`.
fn stub(dir: &Path, name: &str, body: &str) {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs setup.sh with a package system where nothing is installed, `apt-get update` fails
/// for one index, and installing any of `broken` fails. Returns its output and what
/// `apt-get install` was asked, one call a line.
fn setup_with_broken_mirror(broken: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.path().join("installs");
    stub(&bin, "dpkg-query", "exit 1");
    stub(&bin, "sudo", "exec \"$@\"");
    stub(
        &bin,
        "apt-get",
        &format!(
            r#"case "$1" in
update)
    echo "E: Failed to fetch http://deb.debian.org/debian/dists/bookworm-updates/main/binary-amd64/Packages  File has unexpected size (mirror sync in progress?)" >&2
    exit 100 ;;
install)
    shift
    echo "$*" >> {log}
    for p in "$@"; do
        for b in {broken}; do
            if [ "$p" = "$b" ]; then echo "E: Unable to locate package $p" >&2; exit 100; fi
        done
    done
    exit 0 ;;
esac
exit 1"#,
            log = log.display(),
            broken = broken.join(" "),
        ),
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let script: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/setup.sh");
    let out = Command::new("bash")
        .arg(script)
        .env("PATH", path)
        .output()
        .unwrap();
    let installs = std::fs::read_to_string(&log).unwrap_or_default();
    (out, installs)
}

#[test]
fn a_failing_index_does_not_stop_setup_when_the_packages_install() {
    let (out, installs) = setup_with_broken_mirror(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("trying to install anyway"), "{stderr}");
    assert!(
        installs.contains("pkg-config") && installs.contains("libasound2-dev"),
        "{installs}"
    );
}

#[test]
fn a_needed_package_that_cannot_be_installed_stops_setup_and_is_named() {
    let (out, installs) = setup_with_broken_mirror(&["espeak-ng"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "setup went on without espeak-ng");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("cannot install espeak-ng,"),
        "names the package, and only it: {stderr}"
    );
    // The others were tried one by one and did install.
    assert!(installs
        .lines()
        .any(|l| l == "-y -qq --no-install-recommends pkg-config"));
}
