//! Taking a node's broker access away at once: when it is decommissioned or given new
//! credentials, its old account stops working *and* its live connection is cut, on whichever
//! broker the controller runs with.
//!
//! - The embedded broker (rumqttd): the account map changes first, then the node's session is
//!   taken over and closed on the router ([`crate::mqtt::broker::Credentials::cut`]). When this
//!   returns, the old connection is gone; a reconnect with the old password is refused.
//! - Mosquitto, when the controller writes its files (`[mqtt] mosquitto_dir`): the password
//!   and ACL files are rewritten and Mosquitto is sent SIGHUP (`mosquitto_pid_file`). On that
//!   reload Mosquitto 2.0 checks every connected client against the new password file and
//!   disconnects one whose account is gone or whose password changed. Without a pid file the
//!   cut waits for the next reload: on Debian, the package's `loa-mosquitto-reload.path`
//!   (`packaging/loa-controller/`) reloads when the files change; otherwise someone runs `systemctl reload mosquitto`.
//!   `docs/security.md` says what each case guarantees.
//!
//! The store must already hold the node's new state (removed, or its new hashes): Mosquitto's
//! files are made from it.

use crate::config::Config;
use crate::mqtt::broker::Credentials;
use crate::secrets::hash_secret;
use crate::store::Store;

/// Decommissioned: node `id` has no broker account any more, and its connection is cut.
pub async fn close(accounts: &Credentials, store: &Store, cfg: &Config, id: &str) {
    accounts.remove(id);
    cut(accounts, store, cfg, id).await;
}

/// New credentials: node `id`'s account takes `password` (plain) only, and the connection
/// made with the old one is cut.
pub async fn renew(accounts: &Credentials, store: &Store, cfg: &Config, id: &str, password: &str) {
    accounts.set(id, &hash_secret(password));
    cut(accounts, store, cfg, id).await;
}

/// Cuts node `id`'s live connection on both brokers, once its account has changed (so that
/// its reconnect is refused). Failures are logged, not returned: the caller's change is
/// already stored, and a Mosquitto that missed it catches up at the next rewrite.
async fn cut(accounts: &Credentials, store: &Store, cfg: &Config, id: &str) {
    match accounts.cut(id).await {
        Ok(true) => tracing::info!(node = %id, "embedded broker: the node's connection is cut"),
        Ok(false) => {}
        Err(e) => {
            tracing::error!(node = %id, error = %e, "embedded broker: cannot cut the node's connection")
        }
    }
    // Rewrites the files and signals Mosquitto, whose reload disconnects the old session.
    crate::mqtt::mosquitto::refresh(store, cfg).await;
}
