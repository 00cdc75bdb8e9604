//! Plan intake: verify every plan against the controller keys the node trusts, its version and
//! its validity, and keep the last valid one on disk, so a node that reboots while cut off
//! still plays what it was given. A plan that cannot be written (a full disk) is applied all
//! the same and written by [`PlanStore::flush`] once there is room.

use chrono::{DateTime, Utc};
use loa_protocol::{Plan, ProtocolError};
use std::path::{Path, PathBuf};

use crate::disk::{is_full, write_atomic};
use crate::trust::Trust;

pub struct PlanStore {
    /// The last accepted plan, exactly as it was signed and sent.
    path: PathBuf,
    trust: Trust,
    node: String,
    current: Option<Plan>,
    /// The current plan's bytes, while they could not be written to `path`.
    unsaved: Option<Vec<u8>>,
}

/// What became of a plan message.
#[derive(Debug)]
pub enum Intake {
    /// A newer valid plan, now current (and on disk, or to be written when there is room).
    Applied,
    /// The plan already held (a QoS 1 duplicate or the retained copy after a reconnect).
    Same,
    /// Refused; the reason goes into a `plan_rejected` event.
    Rejected(ProtocolError),
}

impl PlanStore {
    /// Opens the store and loads the plan kept on disk, checking its signature again.
    pub fn open(dir: &Path, trust: Trust, node: &str) -> PlanStore {
        let path = dir.join("plan.signed.json");
        let current = std::fs::read(&path).ok().and_then(|bytes| {
            Plan::verify(&bytes, trust.keys(), node)
                .map(|(plan, _)| plan)
                .map_err(
                    |e| tracing::error!(error = %e, "the stored plan does not verify; ignoring it"),
                )
                .ok()
        });
        PlanStore {
            path,
            trust,
            node: node.to_string(),
            current,
            unsaved: None,
        }
    }

    pub fn current(&self) -> Option<&Plan> {
        self.current.as_ref()
    }

    pub fn version(&self) -> Option<u64> {
        self.current.as_ref().map(|p| p.version)
    }

    pub fn trust(&self) -> &Trust {
        &self.trust
    }

    /// Verifies a plan message at `now` and, when it is newer, makes it current and keeps it
    /// on disk (a failure to write it is logged; [`PlanStore::flush`] tries again).
    pub fn offer(&mut self, bytes: &[u8], now: DateTime<Utc>) -> Intake {
        // Newer than anything ever accepted; if the plan file was lost, the highest one itself
        // may come back (it is the same plan, signed).
        let floor = match (self.version(), self.trust.highest_plan()) {
            (Some(v), h) => Some(h.map_or(v, |h| h.max(v))),
            (None, h) => h.map(|h| h.saturating_sub(1)),
        };
        match Plan::open(bytes, self.trust.keys(), &self.node, floor, now) {
            Ok((plan, signer)) => {
                if self
                    .trust
                    .accepted(plan.version, signer, plan.next_key.as_deref())
                {
                    tracing::info!(version = plan.version, "the controller's new key took over");
                }
                self.current = Some(plan);
                self.unsaved = Some(bytes.to_vec());
                if let Err(e) = self.flush() {
                    if is_full(&e) {
                        tracing::warn!(file = %self.path.display(), error = %e, "disk full: the plan is applied from memory and written when there is room");
                    } else {
                        tracing::error!(file = %self.path.display(), error = %e, "cannot keep the plan on disk; it is applied from memory");
                    }
                }
                Intake::Applied
            }
            Err(ProtocolError::OlderVersion { got, .. }) if Some(got) == self.version() => {
                Intake::Same
            }
            Err(ProtocolError::OlderVersion { got, current }) => {
                let highest = self.trust.highest_plan().unwrap_or(current).max(current);
                Intake::Rejected(ProtocolError::OlderVersion {
                    got,
                    current: highest,
                })
            }
            Err(e) => Intake::Rejected(e),
        }
    }

    /// Writes the current plan and the trust if they are not on disk yet.
    pub fn flush(&mut self) -> std::io::Result<()> {
        if let Some(bytes) = &self.unsaved {
            write_atomic(&self.path, bytes)?;
            self.unsaved = None;
        }
        self.trust.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use ed25519_dalek::SigningKey;
    use loa_protocol::{generate_key, public_key_b64};

    fn plan(version: u64, node: &str) -> Plan {
        Plan {
            version,
            site: "s".into(),
            node: node.into(),
            issued_at: Utc::now(),
            valid_until: Utc::now() + Duration::hours(72),
            next_key: None,
            volume: 80,
            after_preempt: Default::default(),
            speaker_check: None,
            release: None,
            items: vec![],
        }
    }

    fn store(dir: &Path, key: &SigningKey) -> PlanStore {
        PlanStore::open(dir, Trust::open(dir, &public_key_b64(key)), "n1")
    }

    fn offer(s: &mut PlanStore, bytes: &[u8]) -> Intake {
        s.offer(bytes, Utc::now())
    }

    #[test]
    fn newer_plans_apply_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key();
        let mut s = store(dir.path(), &key);
        assert!(matches!(
            offer(&mut s, &plan(2, "n1").seal(&key)),
            Intake::Applied
        ));
        assert!(matches!(
            offer(&mut s, &plan(2, "n1").seal(&key)),
            Intake::Same
        ));
        assert!(matches!(
            offer(&mut s, &plan(1, "n1").seal(&key)),
            Intake::Rejected(ProtocolError::OlderVersion { got: 1, current: 2 })
        ));
        let s = store(dir.path(), &key);
        assert_eq!(s.version(), Some(2));
    }

    #[test]
    fn an_older_plan_stays_refused_after_a_restart_even_without_the_plan_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key();
        let old = plan(4, "n1").seal(&key);
        let newer = plan(5, "n1").seal(&key);
        let mut s = store(dir.path(), &key);
        offer(&mut s, &old);
        offer(&mut s, &newer);
        std::fs::remove_file(dir.path().join("plan.signed.json")).unwrap();
        let mut s = store(dir.path(), &key);
        assert_eq!(s.version(), None);
        assert!(matches!(
            offer(&mut s, &old),
            Intake::Rejected(ProtocolError::OlderVersion { got: 4, current: 5 })
        ));
        assert!(
            matches!(offer(&mut s, &newer), Intake::Applied),
            "the same highest plan comes back"
        );
    }

    #[test]
    fn forged_foreign_and_stale_plans_are_refused_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key();
        let mut s = store(dir.path(), &key);
        let forged = plan(5, "n1").seal(&generate_key());
        assert!(matches!(
            offer(&mut s, &forged),
            Intake::Rejected(ProtocolError::BadSignature)
        ));
        let foreign = plan(5, "n2").seal(&key);
        assert!(matches!(
            offer(&mut s, &foreign),
            Intake::Rejected(ProtocolError::OtherNode { .. })
        ));
        let mut stale = plan(5, "n1");
        stale.issued_at = Utc::now() - Duration::hours(80);
        stale.valid_until = Utc::now() - Duration::hours(8);
        assert!(matches!(
            offer(&mut s, &stale.seal(&key)),
            Intake::Rejected(ProtocolError::Stale { .. })
        ));
        assert_eq!(s.version(), None);
        assert!(store(dir.path(), &key).current().is_none());
    }

    #[test]
    fn a_rotated_key_takes_over_and_the_old_one_is_refused_after() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (generate_key(), generate_key());
        let mut s = store(dir.path(), &old);
        let mut announce = plan(1, "n1");
        announce.next_key = Some(public_key_b64(&new));
        assert!(matches!(
            offer(&mut s, &announce.seal(&old)),
            Intake::Applied
        ));
        // Rebooted while offline: the announcement is remembered.
        let mut s = store(dir.path(), &old);
        assert!(matches!(
            offer(&mut s, &plan(2, "n1").seal(&new)),
            Intake::Applied
        ));
        let mut s = store(dir.path(), &old);
        assert_eq!(s.version(), Some(2), "the plan signed by the new key loads");
        assert!(matches!(
            offer(&mut s, &plan(3, "n1").seal(&old)),
            Intake::Rejected(ProtocolError::BadSignature)
        ));
    }
}
