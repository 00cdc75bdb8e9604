//! Node provisioning: the config file a node needs, written by the controller.
//!
//! The file holds the node's secrets (MQTT password, media token, signing key), which the
//! controller keeps only hashed (the key: only its public half): it is shown once, when the node is created or its secrets are reset.

use serde::Serialize;

/// Everything a node needs to join the site.
#[derive(Debug, Serialize)]
pub struct NodeConfigFile<'a> {
    pub node_id: &'a str,
    pub site: &'a str,
    pub controller_url: &'a str,
    pub controller_public_key: &'a str,
    /// The node's own signing key (secret half, base64): its events and states are signed
    /// with it. The controller keeps only the public half.
    pub node_key: &'a str,
    pub media_token: &'a str,
    pub data_dir: &'a str,
    /// The commune's CA certificate (PEM), when the controller has one: the node trusts it
    /// for HTTPS and MQTT over TLS, so this one file is all an installer needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<&'a str>,
    pub mqtt: MqttSection<'a>,
    pub audio: AudioSection,
}

#[derive(Debug, Serialize)]
pub struct MqttSection<'a> {
    /// `host:port` of the broker as the node reaches it.
    pub address: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    /// MQTT over TLS (written only when true).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
}

#[derive(Debug, Serialize)]
pub struct AudioSection {
    pub sink: &'static str,
}

impl NodeConfigFile<'_> {
    /// The TOML text, with a header saying what it is and how to keep it.
    pub fn to_toml(&self, node_name: &str, zone_path: &str) -> String {
        let body = toml::to_string(self).expect("node config serialises");
        format!(
            "# loa node configuration for node {:?} ({node_name}, {zone_path}).\n\
             # Made by the controller. It holds this node's MQTT password, media token and key:\n\
             # keep it readable by the loa-node service only (chmod 600).\n\
             # Audio: sink = \"cpal\" plays on the sound card (add device = \"NAME\" to pick one;\n\
             # `loa-node devices` lists them), \"wav\" writes files to wav_dir, \"null\" discards.\n\n{body}",
            self.node_id
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_names_every_field_the_node_reads() {
        let text = NodeConfigFile {
            node_id: "thon-1",
            site: "xa-demo",
            controller_url: "http://10.0.0.1:8080",
            controller_public_key: "KEY",
            node_key: "NODEKEY",
            media_token: "TOKEN",
            data_dir: "/var/lib/loa-node",
            ca_pem: None,
            mqtt: MqttSection {
                address: "10.0.0.1:1883",
                username: "thon-1",
                password: "PW",
                tls: false,
            },
            audio: AudioSection { sink: "cpal" },
        }
        .to_toml("Loa đầu thôn", "Xã Demo / Thôn 1");
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
        let text = NodeConfigFile {
            node_id: "thon-1",
            site: "xa-demo",
            controller_url: "https://loa.xa-demo.vn:8443",
            controller_public_key: "KEY",
            node_key: "NODEKEY",
            media_token: "TOKEN",
            data_dir: "/var/lib/loa-node",
            ca_pem: Some(ca),
            mqtt: MqttSection {
                address: "loa.xa-demo.vn:8883",
                username: "thon-1",
                password: "PW",
                tls: true,
            },
            audio: AudioSection { sink: "cpal" },
        }
        .to_toml("Loa", "Xã Demo");
        let v: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(v["ca_pem"].as_str(), Some(ca));
        assert_eq!(v["mqtt"]["tls"].as_bool(), Some(true));
    }
}
