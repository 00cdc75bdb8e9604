//! Broker access per node on Mosquitto: the password file and ACL file made from the node
//! registry, so that each node reads only its own plan and ack and writes only its own state
//! and events, the controller has its own account over the whole site, and nobody else gets
//! in.
//!
//! - [`hash`]: Mosquitto's `$7$` password hash, computed at provisioning (the only time the
//!   plain password exists) and kept in the store.
//! - [`render`]: the two files' text.
//! - [`install`]: atomic writes readable by Mosquitto's user, and the SIGHUP that reloads.
//!
//! `loa-controller mosquitto-config` calls [`write_files`]; a controller configured with
//! `[mqtt] mosquitto_dir` calls [`refresh`] at start and whenever a node's account changes.

pub mod hash;
pub mod install;
pub mod render;

use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::store::{Store, StoreError};
use render::Account;

/// The password file's name in the output directory.
pub const PASSWORD_FILE: &str = "loa.passwd";
/// The ACL file's name in the output directory.
pub const ACL_FILE: &str = "loa.acl";

#[derive(Debug, thiserror::Error)]
pub enum MosquittoError {
    #[error(
        "the controller's own broker account is not configured: set [mqtt] username and \
         password in the controller's config (or LOA_MQTT_USERNAME and LOA_MQTT_PASSWORD)"
    )]
    NoControllerAccount,
    #[error(
        "the controller's broker username {0:?} cannot stand in Mosquitto's files (no ':', \
         spaces, '#' or '+')"
    )]
    BadUsername(String),
    #[error("the controller's broker username {0:?} is also a node's id: one of them must change")]
    UsernameTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What [`write_files`] wrote.
#[derive(Debug)]
pub struct Written {
    pub password_file: PathBuf,
    pub acl_file: PathBuf,
    /// The nodes given an account.
    pub nodes: usize,
    /// Nodes left out because their Mosquitto hash was never computed (provisioned before
    /// loa kept it): they get in once their credentials are reset.
    pub without_hash: Vec<String>,
}

/// Writes `dir/loa.passwd` and `dir/loa.acl` for every live node and the controller's own
/// account (`[mqtt] username` and `password`), each file atomically, mode 0640 (see
/// [`install`] for the ownership). Mosquitto must be told to reload them afterwards.
pub async fn write_files(
    store: &Store,
    cfg: &Config,
    dir: &Path,
) -> Result<Written, MosquittoError> {
    let (Some(username), Some(password)) = (&cfg.mqtt.username, &cfg.mqtt.password) else {
        return Err(MosquittoError::NoControllerAccount);
    };
    if !render::is_plain_username(username) {
        return Err(MosquittoError::BadUsername(username.clone()));
    }
    let accounts = store.mosquitto_accounts().await?;
    if accounts.iter().any(|(id, _)| id == username) {
        return Err(MosquittoError::UsernameTaken(username.clone()));
    }
    let (with, without): (Vec<_>, Vec<_>) = accounts.iter().partition(|(_, h)| h.is_some());
    let nodes: Vec<Account> = with
        .iter()
        .map(|(id, h)| Account {
            username: id,
            hash: h.as_deref().unwrap_or_default(),
        })
        .collect();
    let controller_hash = hash::hash_password(password);
    let controller = Account {
        username,
        hash: &controller_hash,
    };
    let topics = loa_protocol::Topics::for_site(&cfg.site);
    let ids: Vec<&str> = nodes.iter().map(|a| a.username).collect();

    let write = |name: &str, text: String| {
        let path = dir.join(name);
        install::write_atomically(&path, &text)
            .map(|_| path.clone())
            .map_err(|source| MosquittoError::Write { path, source })
    };
    // The password file first: a node briefly allowed in with no ACL line can do nothing.
    let password_file = write(PASSWORD_FILE, render::password_file(&controller, &nodes))?;
    let acl_file = write(ACL_FILE, render::acl_file(&topics, username, &ids))?;
    Ok(Written {
        password_file,
        acl_file,
        nodes: nodes.len(),
        without_hash: without.into_iter().map(|(id, _)| id.clone()).collect(),
    })
}

/// Serialises rewrites: two provisionings at once must not interleave their files.
static REWRITE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// When `[mqtt] mosquitto_dir` is set: rewrites the files there and, with
/// `mosquitto_pid_file`, makes Mosquitto reload them. Failures are logged, not returned: the
/// caller (a provisioning) has already succeeded, and the files catch up at the next rewrite.
pub async fn refresh(store: &Store, cfg: &Config) {
    let Some(dir) = &cfg.mqtt.mosquitto_dir else {
        return;
    };
    let _one_at_a_time = REWRITE.lock().await;
    let written = match write_files(store, cfg, dir).await {
        Ok(w) => w,
        Err(e) => {
            tracing::error!(dir = %dir.display(), error = %e, "cannot write Mosquitto's password and ACL files");
            return;
        }
    };
    warn_without_hash(&written.without_hash);
    tracing::info!(dir = %dir.display(), nodes = written.nodes, "Mosquitto's password and ACL files written");
    if let Some(pid_file) = &cfg.mqtt.mosquitto_pid_file {
        match install::reload(pid_file) {
            Ok(pid) => tracing::info!(pid, "Mosquitto asked to reload its files (SIGHUP)"),
            Err(e) => tracing::warn!(error = %e, "Mosquitto was not told to reload its files"),
        }
    }
}

/// The warning for nodes left out of the files, naming them.
pub fn without_hash_warning(ids: &[String]) -> Option<String> {
    (!ids.is_empty()).then(|| {
        format!(
            "{} node(s) left out of Mosquitto's files because they were provisioned before loa \
             kept Mosquitto's hash of their password: {}. Reset their credentials (the node \
             page's \"new credentials\", or POST /api/v1/nodes/ID/credentials) and install the \
             new config file on each.",
            ids.len(),
            ids.join(", ")
        )
    })
}

fn warn_without_hash(ids: &[String]) {
    if let Some(w) = without_hash_warning(ids) {
        tracing::warn!("{w}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::nodes::SecretHashes;

    fn secrets(password: &str) -> SecretHashes {
        SecretHashes {
            mqtt_password: crate::secrets::hash_secret(password),
            media_token: crate::secrets::hash_secret(&crate::secrets::new_secret()),
            mqtt_mosquitto: hash::hash_password(password),
            public_key: loa_protocol::public_key_b64(&loa_protocol::generate_key()),
        }
    }

    fn config(username: Option<&str>) -> Config {
        let mut cfg = Config {
            site: "xa-a".into(),
            ..Config::default()
        };
        cfg.mqtt.username = username.map(Into::into);
        cfg.mqtt.password = Some("ctl-pw".into());
        cfg
    }

    #[tokio::test]
    async fn nodes_without_a_mosquitto_hash_are_left_out_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let zone = store.create_zone("Thôn 1", None).await.unwrap().id;
        for id in ["thon-1", "thon-old"] {
            store
                .create_node(id, id, zone, &secrets("pw"))
                .await
                .unwrap();
        }
        // As a node provisioned before the column existed.
        sqlx::query("UPDATE nodes SET mqtt_mosquitto_hash = NULL WHERE id = 'thon-old'")
            .execute(&store.pool)
            .await
            .unwrap();

        let w = write_files(&store, &config(Some("ctl")), dir.path())
            .await
            .unwrap();
        assert_eq!(
            (w.nodes, w.without_hash.clone()),
            (1, vec!["thon-old".into()])
        );
        let passwd = std::fs::read_to_string(&w.password_file).unwrap();
        assert!(passwd.contains("\nctl:$7$101$") && passwd.contains("\nthon-1:$7$101$"));
        let acl = std::fs::read_to_string(&w.acl_file).unwrap();
        assert!(!passwd.contains("thon-old") && !acl.contains("thon-old"));
        let warning = without_hash_warning(&w.without_hash).unwrap();
        assert!(warning.contains("thon-old") && warning.contains("Reset their credentials"));
    }

    #[tokio::test]
    async fn the_controller_account_must_be_configured_and_distinct_from_every_node() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let zone = store.create_zone("Thôn 1", None).await.unwrap().id;
        store
            .create_node("thon-1", "t", zone, &secrets("pw"))
            .await
            .unwrap();
        let err = write_files(&store, &config(None), dir.path()).await;
        assert!(matches!(err, Err(MosquittoError::NoControllerAccount)));
        let err = write_files(&store, &config(Some("thon-1")), dir.path()).await;
        assert!(matches!(err, Err(MosquittoError::UsernameTaken(_))));
        assert!(!dir.path().join(PASSWORD_FILE).exists());
    }
}
