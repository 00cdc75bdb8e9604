//! What the pipeline refuses or cuts short: undecodable files (with a message a person
//! understands), a missing file, a bad sink configuration, and the stop flag.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use loa_node::audio::{open_sink, play, probe, AudioConfig, AudioError, PlayReport, SinkKind};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn null_config() -> AudioConfig {
    AudioConfig {
        sink: SinkKind::Null,
        ..AudioConfig::default()
    }
}

/// Plays `name` on a null sink and returns the error's message; panics if it is no `Decode`.
fn decode_error(name: &str) -> String {
    decode_error_at(&fixture(name))
}

/// Plays `path` whole on a null sink.
fn play_null(path: &Path) -> Result<PlayReport, AudioError> {
    let mut sink = open_sink(&null_config(), "x").unwrap();
    play(
        path,
        sink.as_mut(),
        1.0,
        &AtomicBool::new(false),
        &mut || {},
    )
}

fn decode_error_at(path: &Path) -> String {
    let name = path.display().to_string();
    let err = play_null(path).expect_err(&name);
    match (&err, probe(path)) {
        (AudioError::Decode(_), Err(AudioError::Decode(_))) => err.to_string(),
        (e, p) => panic!("{name}: expected Decode errors, got {e:?} and {p:?}"),
    }
}

#[test]
fn an_empty_file_is_refused() {
    let msg = decode_error("empty.mp3");
    assert!(msg.contains("cannot play this audio"), "{msg}");
    assert!(msg.ends_with("the file is empty"), "{msg}");
}

#[test]
fn garbage_is_refused_as_an_unknown_format() {
    let msg = decode_error("garbage.bin");
    assert!(msg.contains("not a recognised audio format"), "{msg}");
}

#[test]
fn a_truncated_file_is_refused_as_truncated() {
    let msg = decode_error("truncated.wav");
    assert!(msg.contains("file is truncated"), "{msg}");
    assert!(msg.contains("of the 2.00 s"), "{msg}");
}

/// The MP3 fixture (2 s, with the LAME tag ffmpeg writes) with `edit` applied, in a new file.
fn edited_mp3(dir: &Path, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(fixture("tone-44100-stereo.mp3")).unwrap();
    edit(&mut bytes);
    let path = dir.join("edited.mp3");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_cut_short_mp3_plays_what_it_holds() {
    // The controller refuses such a file at upload and a node plays only what matches its
    // SHA-256, so this is an installer's `loa-node play`: the MP3 decoder plays what is there.
    let dir = tempfile::tempdir().unwrap();
    let path = edited_mp3(dir.path(), |b| b.truncate(b.len() * 6 / 10));
    let report = play_null(&path).unwrap();
    let secs = report.frames as f64 / 48_000.0;
    assert!(secs > 1.0 && secs < 1.4, "{secs:.3} s of the 2 s played");
}

#[test]
fn an_mp3_with_damaged_frames_plays_on_around_them() {
    let dir = tempfile::tempdir().unwrap();
    // A run of zeroed bytes in the middle, as a bad sector or a broken download would leave.
    let path = edited_mp3(dir.path(), |b| {
        let mid = b.len() / 2;
        b[mid..mid + 600].fill(0);
    });
    let report = play_null(&path).expect("a few damaged frames are a click, not a failure");
    let secs = report.frames as f64 / 48_000.0;
    // The whole file is 2 s; 600 bytes at 64 kbit/s are 75 ms of it.
    assert!(secs > 1.8 && secs <= 2.01, "{secs:.3} s played");
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let err = probe(&fixture("no-such-file.mp3")).unwrap_err();
    assert!(matches!(err, AudioError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-file.mp3"), "{err}");
}

#[test]
fn the_wav_sink_needs_a_folder() {
    let cfg = AudioConfig {
        sink: SinkKind::Wav,
        ..AudioConfig::default()
    };
    let err = open_sink(&cfg, "x").err().expect("no wav_dir");
    assert!(matches!(err, AudioError::Config(_)), "{err:?}");
    assert!(err.to_string().contains("wav_dir"), "{err}");
}

#[test]
fn the_wav_sink_creates_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AudioConfig {
        sink: SinkKind::Wav,
        wav_dir: Some(dir.path().join("a/b")),
        ..AudioConfig::default()
    };
    let mut sink = open_sink(&cfg, "made").unwrap();
    sink.write(&[0.0; 96]).unwrap();
    sink.finish().unwrap();
    let reader = hound::WavReader::open(dir.path().join("a/b/made.wav")).unwrap();
    assert_eq!(reader.duration(), 48);
}

#[test]
fn the_stop_flag_interrupts_playback() {
    let mut sink = open_sink(&null_config(), "x").unwrap();
    let stop = AtomicBool::new(false);
    // Raise the flag as soon as audio starts, as an emergency preempting it would.
    let report = play(
        &fixture("tone-8000-mono.wav"),
        sink.as_mut(),
        1.0,
        &stop,
        &mut || stop.store(true, Ordering::Relaxed),
    )
    .unwrap();
    assert!(report.interrupted);
    // It fades out over 200 ms rather than cutting: at least that much more, not the whole file.
    assert!(
        report.frames >= 48_000 / 5 && report.frames < 48_000 / 2,
        "{report:?}"
    );
}

#[test]
fn a_raised_stop_flag_plays_nothing() {
    let mut sink = open_sink(&null_config(), "x").unwrap();
    let report = play(
        &fixture("tone-44100-stereo.mp3"),
        sink.as_mut(),
        1.0,
        &AtomicBool::new(true),
        &mut || panic!("nothing should play"),
    )
    .unwrap();
    assert!(report.interrupted);
    assert_eq!(report.frames, 0);
}
