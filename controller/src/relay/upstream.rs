//! One connection to a station, kept up for as long as the relay runs: a GET with reqwest,
//! the body streamed chunk by chunk to the decoder's thread ([`super::decode`]); or, when the
//! answer is an HLS playlist, its segments one after another ([`super::hls`]). A station
//! that sends nothing for [`STALL`] counts as stalled; a stalled, dropped or refused
//! connection is retried with backoff (`loa_protocol::Backoff`), while the pacer keeps sending
//! the villages silence.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use loa_protocol::Backoff;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::backlog::Backlog;
use super::{decode, hls};

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
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if hls::is_playlist(url, content_type.as_deref()) {
        return pull_hls(client, url, resp, backlog, stop).await;
    }
    let (tx, decoder) = spawn_decoder(decode::hint_for(content_type.as_deref()), backlog);
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
    finish(why, bytes, decoder).await
}

/// The decoder's thread for one connection, fed through the returned channel.
fn spawn_decoder(
    hint: Option<&'static str>,
    backlog: &Arc<Mutex<Backlog>>,
) -> (mpsc::Sender<Bytes>, tokio::task::JoinHandle<String>) {
    let (tx, rx) = mpsc::channel(CHUNKS);
    let sink = backlog.clone();
    let decoder = tokio::task::spawn_blocking(move || {
        decode::run(decode::ChannelReader::new(rx), hint, sink)
    });
    (tx, decoder)
}

/// How a connection ended: the connection's reason, else the decoder's.
async fn finish(why: String, bytes: u64, decoder: tokio::task::JoinHandle<String>) -> Pulled {
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

/// An HLS station: the playlist in `resp`, followed by [`hls::pull`]; the decoder starts once
/// the first segment says what the audio is.
async fn pull_hls(
    client: &reqwest::Client,
    url: &str,
    resp: reqwest::Response,
    backlog: &Arc<Mutex<Backlog>>,
    stop: &CancellationToken,
) -> Pulled {
    let body = match tokio::time::timeout(STALL, resp.bytes()).await {
        Ok(Ok(b)) => b,
        Ok(Err(e)) => return Pulled::Failed(format!("the playlist could not be read: {e}")),
        Err(_) => return Pulled::Failed("the playlist did not come in time".into()),
    };
    let (htx, mut hrx) = mpsc::channel(CHUNKS);
    let puller = hls::pull(client, url, body, STALL, htx, stop);
    let feeder = async {
        let mut decoder = None;
        while let Some(out) = hrx.recv().await {
            match out {
                hls::Out::Hint(h) => {
                    if decoder.is_none() {
                        decoder = Some(spawn_decoder(Some(h), backlog));
                    }
                }
                hls::Out::Audio(b) => {
                    let (tx, _) = decoder.get_or_insert_with(|| spawn_decoder(None, backlog));
                    if tx.send(b).await.is_err() {
                        break;
                    }
                }
            }
        }
        decoder.map(|(tx, handle)| {
            drop(tx);
            handle
        })
    };
    let ((why, bytes), decoder) = tokio::join!(puller, feeder);
    match decoder {
        Some(handle) => finish(why, bytes, handle).await,
        None => Pulled::Failed(if why.is_empty() {
            "the playlist gave no audio".into()
        } else {
            why
        }),
    }
}
