//! The speaker check through the real ALSA library: the node plays its test signal on a real
//! pcm (ALSA's `file` plugin standing in for the loudspeaker) and listens on a real capture
//! pcm, whose `file` plugin feeds it from a prepared recording (`infile`) standing in for the
//! board's microphone: one where the loudspeaker is heard, one of a dead loudspeaker (room
//! noise only), one where it is heard too weakly (a failing amplifier).
//!
//! alsa-lib reads `$HOME/.asoundrc` once per process, so this file holds a single test that
//! sets `HOME` before anything touches ALSA, with every pcm defined up front.

use std::path::Path;

use loa_e2e::alsa::{capture_pcm, CAPTURE_PCM};
use loa_node::audio::{AudioConfig, SinkKind};
use loa_node::speaker::{self, signal, SpeakerCheckConfig};

const RATE: u32 = 48_000;

/// Four seconds the microphone "hears": room noise at `noise_db`, and the test signal at
/// `signal_db` (if any) from half a second in. Raw S16_LE mono.
fn recording(path: &Path, signal_db: Option<f32>, noise_db: f32) {
    let mut samples = vec![0f32; RATE as usize * 4];
    let amp = signal::gain_of_db(noise_db) * 3f32.sqrt();
    let mut s: u32 = 7;
    for v in samples.iter_mut() {
        s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        *v = amp * ((s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0);
    }
    if let Some(db) = signal_db {
        for (i, v) in signal::sweep(RATE, db).into_iter().enumerate() {
            samples[RATE as usize / 2 + i] += v;
        }
    }
    let bytes: Vec<u8> = samples
        .iter()
        .flat_map(|v| ((v.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())
        .collect();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn the_check_passes_when_the_loudspeaker_is_heard_and_fails_when_silent_or_too_weak() {
    let home = tempfile::tempdir().unwrap();
    let played = home.path().join("played.wav");
    let mut conf = capture_pcm(CAPTURE_PCM, &played).unwrap();
    let cases = [
        ("loa_mic_heard", Some(-30.0), -65.0),
        ("loa_mic_dead", None, -50.0),
        ("loa_mic_weak", Some(-75.0), -95.0),
    ];
    for (name, signal_db, noise_db) in cases {
        let raw = home.path().join(format!("{name}.raw"));
        recording(&raw, signal_db, noise_db);
        conf.push_str(&loa_e2e::alsa::input_pcm(name, &raw).unwrap());
    }
    std::fs::write(home.path().join(".asoundrc"), conf).unwrap();
    // Edition 2021, one test in this process: nothing else reads the environment meanwhile.
    std::env::set_var("HOME", home.path());

    let inputs = speaker::capture::device_names().unwrap();
    assert!(
        inputs.iter().any(|d| d == "loa_mic_heard"),
        "the microphones are listed: {inputs:?}"
    );
    let audio = AudioConfig {
        sink: SinkKind::Cpal,
        device: Some(CAPTURE_PCM.to_owned()),
        ..AudioConfig::default()
    };
    let check = |mic: &str| {
        let cfg = SpeakerCheckConfig {
            capture_device: mic.to_owned(),
            daily_at: "03:30".into(),
            utc_offset_hours: 7,
            signal_db: -24.0,
            min_level_db: -55.0,
        };
        speaker::check(&audio, &cfg)
    };

    let heard = check("loa_mic_heard");
    assert!(heard.passed, "{heard:?}");
    let level = heard.level_db.unwrap();
    // A sweep peaking at -30 dBFS has an RMS of about -33 dBFS.
    assert!((-35.0..=-31.0).contains(&level), "{heard:?}");
    // And the node did play its signal on the output: a second of sweep between silences.
    let out = loa_e2e::pcm::read(&played).unwrap();
    assert!(
        out.frames() >= RATE as usize,
        "{} frames played",
        out.frames()
    );
    let peak = out
        .samples
        .iter()
        .map(|s| s.unsigned_abs())
        .max()
        .unwrap_or(0);
    let peak = f32::from(peak) / 32767.0;
    let expected = signal::gain_of_db(-24.0);
    assert!(
        (peak - expected).abs() < 0.01,
        "peak {peak}, sent at {expected}"
    );

    let dead = check("loa_mic_dead");
    assert!(!dead.passed, "{dead:?}");
    assert!(dead.detail.contains("not heard"), "{dead:?}");

    let weak = check("loa_mic_weak");
    assert!(!weak.passed, "{weak:?}");
    assert!(weak.detail.contains("too weakly"), "{weak:?}");
    assert!(weak.level_db.unwrap() < -70.0, "{weak:?}");

    let missing = check("loa_no_such_microphone");
    assert!(!missing.passed);
    assert!(
        missing.detail.contains("loa_mic_heard"),
        "lists what exists: {missing:?}"
    );
}
