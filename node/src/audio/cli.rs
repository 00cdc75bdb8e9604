//! The installer's tools: `loa-node play FILE` (hear a file on the configured output) and
//! `loa-node devices` (list the names `audio.device` accepts).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use anyhow::{bail, Context as _};

use super::decode::Decoder;
use super::{open_sink_at, play, sink_cpal, volume_to_gain, AudioConfig, PlayReport, SinkKind};

/// Plays `path` on the output `cfg` describes at `volume` percent, printing what it does.
pub fn play_file(path: &Path, cfg: &AudioConfig, volume: u8) -> anyhow::Result<PlayReport> {
    if volume > 100 {
        bail!("volume must be 0 to 100 (percent), not {volume}");
    }
    let source = Decoder::open(path).with_context(|| path.display().to_string())?;
    let label = path
        .file_stem()
        .map_or_else(|| "play".to_owned(), |s| s.to_string_lossy().into_owned());
    let output = match cfg.sink {
        SinkKind::Cpal => format!(
            "audio device {}",
            cfg.device.as_deref().unwrap_or("default")
        ),
        SinkKind::Wav => format!(
            "{}",
            cfg.wav_dir
                .as_deref()
                .unwrap_or(Path::new("?"))
                .join(format!("{label}.wav"))
                .display()
        ),
        SinkKind::Null => "the null output".to_owned(),
    };
    // The error names the device or the file already.
    let mut sink = open_sink_at(cfg, &label, Some(source.rate()))?;
    println!(
        "playing {} ({}, {} Hz, {} ch) on {output} ({} Hz, {} ch) at volume {volume} %",
        path.display(),
        source.codec(),
        source.rate(),
        source.channels(),
        sink.rate(),
        sink.channels(),
    );
    drop(source);
    let stop = AtomicBool::new(false);
    let report = play(
        path,
        sink.as_mut(),
        volume_to_gain(volume),
        &stop,
        &mut || {},
    )
    .with_context(|| format!("playing {} on {output}", path.display()))?;
    println!(
        "played {:.2} s",
        report.frames as f64 / f64::from(sink.rate())
    );
    Ok(report)
}

/// The ALSA output devices cpal sees, by the name `audio.device` takes.
pub fn list_devices() -> anyhow::Result<Vec<String>> {
    sink_cpal::output_device_names()
        .map_err(anyhow::Error::msg)
        .context("cannot list the audio output devices")
}
