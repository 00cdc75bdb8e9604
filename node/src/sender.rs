//! The sender: publishes spooled events in batches while the link is up, and sends again
//! whatever the controller has not acknowledged after a while or after a reconnect.

use ed25519_dalek::SigningKey;
use loa_protocol::limits::MAX_EVENTS_PER_BATCH;
use loa_protocol::{EventBatch, Topics};
use rumqttc::{AsyncClient, QoS};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::spool::Spool;

/// How long to wait for the controller's ack before sending the same events again.
const RESEND_AFTER: Duration = Duration::from_secs(10);
/// Batches per round, so one round never holds the spool long.
const BATCHES_PER_ROUND: usize = 16;
/// How long to let events gather after the first is appended, so the steps that happen together
/// (plan applied, received, ready; playing and the first part) travel in one signed batch with
/// one ack, not one each: on a paid SIM each message costs its envelope, its ack and their
/// TCP/IP packets (docs/field.md).
const GATHER: Duration = Duration::from_millis(150);

/// Sends until shutdown; every batch is signed with `key`, the node's own.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    key: SigningKey,
    client: AsyncClient,
    topics: Topics,
    node: String,
    spool: Arc<Mutex<Spool>>,
    wake: Arc<Notify>,
    mut connected: watch::Receiver<bool>,
    shutdown: CancellationToken,
) {
    // Highest seq published in this connection.
    let mut sent_upto: u64 = 0;
    // The oldest event still owed, and since when it has been the oldest (or last resent):
    // when the controller's ack has not moved past it for RESEND_AFTER, everything owed is
    // sent again. New events do not postpone this, so a busy node still fills its gaps.
    let mut oldest: Option<u64> = None;
    let mut oldest_since = Instant::now();
    loop {
        if !*connected.borrow() {
            sent_upto = 0;
            tokio::select! {
                _ = shutdown.cancelled() => return,
                r = connected.changed() => { if r.is_err() { return; } continue; }
            }
        }
        let first = spool
            .lock()
            .expect("spool lock")
            .pending(0, 1)
            .ok()
            .and_then(|v| v.first().map(|e| e.seq));
        if first != oldest {
            oldest = first;
            oldest_since = Instant::now();
        }
        let stale = first.is_some() && oldest_since.elapsed() >= RESEND_AFTER;
        let after = if stale {
            oldest_since = Instant::now();
            0
        } else {
            sent_upto
        };
        let pending = {
            let s = spool.lock().expect("spool lock");
            s.pending(after, MAX_EVENTS_PER_BATCH * BATCHES_PER_ROUND)
        };
        let pending = match pending {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the event spool");
                Vec::new()
            }
        };
        let to_send = pending;
        if !to_send.is_empty() {
            if stale && to_send[0].seq <= sent_upto {
                tracing::info!(
                    from = to_send[0].seq,
                    "resending events the controller has not acknowledged"
                );
            }
            for chunk in to_send.chunks(MAX_EVENTS_PER_BATCH) {
                let batch = EventBatch {
                    node: node.clone(),
                    events: chunk.to_vec(),
                };
                let publish = client.publish(
                    topics.events(&node),
                    QoS::AtLeastOnce,
                    false,
                    batch.seal(&key),
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    r = publish => if let Err(e) = r {
                        tracing::warn!(error = %e, "cannot queue events");
                        break;
                    },
                }
                sent_upto = sent_upto.max(chunk.last().map_or(0, |e| e.seq));
            }
            // More may be waiting beyond this round: go again at once.
            continue;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = wake.notified() => tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(GATHER) => {}
            },
            r = connected.changed() => { if r.is_err() { return; } sent_upto = 0; }
            _ = tokio::time::sleep(RESEND_AFTER) => {}
        }
    }
}
