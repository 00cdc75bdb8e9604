//! A node's config file, kept in memory for a short while after it is made so the page can
//! offer it as a download (`node.toml`) without writing its secrets into the HTML. Only the
//! account that made it may fetch it, through a random ticket, for [`VALID_FOR`]; after that
//! it is gone, and only new credentials make another. Nothing is written to disk: a restart
//! forgets every ticket.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::secrets::new_secret;

/// How long a config file waits to be downloaded.
pub const VALID_FOR: Duration = Duration::from_secs(10 * 60);

/// The config files waiting to be downloaded, by ticket.
#[derive(Default)]
pub struct Downloads(Mutex<HashMap<String, Waiting>>);

struct Waiting {
    user_id: i64,
    node_id: String,
    text: String,
    made: Instant,
}

impl Downloads {
    /// Keeps `text` for `user_id` and returns the ticket that fetches it.
    pub fn keep(&self, user_id: i64, node_id: &str, text: String) -> String {
        let ticket = new_secret();
        let mut map = self.0.lock().expect("the downloads lock");
        map.retain(|_, w| w.made.elapsed() < VALID_FOR);
        map.insert(
            ticket.clone(),
            Waiting {
                user_id,
                node_id: node_id.to_owned(),
                text,
                made: Instant::now(),
            },
        );
        ticket
    }

    /// The config file behind `ticket`, if it is still valid, for this account and node.
    pub fn fetch(&self, ticket: &str, user_id: i64, node_id: &str) -> Option<String> {
        let map = self.0.lock().expect("the downloads lock");
        map.get(ticket)
            .filter(|w| w.user_id == user_id && w.node_id == node_id)
            .filter(|w| w.made.elapsed() < VALID_FOR)
            .map(|w| w.text.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_is_for_its_account_and_node_only() {
        let d = Downloads::default();
        let t = d.keep(7, "na-sai-1", "node_id = \"na-sai-1\"".into());
        assert!(d.fetch(&t, 7, "na-sai-1").is_some());
        assert!(d.fetch(&t, 8, "na-sai-1").is_none(), "another account");
        assert!(d.fetch(&t, 7, "phieng-1").is_none(), "another node");
        assert!(d.fetch("guessed", 7, "na-sai-1").is_none());
    }
}
