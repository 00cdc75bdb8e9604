//! The text of Mosquitto's password file and ACL file for one site: pure functions of the
//! accounts, no I/O.

use loa_protocol::Topics;

/// One account in the password file: a username and its Mosquitto hash.
pub struct Account<'a> {
    pub username: &'a str,
    pub hash: &'a str,
}

/// `username:hash` lines, the controller first.
pub fn password_file(controller: &Account, nodes: &[Account]) -> String {
    let mut out = String::from(HEADER);
    for a in std::iter::once(controller).chain(nodes) {
        out.push_str(&format!("{}:{}\n", a.username, a.hash));
    }
    out
}

/// One `user` block per account, with exact topics. A node reads only its own plan and ack
/// and writes only its own state (its last will included) and events; the controller reads
/// and writes everything under the site's root. Mosquitto denies what no line allows, and
/// anonymous clients get no line at all.
pub fn acl_file(topics: &Topics, controller: &str, nodes: &[&str]) -> String {
    let mut out = String::from(HEADER);
    out.push_str(&format!(
        "\n# The controller: every node's topics.\nuser {controller}\ntopic readwrite {}/#\n",
        topics.root()
    ));
    for id in nodes {
        out.push_str(&format!(
            "\nuser {id}\ntopic read {}\ntopic read {}\ntopic write {}\ntopic write {}\n",
            topics.plan(id),
            topics.ack(id),
            topics.state(id),
            topics.events(id),
        ));
    }
    out
}

const HEADER: &str = "# Written by `loa-controller mosquitto-config` from the node registry.\n\
                      # Do not edit: the next write replaces this file.\n";

/// Whether `name` can stand in a password file and an ACL line as it is: not empty, no ':'
/// (the password file's separator), no space or control character (the ACL's separators), no
/// MQTT wildcard.
pub fn is_plain_username(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == ':' || c == '#' || c == '+' || c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_node_gets_exactly_its_own_four_topics() {
        let acl = acl_file(&Topics::for_site("xa-a"), "ctl", &["thon-1", "thon-2"]);
        assert!(acl.contains("user ctl\ntopic readwrite loa/v1/xa-a/#\n"));
        assert!(acl.contains(
            "user thon-1\n\
             topic read loa/v1/xa-a/node/thon-1/plan\n\
             topic read loa/v1/xa-a/node/thon-1/ack\n\
             topic write loa/v1/xa-a/node/thon-1/state\n\
             topic write loa/v1/xa-a/node/thon-1/events\n"
        ));
        let block = acl.split("user thon-2\n").nth(1).unwrap();
        assert!(!block.contains("thon-1"), "{block}");
        assert!(!acl.contains('+') && !acl.contains("pattern"));
    }

    #[test]
    fn the_password_file_lists_the_controller_then_the_nodes() {
        let text = password_file(
            &Account {
                username: "ctl",
                hash: "$7$c",
            },
            &[Account {
                username: "thon-1",
                hash: "$7$n",
            }],
        );
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(lines, ["ctl:$7$c", "thon-1:$7$n"]);
    }

    #[test]
    fn usernames_that_would_break_the_files_are_caught() {
        assert!(is_plain_username("loa-controller"));
        for bad in ["", "a:b", "a b", "a\nb", "a/#", "+"] {
            assert!(!is_plain_username(bad), "{bad:?}");
        }
    }
}
