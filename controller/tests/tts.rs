//! Text-to-speech through the controller's API, with the real espeak-ng (`apt install
//! espeak-ng`; `scripts/setup.sh` installs it): a Vietnamese text previewed as audible speech,
//! rendered once and then served from the cache, the limits, a missing engine, and a text
//! announcement stored as media a node can fetch.

mod common;

use axum::http::{header, StatusCode};
use common::{sha256_hex, Harness};
use loa_controller::http::app;
use loa_controller::tts::{EspeakNg, Tts};
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A notice as a clerk would type it, with most of Vietnamese's diacritics.
const NOTICE: &str = "Thông báo: Ủy ban nhân dân xã Tả Lùng đề nghị bà con đưa trẻ đi tiêm \
                      phòng vào sáng thứ Bảy.";

/// The rendered files of a harness: `data_dir/tts`, beside `data_dir/media`.
fn cache_dir(h: &Harness) -> PathBuf {
    h.media_dir().parent().expect("a data dir").join("tts")
}

/// Every `.wav` in the cache (temporary files excluded).
fn cached_files(h: &Harness) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cache_dir(h))
        .expect("the cache directory exists")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    files.sort();
    files
}

/// The peak and RMS of a WAV file's samples, as fractions of full scale.
fn level(path: &Path) -> (f64, f64) {
    let mut reader = hound::WavReader::open(path).expect("a WAV hound reads");
    let spec = reader.spec();
    assert_eq!(spec.sample_format, hound::SampleFormat::Int, "{spec:?}");
    let full = f64::from(1u32 << (spec.bits_per_sample - 1));
    let (mut peak, mut sum, mut n) = (0f64, 0f64, 0u64);
    for s in reader.samples::<i32>() {
        let x = f64::from(s.expect("a sample")) / full;
        peak = peak.max(x.abs());
        sum += x * x;
        n += 1;
    }
    assert!(n > 0, "no samples");
    (peak, (sum / n as f64).sqrt())
}

#[tokio::test]
async fn vietnamese_text_with_diacritics_previews_as_audible_speech_of_a_plausible_length() {
    let h = Harness::new().await;
    let started = std::time::Instant::now();
    let r = h
        .post_json("/api/v1/tts/preview", json!({ "text": NOTICE }))
        .await;
    let took = started.elapsed();
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header(header::CONTENT_TYPE), Some("audio/wav"));
    eprintln!("rendered {} characters in {took:?}", NOTICE.chars().count());

    // The project's own probe decodes it, as it would an upload.
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("preview.wav");
    std::fs::write(&wav, &r.body).unwrap();
    let p = loa_controller::media::probe(&wav, Some("preview.wav")).expect("the preview decodes");
    assert!(p.codec.starts_with("pcm"), "{p:?}");
    assert!(
        (3_000..=15_000).contains(&p.duration_ms),
        "{} ms is not a plausible length for {} characters read out",
        p.duration_ms,
        NOTICE.chars().count()
    );
    // Speech, not silence.
    let (peak, rms) = level(&wav);
    eprintln!("{} ms, peak {peak:.3}, RMS {rms:.4}", p.duration_ms);
    assert!(peak > 0.2, "peak {peak:.3} of full scale");
    assert!(rms > 0.02, "RMS {rms:.4} of full scale");
}

#[tokio::test]
async fn the_same_text_renders_once_and_then_comes_from_the_cache() {
    let h = Harness::new().await;
    let first = h
        .post_json("/api/v1/tts/preview", json!({ "text": NOTICE }))
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(h.state.tts.renders(), 1);
    let files = cached_files(&h);
    assert_eq!(files.len(), 1, "{files:?}");
    let before = std::fs::metadata(&files[0]).unwrap();
    assert_eq!(std::fs::read(&files[0]).unwrap(), first.body);

    // Again, then with the voice named, then typed with combining marks (NFD): one render.
    let nfd: String = unicode_normalization::UnicodeNormalization::nfd(NOTICE).collect();
    assert_ne!(nfd, NOTICE);
    for body in [
        json!({ "text": NOTICE }),
        json!({ "text": NOTICE, "voice": "vi" }),
        json!({ "text": nfd }),
    ] {
        let again = h.post_json("/api/v1/tts/preview", body).await;
        assert_eq!(again.status, StatusCode::OK, "{}", again.text());
        assert_eq!(again.body, first.body);
    }
    assert_eq!(h.state.tts.renders(), 1, "the engine ran again");
    assert_eq!(cached_files(&h), files);
    let after = std::fs::metadata(&files[0]).unwrap();
    assert_eq!(after.ino(), before.ino(), "the cache file was replaced");
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());

    // Another voice is another recording.
    let en = h
        .post_json(
            "/api/v1/tts/preview",
            json!({ "text": NOTICE, "voice": "en" }),
        )
        .await;
    assert_eq!(en.status, StatusCode::OK, "{}", en.text());
    assert_ne!(en.body, first.body);
    assert_eq!(h.state.tts.renders(), 2);
}

#[tokio::test]
async fn an_empty_or_too_long_text_or_an_unknown_voice_is_refused_with_its_code() {
    let h = Harness::new().await;
    for uri in ["/api/v1/tts/preview", "/api/v1/tts/announcements"] {
        let with = |text: &str, voice: Option<&str>| json!({ "title": "Thông báo", "text": text, "voice": voice });
        h.post_json(uri, with(&"a".repeat(2001), None))
            .await
            .assert_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "tts.text_too_long",
                &["2001", "2000"],
            );
        for blank in ["", "  \n "] {
            h.post_json(uri, with(blank, None)).await.assert_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "tts.text_empty",
                &["empty"],
            );
        }
        h.post_json(uri, with("Xin chào", Some("fr")))
            .await
            .assert_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "tts.unknown_voice",
                &["\"fr\"", "vi", "en"],
            );
    }
    // Nothing reached the engine, nothing was kept.
    assert_eq!(h.state.tts.renders(), 0);
    assert!(cached_files(&h).is_empty(), "{:?}", cached_files(&h));
    assert_eq!(h.get("/api/v1/announcements").await.json(), json!([]));
}

#[tokio::test]
async fn without_espeak_ng_the_api_says_how_to_install_it() {
    let mut h = Harness::new().await;
    let mut state = h.state.clone();
    let data_dir = cache_dir(&h).parent().unwrap().to_path_buf();
    let engine = EspeakNg::with_program("/nonexistent/espeak-ng");
    state.app.tts = Arc::new(Tts::new(Arc::new(engine), &data_dir).unwrap());
    h.app = app(state);
    for uri in ["/api/v1/tts/preview", "/api/v1/tts/announcements"] {
        h.post_json(uri, json!({ "title": "Thông báo", "text": "Xin chào" }))
            .await
            .assert_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "tts.engine_missing",
                &["espeak-ng is not installed: apt install espeak-ng"],
            );
    }
    assert!(cached_files(&h).is_empty(), "{:?}", cached_files(&h));
}

#[tokio::test]
async fn a_text_announcement_is_stored_media_that_a_node_can_fetch() {
    let h = Harness::new().await;
    let village = h.zone("Bản Tả Lùng", None).await;
    let node = h.node("ta-lung-1", village).await;
    let token = node["media_token"].as_str().expect("a media token");

    // The clerk listens first, then saves: the save does not render again.
    let preview = h
        .post_json("/api/v1/tts/preview", json!({ "text": NOTICE }))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text());
    let r = h
        .post_json(
            "/api/v1/tts/announcements",
            json!({ "title": "Tiêm phòng sáng thứ Bảy", "text": NOTICE }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(h.state.tts.renders(), 1);
    let a = r.json();
    assert_eq!(a["title"], "Tiêm phòng sáng thứ Bảy");
    let recordings = a["recordings"].as_array().expect("recordings");
    assert_eq!(recordings.len(), 1, "{a}");
    assert_eq!(recordings[0]["language"], "vi");
    let sha = recordings[0]["media_sha256"].as_str().unwrap().to_string();
    assert_eq!(a["media_sha256"], sha);
    assert_eq!(
        sha,
        sha256_hex(&preview.body),
        "the stored media is the preview"
    );

    // Stored as an upload would be: probed, recorded, under its content address.
    let m = h.get(&format!("/api/v1/media/{sha}")).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text());
    let m = m.json();
    assert!(m["codec"].as_str().unwrap().starts_with("pcm"), "{m}");
    assert_eq!(m["size"], preview.body.len() as u64);
    let ms = m["duration_ms"].as_u64().unwrap();
    assert!((3_000..=15_000).contains(&ms), "{m}");
    assert!(m["loudness_lufs"].is_f64(), "{m}");
    assert!(h.media_files().iter().all(|f| !f.starts_with('.')));

    // Broadcast to the village, a node fetches it with its token, byte for byte.
    h.broadcast(&a["id"], &[village], None).await;
    let d = h.download(&sha, Some(token), None).await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(d.body, preview.body);

    // And it is listed like any other announcement.
    let list = h.get("/api/v1/announcements").await.json();
    assert_eq!(list[0]["id"], a["id"]);
}

#[tokio::test]
async fn an_english_text_is_filed_as_the_english_recording() {
    let h = Harness::new().await;
    let r = h
        .post_json(
            "/api/v1/tts/announcements",
            json!({ "title": "Vaccination", "text": "Children's vaccination is on Saturday morning.", "voice": "en" }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!(r.json()["recordings"][0]["language"], "en");
}

#[tokio::test]
async fn the_voices_are_listed_with_their_languages_default_first() {
    let h = Harness::new().await;
    let v = h.get("/api/v1/tts/voices").await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text());
    let v = v.json();
    assert_eq!(v[0]["id"], "vi");
    assert_eq!(v[0]["language"], "vi");
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == "en" && x["language"] == "en"),
        "{v}"
    );
}
