//! The keeper: the packaged binary (what systemd starts) decides what runs. With no release
//! active it runs the node in its own process. With one active it runs that release's binary
//! as its child, forwarding SIGTERM and SIGINT and exiting with the child's status. With one on
//! trial it watches the child: the child writes a mark once it is connected and has taken a
//! plan; if it exits before that, or has not done it within the trial window, the keeper stops
//! it, switches back to the previous version, writes why into `state.json` (the node reports
//! it in its state), and runs the previous version.

use chrono::Utc;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::signal::unix::{signal, SignalKind};

use super::trial::{Releases, ToRun};
use super::{CONFIRM_ENV, KEPT_ENV};

/// What the keeper did.
#[derive(Debug)]
pub enum Kept {
    /// No release is active: run the node in this process.
    RunHere,
    /// A release ran as the child and exited with this status.
    Exited(u8),
}

/// How often the keeper looks for the trial's mark.
const MARK_POLL: Duration = Duration::from_millis(200);

/// Keeps the node whose config is at `config` and data at `data`; a trial has `trial` to
/// confirm.
pub async fn keep(data: &Path, config: &Path, trial: Duration) -> anyhow::Result<Kept> {
    let dir = super::releases_dir(data);
    loop {
        let mut releases = Releases::load(&dir);
        match releases.to_run() {
            ToRun::Packaged => return Ok(Kept::RunHere),
            ToRun::Release(v) => {
                tracing::info!(version = %v, "running the active release");
                let child = match start(&dir, &v, config, None) {
                    Ok(c) => c,
                    Err(e) => {
                        // A release that cannot even start is no release: back to packaged.
                        tracing::error!(version = %v, error = %e, "cannot start the active release; running the packaged version");
                        releases.active = None;
                        releases.save(&dir)?;
                        return Ok(Kept::RunHere);
                    }
                };
                return Ok(Kept::Exited(code(forward_until_exit(child).await?)));
            }
            ToRun::Trial(v) => {
                let mark = Releases::mark(&dir, &v);
                let _ = std::fs::remove_file(&mark);
                tracing::info!(version = %v, window_s = trial.as_secs(), "trying the new version");
                let reason = match start(&dir, &v, config, Some(&mark)) {
                    Err(e) => format!("version {v} could not start: {e}"),
                    Ok(child) => match watch(child, &mark, trial).await? {
                        Watched::Confirmed(child) => {
                            releases.confirm();
                            releases.save(&dir)?;
                            tracing::info!(version = %v, "the new version is connected and has a plan: it stays");
                            return Ok(Kept::Exited(code(forward_until_exit(child).await?)));
                        }
                        Watched::Stopped(status) => {
                            // Stopped by systemd during the trial: the trial stays for the
                            // next start.
                            return Ok(Kept::Exited(code(status)));
                        }
                        Watched::Failed(reason) => reason,
                    },
                };
                tracing::error!(version = %v, reason = %reason, "rolling back to the previous version");
                releases.roll_back(&reason, Utc::now());
                releases.save(&dir)?;
            }
        }
    }
}

enum Watched {
    Confirmed(Child),
    Stopped(ExitStatus),
    Failed(String),
}

/// Watches a trial child until it confirms, fails, or the service is stopped.
async fn watch(mut child: Child, mark: &Path, window: Duration) -> anyhow::Result<Watched> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let deadline = tokio::time::Instant::now() + window;
    let mut poll = tokio::time::interval(MARK_POLL);
    loop {
        tokio::select! {
            status = child.wait() => {
                let status = status?;
                // It may have confirmed just before exiting (asked to switch again, say).
                if mark.exists() {
                    return Ok(Watched::Stopped(status));
                }
                return Ok(Watched::Failed(format!(
                    "it exited ({}) before connecting and taking a plan",
                    describe(status)
                )));
            }
            _ = poll.tick() => {
                if mark.exists() {
                    return Ok(Watched::Confirmed(child));
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                let _ = child.kill().await;
                return Ok(Watched::Failed(format!(
                    "it did not connect and take a plan within {} s",
                    window.as_secs()
                )));
            }
            _ = term.recv() => { terminate(&child); return Ok(Watched::Stopped(child.wait().await?)); }
            _ = int.recv() => { terminate(&child); return Ok(Watched::Stopped(child.wait().await?)); }
        }
    }
}

/// Starts a release's binary as `loa-node run --config CONFIG`, with the confirmation mark's
/// path when it is on trial.
fn start(dir: &Path, version: &str, config: &Path, mark: Option<&Path>) -> std::io::Result<Child> {
    let mut cmd = Command::new(Releases::binary(dir, version));
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        .env(KEPT_ENV, "1");
    match mark {
        Some(m) => cmd.env(CONFIRM_ENV, m),
        None => cmd.env_remove(CONFIRM_ENV),
    };
    cmd.kill_on_drop(true).spawn()
}

/// Waits for the child, passing SIGTERM and SIGINT on to it.
async fn forward_until_exit(mut child: Child) -> anyhow::Result<ExitStatus> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            status = child.wait() => return Ok(status?),
            _ = term.recv() => terminate(&child),
            _ = int.recv() => terminate(&child),
        }
    }
}

fn terminate(child: &Child) {
    if let Some(pid) = child
        .id()
        .and_then(|p| rustix::process::Pid::from_raw(p as i32))
    {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}

/// The child's status as the keeper's own exit status.
fn code(status: ExitStatus) -> u8 {
    status.code().map(|c| c as u8).unwrap_or(1)
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("status {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A data directory whose release `2` is the shell script `body`, on trial after the
    /// packaged binary.
    fn on_trial(body: &str) -> tempfile::TempDir {
        let data = tempfile::tempdir().unwrap();
        let dir = super::super::releases_dir(data.path());
        let bin = Releases::binary(&dir, "2");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut r = Releases::default();
        r.begin_trial("2", None, Utc::now());
        r.save(&dir).unwrap();
        data
    }

    /// The keeper's three ends of a trial, with stand-in releases (shell scripts: what is
    /// under test is the keeper, not the node): it confirms, it crashes, it hangs.
    #[tokio::test]
    async fn a_trial_is_kept_when_it_confirms_and_rolled_back_when_it_crashes_or_hangs() {
        let cases = [
            (
                "confirms, then stops",
                "echo 2 > \"$LOA_NODE_CONFIRM\"; sleep 0.5; exit 0",
                Some(0),
                Some("2"),
                None,
            ),
            (
                "crashes at start",
                "exit 3",
                None,
                None,
                Some("it exited (status 3) before connecting and taking a plan"),
            ),
            (
                "never connects",
                "exec sleep 30",
                None,
                None,
                Some("it did not connect and take a plan within 1 s"),
            ),
        ];
        for (name, body, exited, active, reason) in cases {
            let data = on_trial(body);
            let kept = keep(
                data.path(),
                Path::new("/nonexistent/node.toml"),
                Duration::from_secs(1),
            )
            .await
            .unwrap();
            let code = match kept {
                Kept::Exited(c) => Some(c),
                Kept::RunHere => None,
            };
            assert_eq!(code, exited, "{name}: {kept:?}");
            let r = Releases::load(&super::super::releases_dir(data.path()));
            assert_eq!(r.trial, None, "{name}");
            assert_eq!(r.active.as_deref(), active, "{name}");
            assert_eq!(
                r.last_rollback.as_ref().map(|b| b.reason.as_str()),
                reason,
                "{name}"
            );
        }
    }
}
