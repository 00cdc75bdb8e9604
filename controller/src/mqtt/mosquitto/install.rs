//! Putting the files where Mosquitto reads them: written atomically, mode 0640, group
//! `mosquitto` when we can; and asking a running Mosquitto to reload them (SIGHUP).
//!
//! Why the group: Mosquitto started as root (as Debian's service does) drops to its own
//! `mosquitto` user before it reads the password and ACL files, and refuses to start, or to
//! reload, when it cannot read them. So the files are owned root:mosquitto when written as root;
//! written by the controller's own user, they take the group of a setgid directory owned by
//! group `mosquitto` (see docs/mosquitto.md). Mode 0640: the hashes are nobody else's business.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The file mode of both files.
const MODE: u32 = 0o640;

/// Replaces `path` with `text`: a temporary file beside it, synced, then renamed over it, so
/// Mosquitto never reads half a file.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("loa");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, MODE);
        let mut f = opts.open(&tmp)?;
        f.write_all(text.as_bytes())?;
        // The umask may have taken bits away, and a leftover file kept its old mode.
        #[cfg(unix)]
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(MODE))?;
        #[cfg(unix)]
        give_to_mosquitto(&tmp)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// As root, with a `mosquitto` group on this machine: root:mosquitto. Otherwise the file keeps
/// the owner and group it was created with.
#[cfg(unix)]
fn give_to_mosquitto(path: &Path) -> std::io::Result<()> {
    if !rustix::process::geteuid().is_root() {
        return Ok(());
    }
    match group_id("mosquitto") {
        Some(gid) => std::os::unix::fs::chown(path, Some(0), Some(gid)),
        None => Ok(()),
    }
}

/// A group's id from `/etc/group` (where Debian's mosquitto package adds its system group).
#[cfg(unix)]
fn group_id(name: &str) -> Option<u32> {
    let text = std::fs::read_to_string("/etc/group").ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.split(':');
        (fields.next()? == name).then_some(())?;
        fields.nth(1)?.parse().ok()
    })
}

#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("cannot read Mosquitto's pid file {path}: {source}")]
    PidFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("Mosquitto's pid file {0} holds no process id")]
    BadPid(PathBuf),
    #[error("cannot signal Mosquitto (pid {pid}): {source}")]
    Signal { pid: i32, source: std::io::Error },
}

/// Sends SIGHUP to the process in `pid_file`: Mosquitto then rereads its password and ACL
/// files, and disconnects clients whose account is gone or changed.
pub fn reload(pid_file: &Path) -> Result<i32, ReloadError> {
    let text = std::fs::read_to_string(pid_file).map_err(|source| ReloadError::PidFile {
        path: pid_file.to_path_buf(),
        source,
    })?;
    let pid: i32 = text
        .trim()
        .parse()
        .map_err(|_| ReloadError::BadPid(pid_file.to_path_buf()))?;
    signal_hup(pid).map_err(|source| ReloadError::Signal { pid, source })?;
    Ok(pid)
}

#[cfg(unix)]
fn signal_hup(pid: i32) -> std::io::Result<()> {
    let pid = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "pid 0"))?;
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).map_err(Into::into)
}

#[cfg(not(unix))]
fn signal_hup(_pid: i32) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "signals need a Unix system",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_written_file_replaces_the_old_one_with_mode_0640_and_no_leftovers() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loa.acl");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        write_atomically(&path, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_missing_or_empty_pid_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.pid");
        assert!(matches!(reload(&path), Err(ReloadError::PidFile { .. })));
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(reload(&path), Err(ReloadError::BadPid(_))));
    }
}
