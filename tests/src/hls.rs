//! A test radio station over HLS: ffmpeg cutting a recording, played in a loop in real time,
//! into one-second segments and a live playlist (`live.m3u8`), and Python's `http.server`
//! serving that folder on a loopback port, as a station's web server would.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::procs::unused_port;
use crate::wait;

/// How the station cuts its stream.
#[derive(Debug, Clone, Copy)]
pub enum Segments {
    /// AAC in MPEG-TS segments (ffmpeg's `hls` muxer), as most stations send.
    TsAac,
    /// Packed audio: MP3 segments (ffmpeg's `segment` muxer writing the playlist).
    PackedMp3,
}

pub struct HlsStation {
    ffmpeg: Child,
    server: Child,
    port: u16,
    dir: PathBuf,
}

impl HlsStation {
    /// Starts cutting `recording` into `dir` and serving it; returns once the playlist holds
    /// three segments.
    pub async fn start(dir: &Path, recording: &Path, kind: Segments) -> anyhow::Result<HlsStation> {
        std::fs::create_dir_all(dir)?;
        let playlist = dir.join("live.m3u8");
        let mut ff = Command::new("ffmpeg");
        ff.args(["-loglevel", "error", "-re", "-stream_loop", "-1", "-i"])
            .arg(recording);
        match kind {
            Segments::TsAac => {
                ff.args(["-c:a", "aac", "-b:a", "64k", "-f", "hls", "-hls_time", "1"])
                    .args(["-hls_list_size", "6", "-hls_flags", "delete_segments"])
                    .arg("-hls_segment_filename")
                    .arg(dir.join("seg%05d.ts"))
                    .arg(&playlist);
            }
            Segments::PackedMp3 => {
                ff.args(["-c:a", "libmp3lame", "-b:a", "64k", "-f", "segment"])
                    .args(["-segment_time", "1", "-segment_format", "mp3"])
                    .args(["-segment_list_type", "m3u8", "-segment_list_size", "6"])
                    .arg("-segment_list")
                    .arg(&playlist)
                    .arg(dir.join("seg%05d.mp3"));
            }
        }
        let log = std::fs::File::create(dir.join("ffmpeg.log"))?;
        let ffmpeg = ff
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("ffmpeg is needed for the HLS tests (scripts/setup.sh test installs it)")?;
        let port = unused_port();
        let server = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("python3 serves the HLS test station")?;
        let station = HlsStation {
            ffmpeg,
            server,
            port,
            dir: dir.to_path_buf(),
        };
        let url = station.url();
        wait::until(
            "the HLS playlist with three segments",
            Duration::from_secs(30),
            || {
                let url = url.clone();
                async move {
                    let Ok(r) = reqwest::get(&url).await else {
                        return Ok(None);
                    };
                    let text = r.text().await.unwrap_or_default();
                    Ok((text.matches("#EXTINF").count() >= 3).then_some(()))
                }
            },
        )
        .await
        .with_context(|| station.log_tail())?;
        Ok(station)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/live.m3u8", self.port)
    }

    pub fn log_tail(&self) -> String {
        std::fs::read_to_string(self.dir.join("ffmpeg.log")).unwrap_or_default()
    }
}

impl Drop for HlsStation {
    fn drop(&mut self) {
        for c in [&mut self.ffmpeg, &mut self.server] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
