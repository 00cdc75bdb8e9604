//! The embedded MQTT broker (rumqttd), for a commune that runs no broker of its own.
//!
//! Every client authenticates: a node with its id as both client id and username and its own
//! password; the controller with its own account. rumqttd has no topic ACL, which is why plans
//! and acks are signed (and, later, events and state too).
//!
//! A revoked account loses its live connection too ([`Credentials::cut`]): the controller
//! opens a local link to rumqttd's router under the node's client id, which takes the node's
//! session over (MQTT's rule for a duplicate client id), and closes it at once.

use rumqttd::local::LinkBuilder;
use rumqttd::protocol::v4::V4;
use rumqttd::protocol::{Disconnect, DisconnectReasonCode, Packet};
use rumqttd::{
    ConnectionSettings, LinkType, Router, RouterConfig, Server, ServerSettings, TlsConfig,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};

use crate::secrets::hash_secret;

/// The accounts the embedded broker accepts: username → SHA-256 of the password; and, once
/// the broker runs, the way to cut a client's live connection.
#[derive(Clone, Default)]
pub struct Credentials {
    accounts: Arc<RwLock<HashMap<String, String>>>,
    /// Set by [`start_embedded`]; unset when the controller uses another broker.
    cutter: Arc<OnceLock<Cutter>>,
}

/// Takes a client id's session over on rumqttd's router and leaves it: blocking (the router
/// answers the local link's connect on its own thread). The error is rumqttd's `LinkError` as
/// text: that type carries a whole router event.
type Cutter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

impl Credentials {
    pub fn set(&self, username: &str, password_hash: &str) {
        self.accounts
            .write()
            .expect("credentials lock")
            .insert(username.to_string(), password_hash.to_string());
    }

    pub fn remove(&self, username: &str) {
        self.accounts
            .write()
            .expect("credentials lock")
            .remove(username);
    }

    /// Closes the live connection of `client_id`, if it has one, and drops its session (its
    /// subscriptions and queued messages). A client that reconnects meets [`Self::check`]
    /// again, so change or remove its account first. Returns false when no embedded broker
    /// runs in this process.
    ///
    /// When this returns, the router has dropped the session: rumqttd handles a connect only
    /// after it has disconnected the previous holder of the client id, and the local link's
    /// connect is acknowledged only once it is handled.
    pub async fn cut(&self, client_id: &str) -> Result<bool, String> {
        let cutter = self.cutter.clone();
        let id = client_id.to_string();
        tokio::task::spawn_blocking(move || match cutter.get() {
            Some(cut) => cut(&id).map(|()| true),
            None => Ok(false),
        })
        .await
        .expect("the broker's cut does not panic")
    }

    /// A node must use its id as client id too, so one node cannot take another's session.
    pub fn check(&self, client_id: &str, username: &str, password: &str) -> bool {
        let accounts = self.accounts.read().expect("credentials lock");
        let known = accounts
            .get(username)
            .is_some_and(|h| *h == hash_secret(password));
        known && client_id == username
    }
}

/// Starts rumqttd on `listen` in its own threads; it lives as long as the process. With `tls`
/// holding a certificate and key, it speaks only MQTT over TLS (rumqttd rereads the files at
/// each connection, so a renewed certificate needs no restart). The caller checks the files
/// first: rumqttd would only log a bad one at each connection.
pub fn start_embedded(
    listen: SocketAddr,
    credentials: Credentials,
    tls: &crate::config::TlsConfig,
) -> anyhow::Result<()> {
    let mut connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: loa_protocol::MAX_PACKET_BYTES,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let accounts = credentials.clone();
    connections.set_auth_handler(move |client_id, username, password| {
        let ok = accounts.check(&client_id, &username, &password);
        if !ok {
            tracing::warn!(client = %client_id, user = %username, "broker refused a client: unknown account or wrong password");
        }
        async move { ok }
    });
    let server = ServerSettings {
        name: "loa-v4".into(),
        listen,
        tls: rumqttd_tls(tls),
        next_connection_delay_ms: 1,
        connections,
    };
    let router = RouterConfig {
        max_connections: 20_010,
        max_outgoing_packet_count: 200,
        max_segment_size: 100 * 1024 * 1024,
        max_segment_count: 10,
        ..Default::default()
    };
    // Bind first, so a busy port is a clear error instead of a broker that never starts.
    std::net::TcpListener::bind(listen)
        .map_err(|e| anyhow::anyhow!("the embedded MQTT broker cannot listen on {listen}: {e}"))?;
    // What `rumqttd::Broker::start` does for one MQTT 3.1.1 listener, by hand: `Broker` keeps
    // the router's sender to itself, and the controller needs it to cut connections.
    let router_tx = Router::new(0, router).spawn();
    let cutter_tx = router_tx.clone();
    let cutter: Cutter = Box::new(move |client_id: &str| {
        let (mut tx, _rx, _ack) = LinkBuilder::new(client_id, cutter_tx.clone())
            .build()
            .map_err(|e| e.to_string())?;
        let leave = Packet::Disconnect(
            Disconnect {
                reason_code: DisconnectReasonCode::NormalDisconnection,
            },
            None,
        );
        // `send` only queues the packet and wakes the router; nothing in it waits.
        futures_util::FutureExt::now_or_never(tx.send(leave))
            .expect("queueing a packet does not wait")
            .map_err(|e| e.to_string())?;
        Ok(())
    });
    if credentials.cutter.set(cutter).is_err() {
        anyhow::bail!("these credentials already serve an embedded broker");
    }
    let mut server = Server::new(server, router_tx, V4);
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, "embedded MQTT broker cannot start");
                    return;
                }
            };
            if let Err(e) = runtime.block_on(server.start(LinkType::Remote)) {
                tracing::error!(error = %e, "embedded MQTT broker stopped");
            }
        })?;
    Ok(())
}

/// rumqttd's TLS settings: server authentication only. Nodes log in with a password, through
/// the same hook as without TLS (`capath` would ask for client certificates, which rumqttd
/// only checks when built with its `verify-client-cert` feature).
fn rumqttd_tls(tls: &crate::config::TlsConfig) -> Option<TlsConfig> {
    let (cert, key) = (tls.cert.as_ref()?, tls.key.as_ref()?);
    Some(TlsConfig::Rustls {
        capath: None,
        certpath: cert.to_string_lossy().into_owned(),
        keypath: key.to_string_lossy().into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_accounts_with_their_own_client_id_get_in() {
        let c = Credentials::default();
        c.set("n1", &hash_secret("pw1"));
        assert!(c.check("n1", "n1", "pw1"));
        assert!(!c.check("n1", "n1", "pw2"));
        assert!(
            !c.check("n2", "n1", "pw1"),
            "n1's password must not open n2's session"
        );
        assert!(!c.check("x", "nobody", ""));
        c.remove("n1");
        assert!(!c.check("n1", "n1", "pw1"));
    }
}
