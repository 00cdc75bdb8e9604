//! Relay sources: an operator registers a station's stream by name and URL, lists them and
//! removes one. The URL is checked for its form here; whether the station answers is learnt
//! when the relay pulls it.

use serde::Deserialize;

use super::{App, OpError};
use crate::limits::{SOURCE_NAME, SOURCE_URL};
use crate::store::sources::Source;

#[derive(utoipa::ToSchema, Deserialize)]
pub struct NewSource {
    /// What staff call it: "VOV1", "Đài tỉnh".
    pub name: String,
    /// The stream: `http://` or `https://`, an Icecast/Shoutcast mount carrying MP3 or AAC,
    /// or an HLS playlist (`.m3u8`).
    pub url: String,
}

/// Registers a source after checking its name and URL.
pub async fn add_source(app: &App, new: &NewSource) -> Result<Source, OpError> {
    let name = SOURCE_NAME.check(&new.name)?;
    let url = SOURCE_URL.check(&new.url)?;
    check_url(url)?;
    Ok(app.store.create_source(name, url).await?)
}

pub async fn list_sources(app: &App) -> Result<Vec<Source>, OpError> {
    Ok(app.store.sources().await?)
}

/// Removes a source no relay uses; one that relays use stays (their airings and recordings
/// name it), and the error names them.
pub async fn remove_source(app: &App, id: i64) -> Result<(), OpError> {
    app.store.source(id).await?;
    let used = app.store.relays_of(id).await?;
    if !used.is_empty() {
        return Err(OpError::conflict(
            "source.in_use",
            format!(
                "relays use this source: {}; archive them instead",
                used.join(", ")
            ),
        ));
    }
    Ok(app.store.delete_source(id).await?)
}

/// An absolute `http` or `https` URL with a host.
fn check_url(url: &str) -> Result<(), OpError> {
    let invalid = |why: String| OpError::new(super::Kind::Invalid, "source.bad_url", why);
    let parsed = reqwest::Url::parse(url)
        .map_err(|e| invalid(format!("the source URL {url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "the source URL must start with http:// or https://, not {}://",
            parsed.scheme()
        )));
    }
    if !matches!(parsed.host_str(), Some(h) if !h.is_empty()) {
        return Err(invalid(format!("the source URL {url:?} names no host")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn only_http_and_https_urls_with_a_host_are_sources() {
        assert!(check_url("http://radio.example:8000/vov1.mp3").is_ok());
        assert!(check_url("https://stream.example/live.aac?x=1").is_ok());
        for bad in ["ftp://x/y", "file:///etc/passwd", "vov1", "http://"] {
            let e = check_url(bad).unwrap_err();
            assert_eq!(e.code, "source.bad_url", "{bad}");
        }
    }
}
