//! The MQTT topic tree: everything lives under `loa/v1/{site}`.
//!
//! | topic | direction | retained |
//! |---|---|---|
//! | `…/node/{id}/plan` | controller → node | yes |
//! | `…/node/{id}/state` | node → controller | yes |
//! | `…/node/{id}/events` | node → controller | no |
//! | `…/node/{id}/ack` | controller → node | yes |

use std::fmt;

/// Which of a node's four topics a message came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Plan,
    State,
    Events,
    Ack,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Plan => "plan",
            Channel::State => "state",
            Channel::Events => "events",
            Channel::Ack => "ack",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The topic tree of one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    root: String,
}

impl Topics {
    /// The standard root for a site: `loa/v1/{site}`.
    pub fn for_site(site: &str) -> Self {
        Topics {
            root: format!("loa/v1/{site}"),
        }
    }

    /// A custom root, for deployments that share a broker under a prefix.
    pub fn with_root(root: &str) -> Self {
        Topics {
            root: root.trim_end_matches('/').to_string(),
        }
    }

    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn topic(&self, node: &str, channel: Channel) -> String {
        format!("{}/node/{node}/{channel}", self.root)
    }

    pub fn plan(&self, node: &str) -> String {
        self.topic(node, Channel::Plan)
    }
    pub fn state(&self, node: &str) -> String {
        self.topic(node, Channel::State)
    }
    pub fn events(&self, node: &str) -> String {
        self.topic(node, Channel::Events)
    }
    pub fn ack(&self, node: &str) -> String {
        self.topic(node, Channel::Ack)
    }

    /// The filter matching one channel of every node: `…/node/+/{channel}`.
    pub fn every_node(&self, channel: Channel) -> String {
        format!("{}/node/+/{channel}", self.root)
    }

    /// Splits a topic of this tree into the node id and channel; `None` for any other topic.
    pub fn parse<'a>(&self, topic: &'a str) -> Option<(&'a str, Channel)> {
        let rest = topic.strip_prefix(&self.root)?.strip_prefix("/node/")?;
        let (node, channel) = rest.split_once('/')?;
        if node.is_empty() || node.contains('/') {
            return None;
        }
        let channel = match channel {
            "plan" => Channel::Plan,
            "state" => Channel::State,
            "events" => Channel::Events,
            "ack" => Channel::Ack,
            _ => return None,
        };
        Some((node, channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_design() {
        let t = Topics::for_site("xa-ta-lung");
        assert_eq!(t.plan("n1"), "loa/v1/xa-ta-lung/node/n1/plan");
        assert_eq!(t.state("n1"), "loa/v1/xa-ta-lung/node/n1/state");
        assert_eq!(t.events("n1"), "loa/v1/xa-ta-lung/node/n1/events");
        assert_eq!(t.ack("n1"), "loa/v1/xa-ta-lung/node/n1/ack");
        assert_eq!(
            t.every_node(Channel::Events),
            "loa/v1/xa-ta-lung/node/+/events"
        );
    }

    #[test]
    fn parse_recovers_node_and_channel_and_refuses_strangers() {
        let t = Topics::for_site("s");
        assert_eq!(
            t.parse("loa/v1/s/node/n-7/events"),
            Some(("n-7", Channel::Events))
        );
        assert_eq!(
            t.parse("loa/v1/s/node/n-7/state"),
            Some(("n-7", Channel::State))
        );
        assert_eq!(t.parse("loa/v1/other/node/n-7/state"), None);
        assert_eq!(t.parse("loa/v1/s/node/a/b/state"), None);
        assert_eq!(t.parse("loa/v1/s/node//state"), None);
        assert_eq!(t.parse("loa/v1/s/node/n/whatever"), None);
    }
}
