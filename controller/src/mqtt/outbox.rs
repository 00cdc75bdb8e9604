//! What the controller sends over MQTT, queued in order for the link to publish: plans,
//! acks, and the empty retained messages that clear a decommissioned node's topics. The
//! planner and ingest only put messages here; [`super::link::publish_outbox`] does the I/O,
//! so both are built and tested without a broker (a test reads the receiving end).

use tokio::sync::mpsc;

/// One message to publish, QoS 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub topic: String,
    pub payload: Vec<u8>,
    /// Kept by the broker for the next subscriber (plans and acks are).
    pub retain: bool,
}

/// The sending end; cheap to clone. Messages leave in the order they were put in, so a
/// higher plan version never reaches the broker before a lower one.
#[derive(Debug, Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Message>,
}

/// The link has stopped: nothing more will be published.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the MQTT link has stopped")]
pub struct Closed;

/// How many messages may wait for the link before senders wait too: the same depth as the
/// MQTT client's own queue behind it.
pub const DEPTH: usize = 4096;

impl Outbox {
    /// An outbox and its receiving end, for the link task (or a test) to drain.
    pub fn new(depth: usize) -> (Outbox, mpsc::Receiver<Message>) {
        let (tx, rx) = mpsc::channel(depth);
        (Outbox { tx }, rx)
    }

    /// How many messages wait for the link.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Queues a retained message (a plan, an ack, or an empty one that clears the topic).
    pub async fn retained(&self, topic: String, payload: Vec<u8>) -> Result<(), Closed> {
        self.tx
            .send(Message {
                topic,
                payload,
                retain: true,
            })
            .await
            .map_err(|_| Closed)
    }
}
