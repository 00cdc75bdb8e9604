//! The controller's MQTT link: one persistent session that subscribes to every node's state
//! and events, hands incoming messages to the ingest task, and republishes the stored plans
//! after each (re)connect.

use loa_protocol::{Backoff, Channel, Topics, MAX_PACKET_BYTES};
use rumqttc::{
    AsyncClient, Event, EventLoop, MqttOptions, Packet, Publish, QoS, TlsConfiguration, Transport,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::outbox::Message;

use crate::metrics::Counters;

/// How to reach the broker.
#[derive(Debug, Clone)]
pub struct BrokerAddress {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: String,
}

impl BrokerAddress {
    /// Parses `mqtt://host:port`, `mqtts://host:port` (TLS; see [`tls_transport`]) or
    /// `host:port`.
    pub fn from_url(url: &str, username: String, password: String) -> anyhow::Result<Self> {
        let default_port = if url.starts_with("mqtts://") {
            8883
        } else {
            1883
        };
        let rest = url
            .strip_prefix("mqtts://")
            .or_else(|| url.strip_prefix("mqtt://"))
            .unwrap_or(url)
            .trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .map(|(h, p)| (h, p.parse::<u16>()))
            .unwrap_or((rest, Ok(default_port)));
        let port = port.map_err(|_| anyhow::anyhow!("bad port in broker URL {url:?}"))?;
        anyhow::ensure!(!host.is_empty(), "no host in broker URL {url:?}");
        Ok(BrokerAddress {
            host: host.to_string(),
            port,
            username,
            password,
        })
    }
}

/// The client id and username of the controller on the broker.
pub const CONTROLLER_ACCOUNT: &str = "loa-controller";

pub fn client(addr: &BrokerAddress) -> (AsyncClient, EventLoop) {
    client_with_transport(addr, Transport::Tcp)
}

/// MQTT over TLS, trusting the commune's CA (PEM text), or the system's roots without one.
/// The broker's certificate must name the host the controller dials.
pub fn tls_transport(ca_pem: Option<&str>) -> Transport {
    match ca_pem {
        Some(ca) => Transport::tls_with_config(TlsConfiguration::Simple {
            ca: ca.as_bytes().to_vec(),
            alpn: None,
            client_auth: None,
        }),
        None => Transport::tls_with_default_config(),
    }
}

/// [`client`], over the given transport (plain TCP or [`tls_transport`]).
pub fn client_with_transport(
    addr: &BrokerAddress,
    transport: Transport,
) -> (AsyncClient, EventLoop) {
    let mut opts = MqttOptions::new(CONTROLLER_ACCOUNT, &addr.host, addr.port);
    opts.set_credentials(&addr.username, &addr.password);
    // A persistent session: the broker keeps our subscriptions and queues events while we
    // restart. The node spool covers whatever it drops.
    opts.set_clean_session(false);
    opts.set_keep_alive(Duration::from_secs(30));
    opts.set_max_packet_size(MAX_PACKET_BYTES, MAX_PACKET_BYTES);
    opts.set_inflight(200);
    opts.set_transport(transport);
    AsyncClient::new(opts, 4096)
}

/// Polls the event loop until shutdown, reconnecting with backoff. Every incoming publish goes
/// to `incoming`; after each connect, `on_connect` is signalled so stored plans are republished.
pub async fn run(
    client: AsyncClient,
    mut eventloop: EventLoop,
    topics: Topics,
    incoming: mpsc::UnboundedSender<Publish>,
    on_connect: mpsc::Sender<()>,
    counters: Arc<Counters>,
    shutdown: CancellationToken,
) {
    let mut backoff = Backoff::default();
    loop {
        let polled = tokio::select! {
            _ = shutdown.cancelled() => break,
            p = eventloop.poll() => p,
        };
        match polled {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                counters.mqtt_connected.store(true, Ordering::Relaxed);
                tracing::info!(
                    session_present = ack.session_present,
                    "connected to the MQTT broker"
                );
                for ch in [Channel::State, Channel::Events] {
                    if let Err(e) = client.try_subscribe(topics.every_node(ch), QoS::AtLeastOnce) {
                        tracing::error!(error = %e, "cannot queue a subscription");
                    }
                }
                let _ = on_connect.try_send(());
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                if incoming.send(p).is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(e) => {
                counters.mqtt_connected.store(false, Ordering::Relaxed);
                let delay = backoff.next_delay(&mut rand::thread_rng());
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "MQTT link down");
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    let _ = client.try_disconnect();
}

/// Publishes what the planner and ingest put in the outbox, in order, until shutdown or until
/// every sender is gone. A message the client cannot take is logged: a plan is republished on
/// the next connect and an ack is sent again when the node resends.
pub async fn publish_outbox(
    client: AsyncClient,
    mut outbox: mpsc::Receiver<Message>,
    shutdown: CancellationToken,
) {
    loop {
        let m = tokio::select! {
            _ = shutdown.cancelled() => break,
            m = outbox.recv() => match m {
                Some(m) => m,
                None => break,
            },
        };
        if let Err(e) = client
            .publish(&m.topic, QoS::AtLeastOnce, m.retain, m.payload)
            .await
        {
            tracing::error!(topic = %m.topic, error = %e, "cannot publish");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_parse() {
        let a = BrokerAddress::from_url("mqtt://10.1.2.3:1884", "u".into(), "p".into()).unwrap();
        assert_eq!((a.host.as_str(), a.port), ("10.1.2.3", 1884));
        let a = BrokerAddress::from_url("broker.local", "u".into(), "p".into()).unwrap();
        assert_eq!((a.host.as_str(), a.port), ("broker.local", 1883));
        assert!(BrokerAddress::from_url("mqtt://h:x", "u".into(), "p".into()).is_err());
        let a = BrokerAddress::from_url("mqtts://broker.local", "u".into(), "p".into()).unwrap();
        assert_eq!((a.host.as_str(), a.port), ("broker.local", 8883));
    }
}
