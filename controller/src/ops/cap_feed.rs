//! The CAP feed: `[cap] feed_url` is polled every `poll_secs`; it answers either one CAP
//! alert, or an Atom or RSS feed whose entries link to CAP alerts (on the feed's own host).
//! Each new alert is taken as `POST /api/v1/cap` takes it ([`super::cap::take`]); a link
//! already fetched is not fetched again while the controller runs (after a restart, an alert
//! still listed is fetched once more and refused as a duplicate, so nothing plays twice).

use std::collections::HashSet;
use std::time::Duration;

use quick_xml::events::Event;
use quick_xml::Reader;
use tokio_util::sync::CancellationToken;

use super::cap::{take, Via};
use super::cap_fetch::{fetch, same_host};
use super::{App, Kind, OpError};

/// What a feed's body is.
#[derive(Debug, PartialEq, Eq)]
pub enum FeedBody {
    /// The URL answered one alert.
    Alert,
    /// An Atom or RSS feed: the entries' links, in order.
    Links(Vec<String>),
}

/// Reads a feed's body: one `<alert>`, or the links of Atom `<entry>`s (`<link href>`) and
/// RSS `<item>`s (`<link>` text).
pub fn read_feed(body: &str) -> Result<FeedBody, String> {
    let mut r = Reader::from_str(body);
    let mut links = Vec::new();
    let (mut in_entry, mut in_rss_link, mut first) = (false, false, true);
    loop {
        match r
            .read_event()
            .map_err(|e| format!("the feed is not XML: {e}"))?
        {
            Event::Start(e) | Event::Empty(e) => {
                let name = e.local_name();
                let name = name.as_ref();
                if first {
                    first = false;
                    if name == b"alert" {
                        return Ok(FeedBody::Alert);
                    }
                    if !matches!(name, b"feed" | b"rss" | b"RDF") {
                        return Err(format!(
                            "the feed is neither a CAP alert, Atom nor RSS (its root is <{}>)",
                            String::from_utf8_lossy(name)
                        ));
                    }
                }
                match name {
                    b"entry" | b"item" => in_entry = true,
                    b"link" if in_entry => {
                        let href = e
                            .try_get_attribute("href")
                            .ok()
                            .flatten()
                            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()));
                        match href {
                            Some(h) => links.push(h),
                            None => in_rss_link = true,
                        }
                    }
                    _ => {}
                }
            }
            Event::Text(t) if in_rss_link => {
                let t = t.unescape().map_err(|e| e.to_string())?;
                if !t.trim().is_empty() {
                    links.push(t.trim().to_owned());
                }
                in_rss_link = false;
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"entry" | b"item" => in_entry = false,
                b"link" => in_rss_link = false,
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(FeedBody::Links(links))
}

/// Polls the feed once: takes the alert it answers, or each entry not seen before. Returns
/// how many alerts were handed to [`take`].
pub async fn poll_once(s: &App, feed: &str, seen: &mut HashSet<String>) -> Result<usize, OpError> {
    let body = fetch(s, feed).await?;
    let text = String::from_utf8_lossy(&body);
    match read_feed(&text).map_err(|e| OpError::new(Kind::Invalid, "cap.feed", e))? {
        FeedBody::Alert => {
            take_logged(s, feed, &text).await;
            Ok(1)
        }
        FeedBody::Links(links) => {
            let mut n = 0;
            for link in links {
                if seen.contains(&link) {
                    continue;
                }
                if !same_host(&link, feed) {
                    tracing::warn!(link, feed, "a CAP feed entry on another host: not fetched");
                    seen.insert(link);
                    continue;
                }
                let body = fetch(s, &link).await?;
                take_logged(s, feed, &String::from_utf8_lossy(&body)).await;
                seen.insert(link);
                n += 1;
            }
            Ok(n)
        }
    }
}

/// Takes one alert from the feed; what was decided is in the records and the audit log.
async fn take_logged(s: &App, feed: &str, xml: &str) {
    match take(s, Via::Feed(feed), xml).await {
        Ok(t) => {
            tracing::info!(feed, decision = %t.decision, why = %t.why, "CAP alert from the feed")
        }
        Err(e) if e.kind == Kind::Conflict => {
            tracing::debug!(feed, error = %e, "CAP alert already taken")
        }
        Err(e) => tracing::warn!(feed, error = %e, "CAP alert from the feed refused"),
    }
}

/// Polls `[cap] feed_url` every `poll_secs` until shutdown.
pub async fn run(s: App, feed: String, every: Duration, shutdown: CancellationToken) {
    let mut seen = HashSet::new();
    loop {
        if let Err(e) = poll_once(&s, &feed, &mut seen).await {
            tracing::warn!(feed, error = %e, "CAP feed not read");
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
