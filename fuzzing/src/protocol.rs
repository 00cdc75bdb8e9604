//! Fuzzing the wire contract: plans, event batches, node states and acks.
//!
//! Random bytes almost never carry a valid signature, so each target works at three depths:
//! (a) the whole `open` path under a fixed test key, as a node or the controller receives a
//! message; (b) the body alone, parsed with serde and validated; (c) that body sealed with the
//! test key and opened again, so the signed path is reached with valid signatures too. The
//! invariant between (b) and (c): opening a sealed body succeeds exactly when the body
//! validates, and gives back the same body.

use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::{SigningKey, VerifyingKey};
use loa_protocol::{Ack, EventBatch, NodeState, Plan, MAX_PACKET_BYTES};

/// The node every target reads messages as.
const NODE: &str = "n1";

/// The fixed key that signs and verifies; the seed corpora are sealed with it.
pub fn test_key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// A second trusted key, as during a key rotation.
fn other_key() -> VerifyingKey {
    SigningKey::from_bytes(&[9; 32]).verifying_key()
}

/// Bodies larger than this skip the seal-and-open layer: sealing escapes the body into a
/// string, and past the packet limit the open would rightly refuse it as oversize.
const MAX_BODY: usize = MAX_PACKET_BYTES / 8;

/// The node's clock when it opens a plan: the seed plans are valid then.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap()
}

/// A plan as the node receives it, and a plan body sealed and opened again.
pub fn plan(data: &[u8]) {
    let key = test_key();
    let keys = [other_key(), key.verifying_key()];
    if let Ok((plan, signer)) = Plan::open(data, &keys, NODE, None, now()) {
        assert_eq!(signer, 1, "only the test key signs fuzz input");
        let (again, _) = Plan::verify(&plan.seal(&key), &keys, NODE).expect("re-sealed plan");
        assert_eq!(again, plan);
        let newer = Plan::open(data, &keys, NODE, Some(plan.version), now());
        assert!(newer.is_err(), "a plan is not newer than itself");
    }
    if data.len() > MAX_BODY {
        return;
    }
    let Ok(body) = serde_json::from_slice::<Plan>(data) else {
        return;
    };
    let shape = body.check_shape();
    let opened = Plan::verify(&body.seal(&key), &keys, &body.node);
    assert_eq!(shape.is_ok(), opened.is_ok(), "{shape:?} vs {opened:?}");
    if let Ok((opened, _)) = opened {
        assert_eq!(opened, body, "a sealed plan opens to itself");
        let _ = Plan::open(&body.seal(&key), &keys, &body.node, Some(0), now());
    }
}

/// An event batch as the controller receives it on node `n1`'s topic, and a batch body.
pub fn event_batch(data: &[u8]) {
    let key = test_key();
    if let Ok(batch) = EventBatch::open(data, &key.verifying_key(), NODE) {
        let again = EventBatch::open(&batch.seal(&key), &key.verifying_key(), NODE);
        assert_eq!(again.as_ref(), Ok(&batch));
    }
    if data.len() > MAX_BODY {
        return;
    }
    let Ok(body) = serde_json::from_slice::<EventBatch>(data) else {
        return;
    };
    let _ = body.validate(NODE);
    let valid = body.validate(&body.node);
    let opened = EventBatch::open(&body.seal(&key), &key.verifying_key(), &body.node);
    assert_eq!(valid.is_ok(), opened.is_ok(), "{valid:?} vs {opened:?}");
    if let Ok(opened) = opened {
        assert_eq!(opened, body, "a sealed batch opens to itself");
    }
}

/// A node state as the controller receives it, a state body, and the replay rule.
pub fn node_state(data: &[u8]) {
    let key = test_key();
    let vk = key.verifying_key();
    if let Ok(state) = NodeState::open(data, &vk, NODE, MAX_PACKET_BYTES) {
        let again = NodeState::open(&state.seal(&key), &vk, NODE, MAX_PACKET_BYTES);
        assert_eq!(again.as_ref(), Ok(&state));
    }
    if data.len() > MAX_BODY {
        return;
    }
    let Ok(body) = serde_json::from_slice::<NodeState>(data) else {
        return;
    };
    let _ = body.validate(NODE);
    let valid = body.validate(&body.node);
    let opened = NodeState::open(&body.seal(&key), &vk, &body.node, MAX_PACKET_BYTES);
    assert_eq!(valid.is_ok(), opened.is_ok(), "{valid:?} vs {opened:?}");
    if let Ok(opened) = &opened {
        assert_eq!(opened, &body, "a sealed state opens to itself");
    }
    let (session, serial) = (body.session, body.serial);
    let lasts = [
        None,
        Some((1, 1)),
        Some((session, serial)),
        Some((session, serial.wrapping_add(1))),
        Some((session.wrapping_sub(1), u64::MAX)),
        Some((session.wrapping_add(1), 0)),
    ];
    for last in lasts {
        if !body.supersedes(last) {
            continue;
        }
        let stamp = body.stamp_after(last);
        assert!(last.is_none_or(|l| stamp >= l), "the stamp never goes back");
        if serial != 0 {
            assert!(
                !body.supersedes(Some(stamp)),
                "a state taken once is refused when replayed ({last:?} -> {stamp:?})"
            );
        }
    }
}

/// An ack as the node receives it, and an ack body.
pub fn ack(data: &[u8]) {
    let key = test_key();
    let keys = [key.verifying_key(), other_key()];
    if let Ok(ack) = Ack::open(data, &keys, NODE) {
        assert_eq!(Ack::open(&ack.seal(&key), &keys, NODE).as_ref(), Ok(&ack));
    }
    if data.len() > MAX_BODY {
        return;
    }
    if let Ok(body) = serde_json::from_slice::<Ack>(data) {
        let opened = Ack::open(&body.seal(&key), &keys, &body.node);
        assert_eq!(opened.as_ref(), Ok(&body), "a sealed ack opens to itself");
    }
}
