//! The evidence of a relay: every packet the villages were sent, written as it goes to an Ogg
//! Opus file in the media store's incoming area, and kept like an upload (by SHA-256, probed,
//! with a media record) when the relay ends. Officials can then hear what went out.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::media::MediaStore;
use crate::opus::ogg_out::OggOpus;
use crate::opus::Packet;
use crate::store::media::MediaRow;
use crate::store::Store;

pub struct Recorder {
    path: PathBuf,
    file: BufWriter<File>,
    ogg: OggOpus,
    /// What it will be called in the media list: `relay-{source}-{start}.opus`.
    name: String,
    /// A write failed (a full disk): the rest is not recorded, and the log says so once.
    broken: bool,
}

impl Recorder {
    pub fn start(media: &MediaStore, pre_skip: u16, name: String) -> std::io::Result<Recorder> {
        let path = media.incoming();
        let mut file = BufWriter::new(File::create(&path)?);
        let mut ogg = OggOpus::new(rand::random(), pre_skip, crate::opus::RATE);
        file.write_all(&ogg.headers())?;
        Ok(Recorder {
            path,
            file,
            ogg,
            name,
            broken: false,
        })
    }

    pub fn push(&mut self, packet: &Packet) {
        if let Some(page) = self.ogg.push(packet) {
            self.write(&page);
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.broken {
            return;
        }
        if let Err(e) = self.file.write_all(bytes) {
            tracing::error!(file = %self.path.display(), error = %e, "the relay's recording stopped: cannot write it");
            self.broken = true;
        }
    }

    /// Ends the file with `last` and keeps it in the media store; returns its record.
    pub async fn finish(
        mut self,
        last: &Packet,
        media: &MediaStore,
        store: &Store,
    ) -> Option<MediaRow> {
        let page = self.ogg.end(last);
        self.write(&page);
        let flushed = self
            .file
            .flush()
            .and_then(|_| self.file.get_ref().sync_all());
        let path = self.path.clone();
        if self.broken || flushed.is_err() {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        let name = self.name.clone();
        let kept = tokio::task::spawn_blocking({
            let path = path.clone();
            move || {
                let probed =
                    crate::media::probe(&path, Some("relay.opus")).map_err(|e| e.to_string())?;
                let sha = crate::media::sha256_file(&path).map_err(|e| e.to_string())?;
                let size = std::fs::metadata(&path).map_err(|e| e.to_string())?.len();
                Ok::<_, String>((probed, sha, size))
            }
        })
        .await;
        let (probed, sha, size) = match kept {
            Ok(Ok(k)) => k,
            Ok(Err(e)) => {
                tracing::error!(recording = %name, error = %e, "the relay's recording does not decode; not kept");
                let _ = std::fs::remove_file(&path);
                return None;
            }
            Err(e) => {
                tracing::error!(recording = %name, error = %e, "the relay's recording could not be checked");
                let _ = std::fs::remove_file(&path);
                return None;
            }
        };
        if let Err(e) = media.commit(&path, &sha) {
            tracing::error!(recording = %name, error = %e, "the relay's recording could not be kept");
            let _ = std::fs::remove_file(&path);
            return None;
        }
        let row = MediaRow::probed(sha, size, probed, Some(name));
        if let Err(e) = store.insert_media(&row).await {
            tracing::error!(recording = ?row.original_name, error = %e, "the relay's recording could not be recorded");
            return None;
        }
        tracing::info!(sha256 = %row.sha256, duration_ms = row.duration_ms, name = ?row.original_name, "relay recording kept");
        Some(row)
    }
}
