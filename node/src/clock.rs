//! The node's clock against the controller's: an NTP-style exchange over HTTP. The node notes
//! its time before and after `GET {controller}/time`; the controller's answer is taken to be
//! the midpoint, so the offset is `server − (sent + received) / 2`, good to half the round
//! trip. Of a few exchanges the one with the shortest round trip wins. Reported in the node
//! state as `clock_offset_ms` (positive: the controller is ahead), in a new state only when it
//! has moved by 10 ms or more since the last one reported. [`watch`] measures at start and
//! every ten minutes.

use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One exchange: when the request left, what the controller said, when the answer came.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exchange {
    pub sent: DateTime<Utc>,
    pub server: DateTime<Utc>,
    pub received: DateTime<Utc>,
}

impl Exchange {
    pub fn round_trip(&self) -> chrono::Duration {
        self.received - self.sent
    }

    /// The controller's clock minus the node's.
    pub fn offset(&self) -> chrono::Duration {
        self.server - (self.sent + self.round_trip() / 2)
    }
}

/// The offset of the exchange with the shortest round trip.
pub fn best_offset(exchanges: &[Exchange]) -> Option<chrono::Duration> {
    exchanges
        .iter()
        .min_by_key(|e| e.round_trip())
        .map(Exchange::offset)
}

/// Measures the offset against the controller with `tries` exchanges.
pub async fn measure(
    http: &reqwest::Client,
    controller_url: &str,
    tries: usize,
) -> Result<chrono::Duration, String> {
    let url = format!("{}/time", controller_url.trim_end_matches('/'));
    let mut exchanges = Vec::new();
    let mut last_err = String::new();
    for _ in 0..tries {
        let sent = Utc::now();
        let r = http.get(&url).timeout(Duration::from_secs(5)).send().await;
        let received = Utc::now();
        let body: Result<serde_json::Value, String> = match r {
            Ok(r) => r.json().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match body.map(|v| v["unix_micros"].as_i64()) {
            Ok(Some(us)) => match DateTime::from_timestamp_micros(us) {
                Some(server) => exchanges.push(Exchange {
                    sent,
                    server,
                    received,
                }),
                None => last_err = format!("bad time {us} from the controller"),
            },
            Ok(None) => last_err = "the controller's /time answer has no unix_micros".into(),
            Err(e) => last_err = e,
        }
    }
    best_offset(&exchanges).ok_or(last_err)
}

/// Measures the clock against the controller at start and every `every_secs` (every ten
/// seconds until a first measurement succeeds).
pub async fn watch(
    http: reqwest::Client,
    controller_url: String,
    every_secs: u64,
    tx: mpsc::Sender<i64>,
    shutdown: CancellationToken,
) {
    let mut measured = false;
    loop {
        match measure(&http, &controller_url, 3).await {
            Ok(offset) => {
                measured = true;
                if tx.send(offset.num_milliseconds()).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "cannot measure the clock against the controller")
            }
        }
        let pause = if measured { every_secs } else { 10 };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(pause)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap() + chrono::Duration::milliseconds(ms)
    }

    #[test]
    fn the_offset_is_taken_at_the_midpoint_of_the_round_trip() {
        // Controller 250 ms ahead; 40 ms each way.
        let e = Exchange {
            sent: t(0),
            server: t(40 + 250),
            received: t(80),
        };
        assert_eq!(e.round_trip().num_milliseconds(), 80);
        assert_eq!(e.offset().num_milliseconds(), 250);
        // A node ahead of the controller gets a negative offset.
        let e = Exchange {
            sent: t(1000),
            server: t(10),
            received: t(1020),
        };
        assert_eq!(e.offset().num_milliseconds(), -1000);
    }

    #[test]
    fn the_shortest_round_trip_wins() {
        let slow = Exchange {
            sent: t(0),
            server: t(900),
            received: t(1000),
        }; // asymmetric, +400
        let fast = Exchange {
            sent: t(2000),
            server: t(2010),
            received: t(2020),
        }; // 0
        assert_eq!(best_offset(&[slow, fast]).unwrap().num_milliseconds(), 0);
        assert_eq!(best_offset(&[]), None);
    }
}
