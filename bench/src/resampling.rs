//! `loa-bench resampling`: what a cheaper resampler would give up. For each rate a commune's
//! recordings come in (8, 22.05 and 44.1 kHz, to the 48 kHz a board's output runs at), rubato's
//! resamplers are fed 300 s of a pure tone in stereo, in the node's chunks of 1,024 frames; the
//! table gives each one's CPU and its signal-to-noise ratio: the tone is fitted (amplitude and
//! phase, least squares) in the output, and whatever is left is noise and distortion the
//! resampler added. The first two rows are `FftFixedIn` with one chunk per FFT and with two
//! (shorter FFTs, so a shorter filter: the node's since issue 17); the others are rubato's
//! polynomial (`FastFixedIn`) and windowed-sinc (`SincFixedIn`) resamplers.

use std::f64::consts::PI;

use crate::stats::cpu_secs;
use loa_e2e::pcm::tone_snr_db;
use rubato::{
    calculate_cutoff, FastFixedIn, FftFixedIn, PolynomialDegree, SincFixedIn,
    SincInterpolationParameters, SincInterpolationType, VecResampler, WindowFunction,
};

/// As long as the benchmark's longer files: the process's CPU is counted in 10 ms ticks.
const SECONDS: f64 = 300.0;
const CHUNK: usize = 1024;
const OUT_RATE: usize = 48_000;

pub const HEADER: &str =
    "| resampler | from | tone | SNR dB | CPU s per 300 s stereo |\n|---|---:|---:|---:|---:|";

/// Every candidate on every case, as Markdown rows.
pub fn table() -> anyhow::Result<Vec<String>> {
    let cases = [
        (44_100, 1_000.0),
        (44_100, 7_000.0),
        (22_050, 1_000.0),
        (22_050, 7_000.0),
        (8_000, 1_000.0),
        (8_000, 3_000.0),
    ];
    let mut rows = Vec::new();
    for (rate, tone) in cases {
        for (name, mut resampler) in candidates(rate)? {
            let (snr, cpu) = measure(resampler.as_mut(), rate, tone)?;
            rows.push(format!(
                "| {name} | {:.2} kHz | {tone} Hz | {snr:.1} | {cpu:.3} |",
                rate as f64 / 1000.0
            ));
        }
    }
    Ok(rows)
}

type Candidate = (String, Box<dyn VecResampler<f32>>);

fn candidates(rate: usize) -> anyhow::Result<Vec<Candidate>> {
    let ratio = OUT_RATE as f64 / rate as f64;
    let mut all: Vec<Candidate> = vec![
        (
            "FFT (`FftFixedIn`), 1 sub-chunk".to_owned(),
            Box::new(FftFixedIn::<f32>::new(rate, OUT_RATE, CHUNK, 1, 2)?),
        ),
        (
            "FFT (`FftFixedIn`), 2 sub-chunks".to_owned(),
            Box::new(FftFixedIn::<f32>::new(rate, OUT_RATE, CHUNK, 2, 2)?),
        ),
    ];
    for degree in [
        PolynomialDegree::Linear,
        PolynomialDegree::Cubic,
        PolynomialDegree::Septic,
    ] {
        all.push((
            format!("polynomial, {degree:?}"),
            Box::new(FastFixedIn::<f32>::new(ratio, 1.0, degree, CHUNK, 2)?),
        ));
    }
    for (len, oversampling, interpolation) in [
        (32, 256, SincInterpolationType::Nearest),
        (32, 128, SincInterpolationType::Linear),
    ] {
        let name = format!("sinc {len} taps, {oversampling}× {interpolation:?}");
        let parameters = SincInterpolationParameters {
            sinc_len: len,
            f_cutoff: calculate_cutoff(len, WindowFunction::BlackmanHarris2),
            oversampling_factor: oversampling,
            interpolation,
            window: WindowFunction::BlackmanHarris2,
        };
        all.push((
            name,
            Box::new(SincFixedIn::<f32>::new(ratio, 1.0, parameters, CHUNK, 2)?),
        ));
    }
    Ok(all)
}

/// Resamples a tone; returns its SNR in dB and the CPU seconds the resampling took.
fn measure(r: &mut dyn VecResampler<f32>, rate: usize, tone: f64) -> anyhow::Result<(f64, f64)> {
    let frames = (rate as f64 * SECONDS) as usize;
    let input: Vec<f32> = (0..frames)
        .map(|i| ((2.0 * PI * tone * i as f64 / rate as f64).sin() * 0.5) as f32)
        .collect();
    let planar = vec![vec![0.0f32; CHUNK]; 2];
    let mut wave_in = planar.clone();
    let mut wave_out = r.output_buffer_allocate(true);
    let mut out = Vec::with_capacity(OUT_RATE * SECONDS as usize);
    let started = cpu_secs(std::process::id())?;
    for chunk in input.chunks_exact(CHUNK) {
        for ch in &mut wave_in {
            ch.copy_from_slice(chunk);
        }
        let (_, n) = r.process_into_buffer(&wave_in, &mut wave_out, None)?;
        out.extend_from_slice(&wave_out[0][..n]);
    }
    let cpu = cpu_secs(std::process::id())? - started;
    // Leave out the filter's delay and a second at each end.
    let skip = r.output_delay() + OUT_RATE;
    let out = &out[skip..out.len() - OUT_RATE];
    Ok((tone_snr_db(out, tone, OUT_RATE as f64), cpu))
}
