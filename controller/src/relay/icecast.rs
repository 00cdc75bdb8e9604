//! A station's relay handed to an Icecast server as a source (`[relay] icecast_url`), so that
//! at a province's scale the villages pull it from Icecast's mounts instead of from the
//! controller. One source connection per relay, as Icecast's own tools make it (an HTTP `PUT`
//! with basic authentication, then the Ogg Opus stream as the body for as long as the relay
//! runs); a refused or broken connection is made again with backoff, each time with a fresh
//! Ogg stream (its header pages first, as Icecast needs them).
//!
//! Written on a plain TCP connection rather than with reqwest: a `PUT` whose answer comes
//! before its endless body is not a request an HTTP client library is built to keep sending.
//! Plain `http://` only: an Icecast of the province's is reached over its own network or a
//! tunnel.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures_util::StreamExt as _;
use loa_protocol::Backoff;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::listen::Listener;
use super::Attendance;
use crate::opus::ogg_out::PACKETS_PER_PAGE;
use crate::opus::Packet;

/// The mount a station's relay is handed to: `/loa-{site}-{source}.ogg`.
pub fn mount(site: &str, source: i64) -> String {
    format!("/loa-{site}-{source}.ogg")
}

/// Where and as whom a relay is handed over.
#[derive(Clone, Debug)]
pub struct Handoff {
    /// `http://USER:PASSWORD@HOST:PORT`.
    pub url: reqwest::Url,
    pub site: String,
}

/// Feeds the relay behind `relay` to its mount until the relay ends or `stop`.
pub async fn push(
    to: Handoff,
    source: i64,
    name: String,
    relay: broadcast::WeakSender<Packet>,
    pre_skip: u16,
    attendance: Arc<Attendance>,
    stop: CancellationToken,
) {
    let mount = mount(&to.site, source);
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    loop {
        // The relay is gone: nothing more to hand over.
        let Some(tx) = relay.upgrade() else { return };
        let rx = tx.subscribe();
        drop(tx);
        attendance.pushers.fetch_add(1, Ordering::Relaxed);
        let listener = Listener::new(rx, pre_skip, PACKETS_PER_PAGE);
        let outcome = tokio::select! {
            _ = stop.cancelled() => None,
            o = once(&to.url, &mount, &name, listener) => Some(o),
        };
        attendance.pushers.fetch_sub(1, Ordering::Relaxed);
        let Some((why, sent)) = outcome else { return };
        if relay.upgrade().is_none() {
            return;
        }
        if sent > 0 {
            backoff.reset();
        }
        let wait = backoff.next_delay(&mut rand::thread_rng());
        tracing::warn!(source, %mount, reason = %why, retry_in_ms = wait.as_millis() as u64, "the relay's hand-off to Icecast stopped");
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// One source connection: why it ended, and the bytes it carried.
async fn once(url: &reqwest::Url, mount: &str, name: &str, listener: Listener) -> (String, u64) {
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return ("[relay] icecast_url names no host".into(), 0);
    };
    let mut sock =
        match tokio::time::timeout(Duration::from_secs(10), TcpStream::connect((host, port))).await
        {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return (format!("cannot reach Icecast at {host}:{port}: {e}"), 0),
            Err(_) => return (format!("Icecast at {host}:{port} did not answer"), 0),
        };
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        url.username(),
        url.password().unwrap_or_default()
    ));
    let head = format!(
        "PUT {mount} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Basic {credentials}\r\n\
         User-Agent: loa-controller/{}\r\nContent-Type: audio/ogg\r\nIce-Public: 0\r\n\
         Ice-Name: {name}\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Err(e) = sock.write_all(head.as_bytes()).await {
        return (format!("the connection to Icecast broke: {e}"), 0);
    }
    let answer = match tokio::time::timeout(Duration::from_secs(10), status_line(&mut sock)).await {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => return (format!("Icecast's answer could not be read: {e}"), 0),
        Err(_) => return ("Icecast did not answer the source request".into(), 0),
    };
    if answer.split_whitespace().nth(1) != Some("200") {
        return (format!("Icecast refused the mount {mount}: {answer}"), 0);
    }
    tracing::info!(%mount, "the relay is handed to Icecast");
    let mut sent = 0u64;
    let mut pages = std::pin::pin!(listener.into_stream());
    while let Some(Ok(page)) = pages.next().await {
        if let Err(e) = sock.write_all(&page).await {
            return (format!("the connection to Icecast broke: {e}"), sent);
        }
        sent += page.len() as u64;
    }
    ("the relay ended".into(), sent)
}

/// Icecast's status line, after reading its whole answer's head.
async fn status_line(sock: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
        if sock.read(&mut byte).await? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head);
    Ok(text.lines().next().unwrap_or_default().to_owned())
}
