//! An HLS station (`.m3u8`): the playlist read again and again, each new segment fetched once,
//! in order, and its audio handed to the decoder as one continuous stream, as an Icecast body
//! would be. Segments are MPEG-TS (the audio taken out by [`super::ts`]) or packed audio (AAC
//! in ADTS, or MP3, with their ID3 timestamp tag cut off). A master playlist's first variant
//! is followed. A live playlist is joined near its end (the last three segments), so the
//! villages hear the station a few segments behind it, as any HLS player does.

use std::time::Duration;

use bytes::Bytes;
use m3u8_rs::Playlist;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::ts::TsAudio;

/// Segments taken from the end of a live playlist when joining it.
const JOIN_AT: usize = 3;
/// Most playlists followed from a master playlist to a media one.
const MAX_HOPS: usize = 3;

/// Whether a response is an HLS playlist: by its type, its URL, or its first bytes.
pub fn is_playlist(url: &str, content_type: Option<&str>) -> bool {
    let ct = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    matches!(
        ct.as_deref(),
        Some(
            "application/vnd.apple.mpegurl"
                | "application/x-mpegurl"
                | "audio/mpegurl"
                | "audio/x-mpegurl"
        )
    ) || url
        .split(['?', '#'])
        .next()
        .is_some_and(|p| p.to_ascii_lowercase().ends_with(".m3u8"))
}

/// What the puller hands the decoder: the extension it should try first (known from the
/// first segment), then the audio.
pub enum Out {
    Hint(&'static str),
    Audio(Bytes),
}

/// Follows the playlist whose first body is `body` (fetched from `url`) until `stop`, the
/// end of the playlist, or a failure; returns why it stopped and how many audio bytes went out.
pub async fn pull(
    client: &reqwest::Client,
    url: &str,
    body: Bytes,
    stall: Duration,
    tx: mpsc::Sender<Out>,
    stop: &CancellationToken,
) -> (String, u64) {
    let mut url = match reqwest::Url::parse(url) {
        Ok(u) => u,
        Err(e) => return (format!("the playlist's URL: {e}"), 0),
    };
    let mut body = body;
    let mut last: Option<u64> = None;
    let mut sent: u64 = 0;
    let mut hinted = false;
    let mut since_new = tokio::time::Instant::now();
    loop {
        let media = match media_playlist(client, &mut url, body).await {
            Ok(m) => m,
            Err(why) => return (why, sent),
        };
        let first_seq = media.media_sequence;
        let count = media.segments.len() as u64;
        let from = match last {
            Some(l) => (l + 1).max(first_seq),
            None => first_seq + count.saturating_sub(JOIN_AT as u64),
        };
        for (i, seg) in media.segments.iter().enumerate() {
            let seq = first_seq + i as u64;
            if seq < from {
                continue;
            }
            let seg_url = match url.join(&seg.uri) {
                Ok(u) => u,
                Err(e) => return (format!("a segment's URL {:?}: {e}", seg.uri), sent),
            };
            let bytes = tokio::select! {
                _ = stop.cancelled() => return ("the relay stopped".into(), sent),
                b = fetch(client, &seg_url, stall) => b,
            };
            let bytes = match bytes {
                Ok(b) => b,
                Err(why) => return (why, sent),
            };
            let (audio, hint) = segment_audio(&seg_url, &bytes);
            if !hinted {
                if let Some(h) = hint {
                    hinted = true;
                    if tx.send(Out::Hint(h)).await.is_err() {
                        return (String::new(), sent);
                    }
                }
            }
            if audio.is_empty() {
                tracing::warn!(segment = %seg_url, "an HLS segment carried no audio loa can decode");
            }
            sent += audio.len() as u64;
            if tx.send(Out::Audio(Bytes::from(audio))).await.is_err() {
                // The decoder gave up: its reason is the one returned.
                return (String::new(), sent);
            }
            last = Some(seq);
            since_new = tokio::time::Instant::now();
        }
        if media.end_list {
            return ("the station's playlist ended".into(), sent);
        }
        if since_new.elapsed() >= stall.max(Duration::from_secs(media.target_duration * 3)) {
            return (
                format!(
                    "no new segment in the playlist for {} s",
                    since_new.elapsed().as_secs()
                ),
                sent,
            );
        }
        // Half a target duration between reloads (RFC 8216, 6.3.4), at least 0.5 s.
        let wait = Duration::from_millis((media.target_duration * 500).max(500));
        tokio::select! {
            _ = stop.cancelled() => return ("the relay stopped".into(), sent),
            _ = tokio::time::sleep(wait) => {}
        }
        body = match fetch(client, &url, stall).await {
            Ok(b) => b,
            Err(why) => return (why, sent),
        };
    }
}

/// The media playlist `body` is, or the one its master playlist's first variant names
/// (fetched, and `url` moved to it).
async fn media_playlist(
    client: &reqwest::Client,
    url: &mut reqwest::Url,
    mut body: Bytes,
) -> Result<m3u8_rs::MediaPlaylist, String> {
    for _ in 0..MAX_HOPS {
        match m3u8_rs::parse_playlist_res(&body) {
            Ok(Playlist::MediaPlaylist(m)) => return Ok(m),
            Ok(Playlist::MasterPlaylist(m)) => {
                let Some(v) = m.variants.iter().find(|v| !v.is_i_frame) else {
                    return Err("the station's master playlist names no stream".into());
                };
                *url = url
                    .join(&v.uri)
                    .map_err(|e| format!("a variant's URL {:?}: {e}", v.uri))?;
                body = fetch(client, url, Duration::from_secs(10)).await?;
            }
            Err(_) => return Err("the station's playlist is not a valid .m3u8".into()),
        }
    }
    Err("the station's playlists lead from one to another without end".into())
}

async fn fetch(
    client: &reqwest::Client,
    url: &reqwest::Url,
    stall: Duration,
) -> Result<Bytes, String> {
    let get = async {
        let r = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| format!("cannot reach the station: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("the station answered {} for {url}", r.status()));
        }
        r.bytes()
            .await
            .map_err(|e| format!("the connection broke: {e}"))
    };
    tokio::time::timeout(stall.max(Duration::from_secs(5)), get)
        .await
        .unwrap_or_else(|_| Err(format!("{url} did not come in time")))
}

/// A segment's audio for the decoder, and the extension to hint: MPEG-TS demultiplexed, packed
/// audio with its leading ID3 tags cut off.
pub fn segment_audio(url: &reqwest::Url, bytes: &[u8]) -> (Vec<u8>, Option<&'static str>) {
    if bytes.first() == Some(&0x47) && bytes.len() >= super::ts::PACKET {
        let mut ts = TsAudio::default();
        let mut out = Vec::new();
        ts.push(bytes, &mut out);
        return (out, ts.codec().map(|c| c.hint()));
    }
    let audio = skip_xing(skip_id3(bytes)).to_vec();
    let path = url.path().to_ascii_lowercase();
    let hint = if path.ends_with(".mp3") || path.ends_with(".mp2") {
        Some("mp3")
    } else if path.ends_with(".aac") || path.ends_with(".adts") {
        Some("aac")
    } else {
        None
    };
    (audio, hint)
}

/// `bytes` past any ID3v2 tags at its start (packed audio segments begin with one, carrying
/// the segment's timestamp).
fn skip_id3(mut bytes: &[u8]) -> &[u8] {
    while bytes.len() >= 10 && &bytes[..3] == b"ID3" {
        let size = bytes[6..10]
            .iter()
            .fold(0usize, |n, b| (n << 7) | usize::from(b & 0x7F));
        let footer = if bytes[5] & 0x10 != 0 { 10 } else { 0 };
        bytes = bytes.get(10 + size + footer..).unwrap_or(&[]);
    }
    bytes
}

/// `bytes` past a Xing or Info frame at its start. An encoder writes one at the head of each
/// MP3 segment to give that segment's length; joined into one stream, the first would make
/// the decoder stop after the first segment, and the next ones are frames of silence.
fn skip_xing(bytes: &[u8]) -> &[u8] {
    let Some(len) = mp3_frame_len(bytes) else {
        return bytes;
    };
    let head = &bytes[..len.min(bytes.len()).min(64)];
    if head.windows(4).any(|w| w == b"Xing" || w == b"Info") {
        bytes.get(len..).unwrap_or(&[])
    } else {
        bytes
    }
}

/// The length of the MPEG audio layer III frame `bytes` starts with.
fn mp3_frame_len(bytes: &[u8]) -> Option<usize> {
    let h = bytes.get(..4)?;
    if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 || (h[1] >> 1) & 0x3 != 0x1 {
        return None;
    }
    let version = (h[1] >> 3) & 0x3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    let kbps: [u32; 15] = if version == 3 {
        [
            0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
        ]
    } else {
        [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
    };
    let bitrate = *kbps.get(usize::from(h[2] >> 4))? * 1000;
    let base = [44_100u32, 48_000, 32_000].get(usize::from((h[2] >> 2) & 0x3))?;
    let rate = match version {
        3 => *base,
        2 => base / 2,
        0 => base / 4,
        _ => return None,
    };
    let per = if version == 3 { 144 } else { 72 };
    let len = per * bitrate / rate + u32::from((h[2] >> 1) & 0x1);
    (bitrate > 0).then_some(len as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playlists_are_known_by_type_or_by_name() {
        for (url, ct, is) in [
            ("http://radio.example/live.m3u8", None, true),
            (
                "http://radio.example/live.M3U8?token=1",
                Some("text/plain"),
                true,
            ),
            (
                "http://radio.example/live",
                Some("application/vnd.apple.mpegurl"),
                true,
            ),
            (
                "http://radio.example/live",
                Some("application/x-mpegURL; charset=utf-8"),
                true,
            ),
            ("http://radio.example/vov1.mp3", Some("audio/mpeg"), false),
            ("http://radio.example/vov1", None, false),
        ] {
            assert_eq!(is_playlist(url, ct), is, "{url} {ct:?}");
        }
    }

    #[test]
    fn packed_audio_loses_its_id3_tag_and_is_hinted_by_its_name() {
        let mut seg = b"ID3\x04\x00\x00\x00\x00\x00\x05PRIV!".to_vec();
        seg.extend_from_slice(b"\xFF\xF1audio");
        let url = reqwest::Url::parse("http://radio.example/seg7.aac").unwrap();
        let (audio, hint) = segment_audio(&url, &seg);
        assert_eq!(audio, b"\xFF\xF1audio");
        assert_eq!(hint, Some("aac"));
        let url = reqwest::Url::parse("http://radio.example/seg7.mp3").unwrap();
        assert_eq!(segment_audio(&url, b"\xFF\xFBmp3").1, Some("mp3"));
    }

    #[test]
    fn an_mp3_segments_xing_frame_is_cut_off() {
        // MPEG-1 layer III, 64 kbit/s, 44.1 kHz, no padding: 208 bytes a frame.
        let mut xing = vec![0xFF, 0xFB, 0x50, 0xC4];
        xing.resize(36, 0);
        xing.extend_from_slice(b"Xing");
        xing.resize(208, 0);
        let mut audio = vec![0xFF, 0xFB, 0x50, 0xC4];
        audio.resize(208, 7);
        let mut seg = xing.clone();
        seg.extend_from_slice(&audio);
        let url = reqwest::Url::parse("http://radio.example/seg7.mp3").unwrap();
        assert_eq!(segment_audio(&url, &seg).0, audio, "the Xing frame is gone");
        assert_eq!(segment_audio(&url, &audio).0, audio, "a plain frame stays");
    }
}
