//! Keeping audio as media: a complete file is probed, moved to its content address and
//! recorded. The one way audio enters the media store, for uploads, text-to-speech and CAP
//! alerts alike.

use std::path::Path;

use super::{App, OpError};
use crate::media::{probe, MediaError};
use crate::store::media::MediaRow;

/// Probes a complete file at `tmp` (a path from `MediaStore::incoming`), moves it to its
/// content address and records it. On an error `tmp` is left for the caller to remove.
pub async fn keep(
    s: &App,
    tmp: &Path,
    sha256: String,
    size: u64,
    name: Option<String>,
) -> Result<MediaRow, OpError> {
    let probe_path = tmp.to_path_buf();
    let hint = name.clone();
    let probed = tokio::task::spawn_blocking(move || probe(&probe_path, hint.as_deref()))
        .await
        .map_err(OpError::internal)??;
    s.media.commit(tmp, &sha256).map_err(MediaError::from)?;
    let row = MediaRow::probed(sha256, size, probed, name);
    s.store.insert_media(&row).await?;
    tracing::info!(sha256 = %row.sha256, size = row.size, duration_ms = row.duration_ms, codec = %row.codec, "media stored");
    Ok(row)
}

/// Keeps bytes held in memory (a rendered text, an alert's embedded audio) as media.
pub async fn keep_bytes(s: &App, bytes: &[u8], name: Option<String>) -> Result<MediaRow, OpError> {
    use sha2::{Digest, Sha256};
    if bytes.is_empty() {
        return Err(MediaError::Empty.into());
    }
    let sha256 = hex::encode(Sha256::digest(bytes));
    let tmp = s.media.incoming();
    let result = match tokio::fs::write(&tmp, bytes).await {
        Ok(()) => keep(s, &tmp, sha256, bytes.len() as u64, name).await,
        Err(e) => Err(MediaError::from(e).into()),
    };
    if result.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    result
}
