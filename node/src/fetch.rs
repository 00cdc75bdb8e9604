//! Media download over HTTP(S) with resume: a partial file `{sha}.part` is continued with
//! `Range: bytes=N-`, the whole is checked against its SHA-256, and only then moved into the
//! cache under its hash.
//!
//! A full disk is its own error, [`FetchError::DiskFull`], naming the file: the node reports it
//! to the controller as the reason the item is not ready, and the next try resumes the part
//! file once there is room.

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
    #[error("disk full: the node has no room left for {}; the download resumes when there is room", path.display())]
    DiskFull { path: PathBuf },
    #[error("media cache: {0}")]
    Disk(#[from] std::io::Error),
}

/// Maps an I/O error on `path`, telling a full disk apart.
fn disk(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |e| {
        if crate::disk::is_full(&e) {
            FetchError::DiskFull {
                path: path.to_path_buf(),
            }
        } else {
            FetchError::Disk(e)
        }
    }
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
        // A node speaks to the controller in short spells (three clock exchanges every ten
        // minutes, a download now and then): an idle connection is let go after 5 s rather
        // than reqwest's 90, or ten thousand nodes hold ten thousand sockets, and the
        // controller their buffers, for nothing.
        .pool_idle_timeout(Duration::from_secs(5))
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
    tokio::fs::create_dir_all(cache_dir)
        .await
        .map_err(disk(cache_dir))?;
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
                .await
                .map_err(disk(&part))?
        }
        200 => tokio::fs::File::create(&part).await.map_err(disk(&part))?,
        416 => {
            // The part file is already whole (or bigger than the file): check it as it is.
            tokio::fs::OpenOptions::new()
                .append(true)
                .open(&part)
                .await
                .map_err(disk(&part))?
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
            file.write_all(&chunk).await.map_err(disk(&part))?;
        }
    }
    // tokio's file hands a failed write's error to the next call: flush so it is seen here,
    // not mistaken later for a hash mismatch.
    file.flush().await.map_err(disk(&part))?;
    file.sync_all().await.map_err(disk(&part))?;
    drop(file);
    let got = hash_file(&part).await?;
    if got != sha256 {
        tokio::fs::remove_file(&part).await?;
        return Err(FetchError::HashMismatch { got });
    }
    tokio::fs::rename(&part, &dest).await.map_err(disk(&dest))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Answers one request with `body`.
    async fn serve_once(body: &'static [u8]) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            conn.write_all(head.as_bytes()).await.unwrap();
            conn.write_all(body).await.unwrap();
        });
        format!("http://{addr}/media/x")
    }

    #[tokio::test]
    async fn a_full_disk_is_reported_as_such_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let sha = "ab".repeat(32);
        let part = dir.path().join(format!("{sha}.part"));
        // Every write to /dev/full fails with ENOSPC, as on a full disk.
        std::os::unix::fs::symlink("/dev/full", &part).unwrap();
        let url = serve_once(b"some media bytes").await;
        let err = fetch(&http_client(), &url, "t", &sha, dir.path())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, FetchError::DiskFull { path } if *path == part),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.starts_with("disk full: "), "{text}");
        assert!(text.contains(&part.display().to_string()), "{text}");
    }
}
