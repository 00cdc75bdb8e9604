//! A bare MQTT client for probing a broker's access rules, or playing an intruder: connect
//! with or without an account, see a refusal, subscribe, publish anything, and watch what
//! arrives.

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, EventLoop, MqttOptions, Packet,
    Publish, QoS, SubscribeReasonCode,
};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a probe waits for the broker to answer.
const ANSWER: Duration = Duration::from_secs(10);

/// A connected client whose incoming packets are collected.
pub struct Probe {
    pub client: AsyncClient,
    incoming: mpsc::UnboundedReceiver<Packet>,
    /// Packets received but not yet asked for, in order.
    pending: VecDeque<Packet>,
    /// Every message received, asked for or not: what the broker let through.
    seen: Vec<Publish>,
    task: tokio::task::JoinHandle<()>,
}

/// A username and password.
pub type Account<'a> = Option<(&'a str, &'a str)>;

/// Connects and waits for the CONNACK: the event loop, or the broker's answer (or the I/O
/// error) as an error.
async fn handshake(
    port: u16,
    client_id: &str,
    account: Account<'_>,
) -> Result<(AsyncClient, EventLoop), ConnectionError> {
    let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
    if let Some((user, password)) = account {
        opts.set_credentials(user, password);
    }
    opts.set_clean_session(true);
    opts.set_max_packet_size(
        loa_protocol::MAX_PACKET_BYTES,
        loa_protocol::MAX_PACKET_BYTES,
    );
    let (client, mut eventloop) = AsyncClient::new(opts, 64);
    loop {
        match eventloop.poll().await? {
            Event::Incoming(Packet::ConnAck(_)) => return Ok((client, eventloop)),
            _ => continue,
        }
    }
}

/// The broker's refusal of this account, or an error if it let the client in.
pub async fn refusal(
    port: u16,
    client_id: &str,
    account: Account<'_>,
) -> anyhow::Result<ConnectReturnCode> {
    match tokio::time::timeout(ANSWER, handshake(port, client_id, account)).await? {
        Ok(_) => anyhow::bail!("the broker let {client_id} in"),
        Err(ConnectionError::ConnectionRefused(code)) => Ok(code),
        Err(e) => anyhow::bail!("no answer from the broker, only: {e}"),
    }
}

impl Probe {
    pub async fn connect(
        port: u16,
        client_id: &str,
        account: Account<'_>,
    ) -> anyhow::Result<Probe> {
        let (client, mut eventloop) =
            tokio::time::timeout(ANSWER, handshake(port, client_id, account)).await??;
        let (tx, incoming) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            // The first error (the broker closed the connection) ends the probe: it does not
            // reconnect.
            while let Ok(event) = eventloop.poll().await {
                if let Event::Incoming(p) = event {
                    if tx.send(p).is_err() {
                        break;
                    }
                }
            }
        });
        Ok(Probe {
            client,
            incoming,
            pending: VecDeque::new(),
            seen: Vec::new(),
            task,
        })
    }

    /// Subscribes (QoS 1) and returns the broker's answer for this filter.
    pub async fn subscribe(&mut self, filter: &str) -> anyhow::Result<SubscribeReasonCode> {
        self.client.subscribe(filter, QoS::AtLeastOnce).await?;
        let packet = self
            .wait_for("a SUBACK", |p| matches!(p, Packet::SubAck(_)))
            .await?;
        match packet {
            Packet::SubAck(ack) => Ok(ack.return_codes[0]),
            _ => unreachable!(),
        }
    }

    /// Publishes (QoS 1) and waits for the broker's PUBACK, which MQTT 3.1.1 brokers send even
    /// for a message their ACL drops.
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        retain: bool,
    ) -> anyhow::Result<()> {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.to_vec())
            .await?;
        self.wait_for("a PUBACK", |p| matches!(p, Packet::PubAck(_)))
            .await?;
        Ok(())
    }

    /// Waits for a message on exactly `topic`.
    pub async fn message_on(&mut self, topic: &str) -> anyhow::Result<Publish> {
        let found = self
            .wait_for(
                &format!("a message on {topic}"),
                |p| matches!(p, Packet::Publish(m) if m.topic == topic),
            )
            .await?;
        match found {
            Packet::Publish(m) => Ok(m),
            _ => unreachable!(),
        }
    }

    /// Waits until the broker closes the connection.
    pub async fn closed(&mut self) -> anyhow::Result<()> {
        self.closed_within(ANSWER).await
    }

    /// Waits at most `limit` for the broker to close the connection.
    pub async fn closed_within(&mut self, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            match tokio::time::timeout_at(deadline, self.incoming.recv()).await {
                Err(_) => anyhow::bail!("the broker kept the connection open for {limit:?}"),
                Ok(None) => return Ok(()),
                Ok(Some(p)) => self.pending.push_back(p),
            }
        }
    }

    /// Every message received so far, in order.
    pub fn seen(&self) -> &[Publish] {
        &self.seen
    }

    /// The first packet, received or yet to come, that `wanted` accepts; the others are kept
    /// for later questions.
    async fn wait_for(
        &mut self,
        what: &str,
        wanted: impl Fn(&Packet) -> bool,
    ) -> anyhow::Result<Packet> {
        if let Some(i) = self.pending.iter().position(&wanted) {
            return Ok(self.pending.remove(i).expect("found"));
        }
        let deadline = tokio::time::Instant::now() + ANSWER;
        loop {
            let p = match tokio::time::timeout_at(deadline, self.incoming.recv()).await {
                Err(_) => anyhow::bail!("no {what} within {ANSWER:?}"),
                Ok(None) => anyhow::bail!("the broker closed the connection before {what}"),
                Ok(Some(p)) => p,
            };
            if let Packet::Publish(m) = &p {
                self.seen.push(m.clone());
            }
            if wanted(&p) {
                return Ok(p);
            }
            self.pending.push_back(p);
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.task.abort();
    }
}
