//! A bare MQTT client for tests that play an intruder or a stolen node: it connects with the
//! credentials it is given, publishes anything on any topic, and hands over what it receives.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

pub struct Peer {
    pub client: AsyncClient,
    incoming: mpsc::Receiver<Publish>,
}

impl Peer {
    /// Connects to the broker on 127.0.0.1:`port` as `client_id`, with `login` (username,
    /// password) if given. Fails with the broker's refusal if it does not let the client in.
    pub async fn connect(
        port: u16,
        client_id: &str,
        login: Option<(&str, &str)>,
    ) -> anyhow::Result<Peer> {
        let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        opts.set_keep_alive(Duration::from_secs(30));
        if let Some((u, p)) = login {
            opts.set_credentials(u, p);
        }
        let (client, mut eventloop) = AsyncClient::new(opts, 64);
        let (tx, incoming) = mpsc::channel(256);
        let (up_tx, up_rx) = oneshot::channel();
        tokio::spawn(async move {
            let mut up = Some(up_tx);
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if let Some(up) = up.take() {
                            let _ = up.send(Ok(()));
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send(p).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        // Refused or gone: this peer does not retry.
                        if let Some(up) = up.take() {
                            let _ = up.send(Err(e.to_string()));
                        }
                        return;
                    }
                }
            }
        });
        match tokio::time::timeout(Duration::from_secs(10), up_rx).await {
            Ok(Ok(Ok(()))) => Ok(Peer { client, incoming }),
            Ok(Ok(Err(e))) => anyhow::bail!("the broker refused {client_id}: {e}"),
            Ok(Err(_)) => anyhow::bail!("the connection of {client_id} ended"),
            Err(_) => anyhow::bail!("no answer from the broker to {client_id} within 10 s"),
        }
    }

    pub async fn subscribe(&self, topic: &str) -> anyhow::Result<()> {
        self.client.subscribe(topic, QoS::AtLeastOnce).await?;
        Ok(())
    }

    pub async fn publish(&self, topic: &str, payload: Vec<u8>, retain: bool) -> anyhow::Result<()> {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload)
            .await?;
        Ok(())
    }

    /// The next message received on `topic` within `timeout`.
    pub async fn next_on(&mut self, topic: &str, timeout: Duration) -> anyhow::Result<Publish> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let p = tokio::time::timeout_at(deadline, self.incoming.recv())
                .await
                .map_err(|_| anyhow::anyhow!("nothing on {topic} within {timeout:?}"))?
                .ok_or_else(|| anyhow::anyhow!("the connection ended"))?;
            if p.topic == topic {
                return Ok(p);
            }
        }
    }
}
