//! Over-the-air updates of the node itself (docs/field.md, "Updating over the air").
//!
//! - [`trial`]: `DATA/releases/state.json`: which version runs, the one on trial and the last
//!   rollback, with its transitions (no I/O but load and save).
//! - [`idle`]: whether the node may take a release now (nothing plays or is due, no emergency,
//!   not a metered link unless allowed), and whether the plan's release is one to take.
//! - [`install`]: download with the media token, size, SHA-256 and release-key checks, then
//!   `DATA/releases/V/loa-node` (mode 0755).
//! - [`keeper`]: the packaged binary as the keeper: it runs the active release as its child,
//!   tries a new one, and switches back when it does not connect and take a plan in time.
//!
//! The switch: the running node writes the trial into `state.json` and exits with
//! [`SWITCH_EXIT_CODE`]; systemd (`RestartForceExitStatus=75`) starts the keeper again, which
//! starts the trial. The decision to roll back is made by the packaged binary, known-good code,
//! never by the release under trial.

pub mod idle;
pub mod install;
pub mod keeper;
pub mod trial;

use std::sync::OnceLock;

/// The exit status with which a node asks to be restarted on a new version (EX_TEMPFAIL).
pub const SWITCH_EXIT_CODE: u8 = 75;

/// Set by the keeper on its child: run the node here, do not keep another one.
pub const KEPT_ENV: &str = "LOA_NODE_KEPT";

/// Set by the keeper on a trial child: the file to write once connected with a plan taken.
pub const CONFIRM_ENV: &str = "LOA_NODE_CONFIRM";

/// How long a new version has to confirm unless `[update] trial_secs` says otherwise.
pub const DEFAULT_TRIAL_SECS: u64 = 120;

static VERSION: OnceLock<String> = OnceLock::new();

/// Sets this build's version (the binary's `LOA_BUILD_VERSION`, or the crate's version).
pub fn set_version(v: &str) {
    let _ = VERSION.set(v.to_string());
}

/// This build's version, as the node reports it and as releases name it.
pub fn version() -> &'static str {
    VERSION.get_or_init(|| env!("CARGO_PKG_VERSION").to_string())
}

/// Where releases, their state and the confirmation marks live.
pub fn releases_dir(data: &std::path::Path) -> std::path::PathBuf {
    data.join("releases")
}

/// Writes the confirmation mark the keeper waits for, when this node is a trial child.
/// Returns whether one was written.
pub fn confirm() -> bool {
    let Some(path) = std::env::var_os(CONFIRM_ENV) else {
        return false;
    };
    match crate::disk::write_atomic(std::path::Path::new(&path), version().as_bytes()) {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, "cannot write the confirmation of the new version");
            false
        }
    }
}
