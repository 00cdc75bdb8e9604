//! Media download over HTTP(S) with resume: a partial file `{sha}.part` is continued with
//! `Range: bytes=N-`, the whole is checked against its SHA-256, and only then moved into the
//! cache under its hash.

use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot reach the controller for media: {0}")]
    Unreachable(String),
    #[error("the controller refused the media download: {status} {message}")]
    Refused { status: u16, message: String },
    #[error("downloaded media does not match its SHA-256 (got {got}); it was discarded")]
    HashMismatch { got: String },
    #[error("media cache: {0}")]
    Disk(#[from] std::io::Error),
}

pub fn http_client() -> reqwest::Client {
    http_client_builder()
        .build()
        .expect("an HTTP client builds")
}

/// The node's HTTP settings; [`crate::tls::http_client`] adds the commune's CA.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(30))
}

/// Downloads `url` into `cache_dir/{sha256}`, resuming a partial download; returns the path.
pub async fn fetch(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    sha256: &str,
    cache_dir: &Path,
) -> Result<PathBuf, FetchError> {
    let dest = cache_dir.join(sha256);
    if dest.exists() {
        return Ok(dest);
    }
    tokio::fs::create_dir_all(cache_dir).await?;
    let part = cache_dir.join(format!("{sha256}.part"));
    let offset = tokio::fs::metadata(&part)
        .await
        .map(|m| m.len())
        .unwrap_or(0);
    let mut req = http.get(url).bearer_auth(token);
    if offset > 0 {
        req = req.header(reqwest::header::RANGE, format!("bytes={offset}-"));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| FetchError::Unreachable(describe(&e)))?;
    let status = resp.status();
    let mut file = match status.as_u16() {
        206 => {
            tracing::info!(sha256, offset, "resuming media download");
            tokio::fs::OpenOptions::new()
                .append(true)
                .open(&part)
                .await?
        }
        200 => tokio::fs::File::create(&part).await?,
        416 => {
            // The part file is already whole (or bigger than the file): check it as it is.
            tokio::fs::OpenOptions::new()
                .append(true)
                .open(&part)
                .await?
        }
        _ => {
            let message = resp.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&message)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .unwrap_or(message);
            return Err(FetchError::Refused {
                status: status.as_u16(),
                message,
            });
        }
    };
    if status.as_u16() != 416 {
        let mut resp = resp;
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| FetchError::Unreachable(describe(&e)))?
        {
            file.write_all(&chunk).await?;
        }
    }
    file.sync_all().await?;
    drop(file);
    let got = hash_file(&part).await?;
    if got != sha256 {
        tokio::fs::remove_file(&part).await?;
        return Err(FetchError::HashMismatch { got });
    }
    tokio::fs::rename(&part, &dest).await?;
    Ok(dest)
}

async fn hash_file(path: &Path) -> std::io::Result<String> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || crate::cache::sha256_of(&path))
        .await
        .expect("hashing does not panic")
}

/// reqwest's errors, with their causes, in one line.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(cause) = src {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        src = cause.source();
    }
    s
}
