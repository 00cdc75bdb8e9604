//! The embedded MQTT broker (rumqttd), for a commune that runs no broker of its own.
//!
//! Every client authenticates: a node with its id as both client id and username and its own
//! password; the controller with its own account. rumqttd has no topic ACL, which is why plans
//! and acks are signed (and, later, events and state too).

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings, TlsConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use crate::secrets::hash_secret;

/// The accounts the embedded broker accepts: username → SHA-256 of the password.
#[derive(Clone, Default)]
pub struct Credentials(Arc<RwLock<HashMap<String, String>>>);

impl Credentials {
    pub fn set(&self, username: &str, password_hash: &str) {
        self.0
            .write()
            .expect("credentials lock")
            .insert(username.to_string(), password_hash.to_string());
    }

    pub fn remove(&self, username: &str) {
        self.0.write().expect("credentials lock").remove(username);
    }

    /// A node must use its id as client id too, so one node cannot take another's session.
    pub fn check(&self, client_id: &str, username: &str, password: &str) -> bool {
        let accounts = self.0.read().expect("credentials lock");
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
    connections.set_auth_handler(move |client_id, username, password| {
        let ok = credentials.check(&client_id, &username, &password);
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
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: 20_010,
            max_outgoing_packet_count: 200,
            max_segment_size: 100 * 1024 * 1024,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("1".to_string(), server)])),
        ..Default::default()
    };
    // Bind first, so a busy port is a clear error instead of a broker that never starts.
    std::net::TcpListener::bind(listen)
        .map_err(|e| anyhow::anyhow!("the embedded MQTT broker cannot listen on {listen}: {e}"))?;
    let mut broker = Broker::new(config);
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
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
