//! Plan intake: verify every plan against the pinned controller key and keep the last valid
//! one on disk, so a node that reboots while cut off still plays what it was given.

use ed25519_dalek::VerifyingKey;
use loa_protocol::{Plan, ProtocolError};
use std::path::{Path, PathBuf};

use crate::disk::write_atomic;

pub struct PlanStore {
    /// The last accepted plan, exactly as it was signed and sent.
    path: PathBuf,
    key: VerifyingKey,
    node: String,
    current: Option<Plan>,
}

/// What became of a plan message.
#[derive(Debug)]
pub enum Intake {
    /// A newer valid plan, now current and on disk.
    Applied,
    /// The plan already held (a QoS 1 duplicate or the retained copy after a reconnect).
    Same,
    /// Refused; the reason goes into a `plan_rejected` event.
    Rejected(ProtocolError),
}

impl PlanStore {
    /// Opens the store and loads the plan kept on disk, checking it again.
    pub fn open(dir: &Path, key: VerifyingKey, node: &str) -> PlanStore {
        let path = dir.join("plan.signed.json");
        let current = std::fs::read(&path).ok().and_then(|bytes| {
            Plan::open(&bytes, &key, node, None)
                .map_err(
                    |e| tracing::error!(error = %e, "the stored plan does not verify; ignoring it"),
                )
                .ok()
        });
        PlanStore {
            path,
            key,
            node: node.to_string(),
            current,
        }
    }

    pub fn current(&self) -> Option<&Plan> {
        self.current.as_ref()
    }

    pub fn version(&self) -> Option<u64> {
        self.current.as_ref().map(|p| p.version)
    }

    /// Verifies a plan message and, when it is newer, makes it current and keeps it on disk.
    pub fn offer(&mut self, bytes: &[u8]) -> std::io::Result<Intake> {
        match Plan::open(bytes, &self.key, &self.node, self.version()) {
            Ok(plan) => {
                write_atomic(&self.path, bytes)?;
                self.current = Some(plan);
                Ok(Intake::Applied)
            }
            Err(ProtocolError::OlderVersion { got, current }) if got == current => Ok(Intake::Same),
            Err(e) => Ok(Intake::Rejected(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use loa_protocol::generate_key;

    fn plan(version: u64, node: &str) -> Plan {
        Plan {
            version,
            site: "s".into(),
            node: node.into(),
            issued_at: Utc::now(),
            volume: 80,
            after_preempt: Default::default(),
            items: vec![],
        }
    }

    #[test]
    fn newer_plans_apply_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key();
        let mut s = PlanStore::open(dir.path(), key.verifying_key(), "n1");
        assert!(matches!(
            s.offer(&plan(2, "n1").seal(&key)).unwrap(),
            Intake::Applied
        ));
        assert!(matches!(
            s.offer(&plan(2, "n1").seal(&key)).unwrap(),
            Intake::Same
        ));
        assert!(matches!(
            s.offer(&plan(1, "n1").seal(&key)).unwrap(),
            Intake::Rejected(ProtocolError::OlderVersion { got: 1, current: 2 })
        ));
        let s = PlanStore::open(dir.path(), key.verifying_key(), "n1");
        assert_eq!(s.version(), Some(2));
    }

    #[test]
    fn forged_and_foreign_plans_are_refused_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let key = generate_key();
        let mut s = PlanStore::open(dir.path(), key.verifying_key(), "n1");
        let forged = plan(5, "n1").seal(&generate_key());
        assert!(matches!(
            s.offer(&forged).unwrap(),
            Intake::Rejected(ProtocolError::BadSignature)
        ));
        let foreign = plan(5, "n2").seal(&key);
        assert!(matches!(
            s.offer(&foreign).unwrap(),
            Intake::Rejected(ProtocolError::OtherNode { .. })
        ));
        assert_eq!(s.version(), None);
        assert!(PlanStore::open(dir.path(), key.verifying_key(), "n1")
            .current()
            .is_none());
    }
}
