//! The node's MQTT link: a persistent session (clean session off) with the `offline` last
//! will, the same packet limit as the controller, and reconnects paced by jittered backoff.
//!
//! The will is signed and stamped with the connection's session number, so each connection
//! attempt gets a new one: a will from an earlier connection, replayed, changes nothing.

use bytes::Bytes;
use ed25519_dalek::SigningKey;
use loa_protocol::{Backoff, Channel, NodeState, Topics, MAX_PACKET_BYTES};
use rumqttc::{AsyncClient, Event, EventLoop, LastWill, MqttOptions, Packet, QoS};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::NodeConfig;
use crate::session::Session;

/// The signed `offline` will of connection `session`.
fn will(topics: &Topics, node: &str, key: &SigningKey, session: u64) -> LastWill {
    LastWill::new(
        topics.state(node),
        NodeState::offline(node, session).seal(key),
        QoS::AtLeastOnce,
        true,
    )
}

/// What the link tells the runner.
#[derive(Debug)]
pub enum LinkEvent {
    Connected,
    Disconnected(String),
    Plan(Bytes),
    Ack(Bytes),
}

/// The client and its event loop, with the will of a first session begun on `session`.
pub fn client(
    cfg: &NodeConfig,
    topics: &Topics,
    session: &Session,
) -> anyhow::Result<(AsyncClient, EventLoop)> {
    let (host, port) = cfg.broker_host_port().map_err(anyhow::Error::msg)?;
    let mut opts = MqttOptions::new(&cfg.node_id, host, port);
    opts.set_credentials(&cfg.mqtt.username, &cfg.mqtt.password);
    opts.set_clean_session(false);
    opts.set_keep_alive(Duration::from_secs(cfg.mqtt.keep_alive_secs.max(5)));
    opts.set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    opts.set_transport(crate::tls::mqtt_transport(
        cfg.mqtt.tls,
        cfg.ca_pem.as_deref(),
    ));
    opts.set_last_will(will(
        topics,
        &cfg.node_id,
        &cfg.signing_key(),
        session.begin(),
    ));
    Ok(AsyncClient::new(opts, 256))
}

/// What the link needs to sign: the node's key and its session counter.
pub struct Signer {
    pub key: SigningKey,
    pub session: Arc<Session>,
}

/// Polls the session until shutdown; reconnects after any error with backoff and jitter.
pub async fn run(
    client: AsyncClient,
    mut eventloop: EventLoop,
    topics: Topics,
    node: String,
    signer: Signer,
    tx: mpsc::Sender<LinkEvent>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::default();
    let plan_topic = topics.plan(&node);
    let ack_topic = topics.ack(&node);
    let mut up = false;
    loop {
        let polled = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = eventloop.poll() => p,
        };
        match polled {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff.reset();
                up = true;
                for t in [&plan_topic, &ack_topic] {
                    if let Err(e) = client.try_subscribe(t.as_str(), QoS::AtLeastOnce) {
                        tracing::error!(error = %e, "cannot queue a subscription");
                    }
                }
                tracing::info!("connected to the broker");
                let _ = tx.send(LinkEvent::Connected).await;
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let ev = match topics.parse(&p.topic) {
                    Some((n, Channel::Plan)) if n == node => LinkEvent::Plan(p.payload),
                    Some((n, Channel::Ack)) if n == node => LinkEvent::Ack(p.payload),
                    _ => {
                        tracing::warn!(topic = %p.topic, "message on a topic this node does not read; ignored");
                        continue;
                    }
                };
                if tx.send(ev).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                if up {
                    up = false;
                    let _ = tx.send(LinkEvent::Disconnected(e.to_string())).await;
                }
                // The next attempt is a new session, with its own will.
                eventloop.mqtt_options.set_last_will(will(
                    &topics,
                    &node,
                    &signer.key,
                    signer.session.begin(),
                ));
                let delay = backoff.next_delay(&mut rand::thread_rng());
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "broker link down");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    // A clean goodbye: say offline ourselves (the broker drops the will on a clean disconnect).
    let (session, serial) = signer.session.stamp();
    let goodbye = NodeState {
        serial,
        ..NodeState::offline(&node, session)
    };
    let _ = client.try_publish(
        topics.state(&node),
        QoS::AtLeastOnce,
        true,
        goodbye.seal(&signer.key),
    );
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_millis(500), async {
        while eventloop.poll().await.is_ok() {}
    })
    .await;
}
