//! One connection to a station, kept up for as long as the relay runs: a GET with reqwest,
//! the body streamed chunk by chunk to the decoder's thread ([`super::decode`]). A station
//! that sends nothing for [`STALL`] counts as stalled; a stalled, dropped or refused
//! connection is retried with backoff (`loa_protocol::Backoff`), while the pacer keeps sending
//! the villages silence.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use loa_protocol::Backoff;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::backlog::Backlog;
use super::decode;

/// No bytes from the station for this long: the connection is dropped and made again.
pub const STALL: Duration = Duration::from_secs(5);
/// Chunks in flight between the connection and the decoder.
const CHUNKS: usize = 64;

/// Pulls `url` into `backlog` until `stop`; reconnects after every failure.
pub async fn run(source: i64, url: String, backlog: Arc<Mutex<Backlog>>, stop: CancellationToken) {
    let client = match reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("loa-controller/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(source, error = %e, "cannot make an HTTP client for the relay");
            return;
        }
    };
    // Half a second at first, at most 30 s between attempts.
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        let outcome = tokio::select! {
            _ = stop.cancelled() => return,
            o = pull(&client, &url, &backlog, &stop) => o,
        };
        let delay = match outcome {
            // It played a while before it ended: the next attempt is not a failure in a row.
            Pulled::Played(why) => {
                backoff.reset();
                tracing::warn!(source, %url, reason = %why, "the station's stream broke off; reconnecting");
                backoff.next_delay(&mut rand::thread_rng())
            }
            Pulled::Failed(why) => {
                let d = backoff.next_delay(&mut rand::thread_rng());
                tracing::warn!(source, %url, reason = %why, retry_in_ms = d.as_millis() as u64, "cannot pull the station");
                d
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

enum Pulled {
    /// Audio came, then the stream ended or broke.
    Played(String),
    /// Nothing came: refused, unreachable, or not audio.
    Failed(String),
}

async fn pull(
    client: &reqwest::Client,
    url: &str,
    backlog: &Arc<Mutex<Backlog>>,
    stop: &CancellationToken,
) -> Pulled {
    let resp = match client.get(url).send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => return Pulled::Failed(format!("the station answered {}", r.status())),
        Err(e) => return Pulled::Failed(format!("cannot reach the station: {e}")),
    };
    let hint = decode::hint_for(
        resp.headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
    );
    let (tx, rx) = mpsc::channel(CHUNKS);
    let sink = backlog.clone();
    let decoder = tokio::task::spawn_blocking(move || {
        decode::run(decode::ChannelReader::new(rx), hint, sink)
    });
    let mut resp = resp;
    let mut bytes: u64 = 0;
    let why = loop {
        let chunk = tokio::select! {
            _ = stop.cancelled() => break "the relay stopped".to_string(),
            c = tokio::time::timeout(STALL, resp.chunk()) => c,
        };
        match chunk {
            Ok(Ok(Some(b))) => {
                bytes += b.len() as u64;
                if tx.send(b).await.is_err() {
                    // The decoder gave up on this stream: its reason is returned below.
                    break String::new();
                }
            }
            Ok(Ok(None)) => break "the station closed the stream".into(),
            Ok(Err(e)) => break format!("the connection broke: {e}"),
            Err(_) => break format!("nothing from the station for {} s", STALL.as_secs()),
        }
    };
    drop(tx);
    let decoder_why = decoder
        .await
        .unwrap_or_else(|e| format!("the decoder failed: {e}"));
    let why = if why.is_empty() { decoder_why } else { why };
    if bytes > 0 {
        Pulled::Played(why)
    } else {
        Pulled::Failed(why)
    }
}
