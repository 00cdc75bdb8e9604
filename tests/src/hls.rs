//! A test radio station over HLS: ffmpeg cutting a recording, played in a loop in real time,
//! into one-second segments and a live playlist (`live.m3u8`), and a small web server here
//! serving that folder on a loopback port, as a station's web server would (one file per
//! request, with its type and length, then the connection closes).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

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
    server: tokio::task::JoinHandle<()>,
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
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let server = tokio::spawn(serve(listener, dir.to_path_buf()));
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
        let _ = self.ffmpeg.kill();
        let _ = self.ffmpeg.wait();
        self.server.abort();
    }
}

/// Serves the files of `dir` by name (`GET /live.m3u8`), one request a connection.
async fn serve(listener: tokio::net::TcpListener, dir: PathBuf) {
    while let Ok((mut sock, _)) = listener.accept().await {
        let dir = dir.clone();
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16_384 {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let line = String::from_utf8_lossy(&head);
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let name = path.split('?').next().unwrap_or("").trim_start_matches('/');
            let file = (!name.contains("..")).then(|| dir.join(name));
            let answer = match file.map(std::fs::read) {
                Some(Ok(body)) => {
                    let kind = if name.ends_with(".m3u8") {
                        "application/vnd.apple.mpegurl"
                    } else if name.ends_with(".ts") {
                        "video/mp2t"
                    } else {
                        "audio/mpeg"
                    };
                    let mut a = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    a.extend_from_slice(&body);
                    a
                }
                _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = sock.write_all(&answer).await;
        });
    }
}
