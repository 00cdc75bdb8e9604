//! A commune's worst minute: an emergency broadcast from the API call to the first audio frame
//! at 95 % of the nodes, with its media already cached and with 100 KB not yet fetched; and
//! the start error of a scheduled broadcast across nodes (p50, p99), as the nodes report it.

use chrono::{DateTime, Utc};
use serde_json::json;
use std::time::Duration;

use crate::fanout::wait_count;
use crate::site::Site;
use crate::stats::percentile;

/// Milliseconds from `t0` to the first frame at 95 % of the broadcast's nodes.
async fn time_to_95(site: &Site, id: i64, t0: DateTime<Utc>) -> anyhow::Result<f64> {
    let n95 = (site.nodes * 95).div_ceil(100);
    wait_count(site, id, "playing_at", n95, Duration::from_secs(120)).await?;
    let mut ms: Vec<f64> = site
        .db
        .deliveries(id)
        .await?
        .iter()
        .filter_map(|d| d.playing_at)
        .map(|p| (p - t0).num_microseconds().unwrap_or(0) as f64 / 1e3)
        .collect();
    ms.sort_by(f64::total_cmp);
    Ok(ms[n95 - 1])
}

/// One emergency broadcast of `announcement` to every node; waits until all have played it.
pub async fn emergency(site: &Site, announcement: i64) -> anyhow::Result<f64> {
    site.settle(Duration::from_secs(120)).await?;
    let t0 = Utc::now();
    let id = site
        .api
        .broadcast(
            json!({"announcement_id": announcement, "zones": [site.root_zone],
                          "priority": "emergency", "chime": false}),
        )
        .await?;
    let ms = time_to_95(site, id, t0).await?;
    wait_count(site, id, "played_at", site.nodes, Duration::from_secs(120)).await?;
    Ok(ms)
}

/// A broadcast `lead` ahead; returns every node's reported start error in ms.
pub async fn start_errors(
    site: &Site,
    announcement: i64,
    lead: Duration,
) -> anyhow::Result<Vec<f64>> {
    site.settle(Duration::from_secs(120)).await?;
    let at = Utc::now() + chrono::Duration::from_std(lead)?;
    let id = site
        .api
        .broadcast(
            json!({"announcement_id": announcement, "zones": [site.root_zone],
                          "at": at.to_rfc3339(), "chime": false}),
        )
        .await?;
    wait_count(
        site,
        id,
        "played_at",
        site.nodes,
        lead + Duration::from_secs(120),
    )
    .await?;
    Ok(site
        .db
        .deliveries(id)
        .await?
        .iter()
        .filter_map(|d| d.start_error_ms)
        .map(|e| e as f64)
        .collect())
}

/// A WAV of `bytes` bytes of noise (8 kHz mono 16-bit), different for every `seed`, so its
/// media is new to every node.
pub fn noise_wav(bytes: usize, seed: u64) -> anyhow::Result<Vec<u8>> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec)?;
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for _ in 0..(bytes.saturating_sub(44) / 2) {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        w.write_sample(((x >> 48) as i16) / 8)?;
    }
    w.finalize()?;
    Ok(out.into_inner())
}

/// p50 and p99 of a list.
pub fn p50_p99(v: &[f64]) -> (f64, f64) {
    (percentile(v, 50.0), percentile(v, 99.0))
}
