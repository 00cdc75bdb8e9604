//! An item's parts played as one: a chime, then each language's recording, with a pause
//! between them; an item stopped part-way says where, and resumes from there. Tones of a
//! different pitch stand for each part so the output shows their order; the wav sink records
//! what the device would have played.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use loa_e2e::pcm::{self, write_tone, Segment};
use loa_node::audio::{
    native_rate, open_sink, play_item, AudioConfig, AudioError, ItemReport, Position, Sink,
    SinkKind, Track,
};

const GAP_MS: u64 = 400;

/// Chime 1320 Hz 0.5 s, Vietnamese 440 Hz 1 s (22.05 kHz mono), H'Mông 660 Hz 1 s (44.1 kHz
/// stereo): sources at different rates and layouts, as real uploads are.
fn parts(dir: &Path) -> Vec<Track> {
    let specs = [
        ("chime.wav", 1320.0, 0.5, 48_000, 2),
        ("vi.wav", 440.0, 1.0, 22_050, 1),
        ("hmn.wav", 660.0, 1.0, 44_100, 2),
    ];
    specs
        .iter()
        .map(|&(name, hz, secs, rate, ch)| {
            let path = dir.join(name);
            write_tone(&path, hz, secs, rate, ch).unwrap();
            Track { path, gain: 1.0 }
        })
        .collect()
}

fn wav_config(dir: &Path) -> AudioConfig {
    AudioConfig {
        sink: SinkKind::Wav,
        wav_dir: Some(dir.to_owned()),
        ..AudioConfig::default()
    }
}

/// Wraps a sink and sets `stop` once `after` frames went through: an emergency arriving at a
/// known point of the item, without depending on how fast this machine decodes.
struct StopAfter {
    inner: Box<dyn Sink>,
    after: u64,
    frames: u64,
    stop: Arc<AtomicBool>,
}

impl Sink for StopAfter {
    fn rate(&self) -> u32 {
        self.inner.rate()
    }
    fn channels(&self) -> u16 {
        self.inner.channels()
    }
    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.inner.write(samples)?;
        self.frames += (samples.len() / usize::from(self.channels())) as u64;
        if self.frames >= self.after {
            self.stop.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), AudioError> {
        self.inner.finish()
    }
}

fn play(
    tracks: &[Track],
    from: Position,
    sink: &mut dyn Sink,
    stop: &AtomicBool,
) -> (ItemReport, Vec<usize>, u32) {
    let (mut firsts, mut done) = (0, Vec::new());
    let report = play_item(
        tracks,
        from,
        GAP_MS,
        sink,
        stop,
        &mut || {},
        &mut || firsts += 1,
        &mut |i| done.push(i),
    )
    .unwrap();
    (report, done, firsts)
}

fn close_to(got: f64, want: f64, tolerance: f64) -> bool {
    (got - want).abs() <= tolerance
}

fn assert_tones(segs: &[Segment], want: &[(f64, f64)]) {
    assert_eq!(segs.len(), want.len(), "{segs:?}");
    for (s, &(hz, secs)) in segs.iter().zip(want) {
        assert!(close_to(s.hz, hz, hz * 0.02), "{hz} Hz expected: {segs:?}");
        assert!(close_to(s.secs, secs, 0.02), "{secs} s expected: {segs:?}");
    }
}

fn out(dir: &Path, label: &str) -> PathBuf {
    dir.join(format!("{label}.wav"))
}

#[test]
fn the_parts_play_in_order_with_a_pause_between_them() {
    let dir = tempfile::tempdir().unwrap();
    let tracks = parts(dir.path());
    let mut sink = open_sink(&wav_config(dir.path()), "item").unwrap();
    let (report, done, firsts) = play(
        &tracks,
        Position::default(),
        sink.as_mut(),
        &AtomicBool::new(false),
    );
    drop(sink);
    assert_eq!(report.stopped_at, None);
    assert_eq!(done, [0, 1, 2], "each part reported once, in order");
    assert_eq!(firsts, 1, "one first frame for the whole item");

    let pcm = pcm::read(&out(dir.path(), "item")).unwrap();
    let segs = pcm.segments(0.2);
    assert_tones(&segs, &[(1320.0, 0.5), (440.0, 1.0), (660.0, 1.0)]);
    for pair in segs.windows(2) {
        let gap = pair[1].start_secs - (pair[0].start_secs + pair[0].secs);
        assert!(close_to(gap, 0.4, 0.02), "pause of {gap:.3} s: {segs:?}");
    }
    assert!(close_to(pcm.secs(), 0.5 + 1.0 + 1.0 + 0.8, 0.02));
}

#[test]
fn an_item_stopped_part_way_resumes_where_it_was_cut() {
    let dir = tempfile::tempdir().unwrap();
    let tracks = parts(dir.path());
    // Cut 0.6 s into the Vietnamese part: 0.5 s chime + 0.4 s pause + 0.6 s.
    let stop = Arc::new(AtomicBool::new(false));
    let mut sink = StopAfter {
        inner: open_sink(&wav_config(dir.path()), "cut").unwrap(),
        after: 48_000 * 15 / 10,
        frames: 0,
        stop: stop.clone(),
    };
    let (report, done, _) = play(&tracks, Position::default(), &mut sink, &stop);
    drop(sink);
    let at = report.stopped_at.expect("stopped");
    assert_eq!(at.part, 1);
    // The sink sets the flag after a whole chunk, and the fade-out (200 ms) still plays.
    assert!((600..=900).contains(&at.ms), "cut at {at:?}");
    assert_eq!(done, [0], "only the chime finished");

    let mut sink = open_sink(&wav_config(dir.path()), "rest").unwrap();
    let (report, done, firsts) = play(&tracks, at, sink.as_mut(), &AtomicBool::new(false));
    drop(sink);
    assert_eq!((report.stopped_at, firsts), (None, 1));
    assert_eq!(done, [1, 2]);
    let rest = pcm::read(&out(dir.path(), "rest")).unwrap().segments(0.2);
    let left_of_vi = 1.0 - at.ms as f64 / 1000.0;
    assert_tones(&rest, &[(440.0, left_of_vi), (660.0, 1.0)]);
    assert!(
        rest[0].start_secs < 0.01,
        "no chime, no pause before: {rest:?}"
    );
}

#[test]
fn a_stop_during_the_pause_resumes_at_the_next_part() {
    let dir = tempfile::tempdir().unwrap();
    let tracks = parts(dir.path());
    let stop = Arc::new(AtomicBool::new(false));
    // 0.5 s chime then 0.1 s into the pause.
    let mut sink = StopAfter {
        inner: open_sink(&wav_config(dir.path()), "pause").unwrap(),
        after: 48_000 * 6 / 10,
        frames: 0,
        stop: stop.clone(),
    };
    let (report, done, _) = play(&tracks, Position::default(), &mut sink, &stop);
    assert_eq!(report.stopped_at, Some(Position { part: 1, ms: 0 }));
    assert_eq!(done, [0]);
}

/// Counts the writes that reach the sink.
struct CountWrites {
    inner: Box<dyn Sink>,
    writes: Arc<AtomicUsize>,
}

impl Sink for CountWrites {
    fn rate(&self) -> u32 {
        self.inner.rate()
    }
    fn channels(&self) -> u16 {
        self.inner.channels()
    }
    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.write(samples)
    }
    fn finish(&mut self) -> Result<(), AudioError> {
        self.inner.finish()
    }
}

/// The runner waits for the item's instant in the hold: the file is open and its first
/// samples resampled by then, so only the write is left at the instant. A stop during the
/// hold puts nothing on air.
#[test]
fn the_hold_comes_after_decoding_and_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let tracks = parts(dir.path());
    for stop_in_hold in [false, true] {
        let writes = Arc::new(AtomicUsize::new(0));
        let mut sink = CountWrites {
            inner: open_sink(&wav_config(dir.path()), &format!("hold-{stop_in_hold}")).unwrap(),
            writes: writes.clone(),
        };
        let stop = AtomicBool::new(false);
        let (mut holds, mut written_at_hold, mut firsts) = (0, None, 0);
        let report = play_item(
            &tracks,
            Position { part: 0, ms: 0 },
            GAP_MS,
            &mut sink,
            &stop,
            &mut || {
                holds += 1;
                written_at_hold = Some(writes.load(Ordering::Relaxed));
                stop.store(stop_in_hold, Ordering::Relaxed);
            },
            &mut || firsts += 1,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(
            (holds, written_at_hold),
            (1, Some(0)),
            "stop: {stop_in_hold}"
        );
        if stop_in_hold {
            assert_eq!(writes.load(Ordering::Relaxed), 0, "nothing on air");
            assert_eq!(firsts, 0);
            assert_eq!(report.stopped_at, Some(Position { part: 0, ms: 0 }));
        } else {
            assert!(writes.load(Ordering::Relaxed) > 1);
            assert_eq!((firsts, report.stopped_at), (1, None));
        }
    }
}

#[test]
fn an_item_opens_the_output_at_the_rate_most_of_its_audio_has() {
    let dir = tempfile::tempdir().unwrap();
    let all = parts(dir.path());
    // Chime 48 kHz, Vietnamese 22.05 kHz, H'Mông 44.1 kHz: a three-way tie goes to the last
    // part, an announcement rather than the chime.
    assert_eq!(native_rate(&all), Some(44_100));
    assert_eq!(native_rate(&all[..2]), Some(22_050));
    // Two parts at 22.05 kHz outnumber the one at 44.1 kHz, wherever they stand.
    let extra = dir.path().join("vi-2.wav");
    write_tone(&extra, 550.0, 0.5, 22_050, 1).unwrap();
    let mut more = all.clone();
    more.insert(
        0,
        Track {
            path: extra,
            gain: 1.0,
        },
    );
    assert_eq!(native_rate(&more), Some(22_050));
    // A part that does not open does not count; with none, nothing is asked of the device.
    let broken = dir.path().join("broken.wav");
    std::fs::write(&broken, b"not audio").unwrap();
    let with_broken = vec![
        all[1].clone(),
        Track {
            path: broken.clone(),
            gain: 1.0,
        },
    ];
    assert_eq!(native_rate(&with_broken), Some(22_050));
    assert_eq!(
        native_rate(&[Track {
            path: broken,
            gain: 1.0
        }]),
        None
    );
}
