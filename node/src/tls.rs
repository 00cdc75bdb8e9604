//! TLS on the node: the commune's CA certificate (`ca_pem` in node.toml, written there by the
//! controller at provisioning) is trusted for HTTPS to the controller and for MQTT over TLS
//! (`[mqtt] tls = true`). Without `ca_pem`, the usual public roots are trusted.

use rumqttc::{TlsConfiguration, Transport};

/// The certificates in `ca_pem`: at least one, or a message saying what is wrong.
pub fn ca_certificates(ca_pem: &str) -> Result<Vec<reqwest::Certificate>, String> {
    let certs = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())
        .map_err(|e| format!("ca_pem is not a PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("ca_pem holds no certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    Ok(certs)
}

/// The HTTP client for media and the clock: [`crate::fetch::http_client`]'s settings, and the
/// commune's CA (`ca_pem` of node.toml) trusted as well.
pub fn http_client(ca_pem: Option<&str>) -> anyhow::Result<reqwest::Client> {
    let mut builder = crate::fetch::http_client_builder();
    if let Some(pem) = ca_pem {
        for cert in ca_certificates(pem).map_err(anyhow::Error::msg)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| anyhow::anyhow!("cannot set up HTTPS with ca_pem: {e}"))
}

/// Plain TCP, or TLS trusting the commune's CA (`ca_pem`) when `tls` (`[mqtt] tls = true`).
/// The broker's certificate must name the host in `mqtt.address`.
pub fn mqtt_transport(tls: bool, ca_pem: Option<&str>) -> Transport {
    if !tls {
        return Transport::Tcp;
    }
    match ca_pem {
        Some(pem) => Transport::tls_with_config(TlsConfiguration::Simple {
            ca: pem.as_bytes().to_vec(),
            alpn: None,
            client_auth: None,
        }),
        None => Transport::tls_with_default_config(),
    }
}
