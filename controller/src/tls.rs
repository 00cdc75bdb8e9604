//! The controller's certificate files (`[tls]` in the config), read and checked at start so a
//! missing or bad file stops the controller with an error naming it, instead of a listener
//! that fails each handshake later.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{self, ServerConfig};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS: cannot read {path}: {source}")]
    Unreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS: {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate { path: PathBuf },
    #[error("TLS: {path} holds no PEM private key (-----BEGIN PRIVATE KEY-----)")]
    NoKey { path: PathBuf },
    #[error("TLS: the certificate {cert} and the key {key} do not go together: {message}")]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        message: String,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Unreadable {
        path: path.to_path_buf(),
        source,
    })
}

/// Every certificate in a PEM file (the server's, then any intermediates), at least one.
pub fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The first private key (PKCS#8, PKCS#1 or SEC1) in a PEM file.
pub fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| TlsError::NoKey {
        path: path.to_path_buf(),
    })
}

/// The HTTPS server's rustls config: the certificate chain and its key, checked to match.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let certs = read_certs(cert)?;
    let private = read_key(key)?;
    let unusable = |e: rustls::Error| TlsError::Unusable {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        message: e.to_string(),
    };
    // ring explicitly: the workspace builds rustls without aws-lc-rs.
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(unusable)?
            .with_no_client_auth()
            .with_single_cert(certs, private)
            .map_err(unusable)?;
    // axum serves HTTP/1.1 only (its http2 feature is off).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The CA certificate as PEM text, for node configs and the controller's own MQTT client.
pub fn read_ca_pem(path: &Path) -> Result<String, TlsError> {
    let none = || TlsError::NoCertificate {
        path: path.to_path_buf(),
    };
    let pem = String::from_utf8(read(path)?).map_err(|_| none())?;
    if !CertificateDer::pem_slice_iter(pem.as_bytes()).any(|c| c.is_ok()) {
        return Err(none());
    }
    Ok(pem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = server_config(&missing, &missing).unwrap_err().to_string();
        assert!(e.contains("nope.pem"), "{e}");

        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate\n").unwrap();
        let e = server_config(&junk, &junk).unwrap_err().to_string();
        assert!(
            e.contains("junk.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        let e = read_ca_pem(&junk).unwrap_err().to_string();
        assert!(e.contains("junk.pem"), "{e}");
    }

    /// The repository's scripts/make-ca.sh (openssl) into `dir`.
    fn make_ca(dir: &Path) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/make-ca.sh");
        let out = std::process::Command::new("bash")
            .arg(script)
            .arg(dir)
            .arg("loa.xa-demo.vn")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    }

    #[test]
    fn a_certificate_loads_with_its_own_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        make_ca(&a);
        make_ca(&b);
        server_config(&a.join("server.pem"), &a.join("server.key")).unwrap();
        assert!(read_ca_pem(&a.join("ca.pem"))
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----"));
        let e = server_config(&a.join("server.pem"), &b.join("server.key"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("do not go together") && e.contains("b/server.key"),
            "{e}"
        );
        let e = server_config(&a.join("server.pem"), &a.join("server.pem"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no PEM private key"), "{e}");
    }
}
