//! Fetching what a CAP feed names: a bounded GET (the feed, its entries, an alert's audio) and
//! the rule that only the feed's own host is fetched from.

use std::time::Duration;

use super::{App, Kind, OpError};

/// GETs a URL, at most `max_upload_bytes`, within 30 s.
pub async fn fetch(s: &App, url: &str) -> Result<Vec<u8>, OpError> {
    let fail = |e: String| {
        OpError::new(
            Kind::Unavailable,
            "cap.fetch",
            format!("cannot fetch {url}: {e}"),
        )
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut resp = client
        .get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| fail(e.to_string()))?;
    let limit = s.cfg.max_upload_bytes;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| fail(e.to_string()))? {
        body.extend_from_slice(&chunk);
        if body.len() > limit {
            return Err(fail(format!("larger than {limit} bytes")));
        }
    }
    Ok(body)
}

fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    Some(host.to_ascii_lowercase())
}

/// Whether two URLs name the same host and port.
pub fn same_host(a: &str, b: &str) -> bool {
    matches!((host_of(a), host_of(b)), (Some(x), Some(y)) if x == y)
}
