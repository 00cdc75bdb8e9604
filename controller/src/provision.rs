//! Node provisioning: the config file a node needs, written by the controller.
//!
//! The file holds the node's secrets (MQTT password, media token, signing key), which the
//! controller keeps only hashed (the key: only its public half): it is shown once, when the node is created or its secrets are reset.

use loa_protocol::NodeFile;
use serde::Serialize;

/// What a new node's file says: the shared schema ([`NodeFile`]) with the audio the controller
/// sets (the sound card) and no relay, which an installer adds on site.
pub type NodeConfigFile = NodeFile<AudioSection, NoRelay>;

/// The `[audio]` section as the controller writes it.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct AudioSection {
    pub sink: String,
}

/// The controller writes no `[relay]` section: the GPIO line is known only on site.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub enum NoRelay {}

/// The TOML text, with a header saying what it is and how to keep it.
pub fn to_toml(file: &NodeConfigFile, node_name: &str, zone_path: &str) -> String {
    let body = toml::to_string(file).expect("node config serialises");
    format!(
        "# loa node configuration for node {:?} ({node_name}, {zone_path}).\n\
         # Made by the controller. It holds this node's MQTT password, media token and key:\n\
         # keep it readable by the node's service only: copy it over /etc/loa/node.toml, which\n\
         # the loa-node package made root:loa-node, mode 0640 (cp keeps that).\n\
         # Audio: sink = \"cpal\" plays on the sound card (add device = \"NAME\" to pick one;\n\
         # `loa-node devices` lists them), \"wav\" writes files to wav_dir, \"null\" discards.\n\n{body}",
        file.node_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A node's file as the controller writes it, at `url` and `broker`, over TLS with `ca`.
    fn file(url: &str, broker: &str, ca: Option<&str>) -> NodeConfigFile {
        NodeConfigFile {
            node_id: "thon-1".into(),
            site: "xa-demo".into(),
            controller_url: url.into(),
            controller_public_key: "KEY".into(),
            node_key: "NODEKEY".into(),
            media_token: "TOKEN".into(),
            data_dir: "/var/lib/loa-node".into(),
            cache_budget_bytes: loa_protocol::node_file::DEFAULT_CACHE_BUDGET_BYTES,
            clock_check_secs: loa_protocol::node_file::DEFAULT_CLOCK_CHECK_SECS,
            ca_pem: ca.map(str::to_owned),
            mqtt: loa_protocol::MqttSection {
                address: broker.into(),
                username: "thon-1".into(),
                password: "PW".into(),
                keep_alive_secs: loa_protocol::NODE_KEEP_ALIVE_SECS,
                tls: ca.is_some(),
            },
            audio: AudioSection {
                sink: "cpal".into(),
            },
            relay: None,
            update: Default::default(),
        }
    }

    #[test]
    fn config_file_names_every_field_the_node_reads() {
        let text = to_toml(
            &file("http://10.0.0.1:8080", "10.0.0.1:1883", None),
            "Loa đầu thôn",
            "Xã Demo / Thôn 1",
        );
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["node_id"].as_str(), Some("thon-1"));
        assert_eq!(v["node_key"].as_str(), Some("NODEKEY"));
        assert_eq!(v["mqtt"]["address"].as_str(), Some("10.0.0.1:1883"));
        assert_eq!(v["audio"]["sink"].as_str(), Some("cpal"));
        assert!(text.starts_with("# loa node configuration"));
        assert!(v.get("ca_pem").is_none() && v["mqtt"].get("tls").is_none());
    }

    #[test]
    fn a_configured_ca_and_tls_reach_the_node_file() {
        let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let text = to_toml(
            &file(
                "https://loa.xa-demo.vn:8443",
                "loa.xa-demo.vn:8883",
                Some(ca),
            ),
            "Loa",
            "Xã Demo",
        );
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["ca_pem"].as_str(), Some(ca));
        assert_eq!(v["mqtt"]["tls"].as_bool(), Some(true));
    }
}
