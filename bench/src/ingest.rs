//! The controller swallowing a burst: every node playing one broadcast at once sends its
//! `playing`, part and `played` events together. How fast were they stored, and how far
//! behind the node's own time (the backlog)?

use chrono::{DateTime, Utc};

use crate::site::Site;
use crate::stats::percentile;

/// Events stored since `t0`: a Markdown line of their rate and lag.
pub async fn burst(
    site: &Site,
    t0: DateTime<Utc>,
    controller_cpu_secs: f64,
) -> anyhow::Result<String> {
    let events = site.db.events_between(t0, Utc::now()).await?;
    anyhow::ensure!(!events.is_empty(), "no event stored since {t0}");
    let first = events.iter().map(|e| e.0).min().unwrap_or(t0);
    let last = events.iter().map(|e| e.0).max().unwrap_or(t0);
    let span = (last - first).num_milliseconds().max(1) as f64 / 1e3;
    let lags: Vec<f64> = events.iter().map(|e| e.1).collect();
    Ok(format!(
        "Burst of one broadcast played by {} nodes: {} events stored in {span:.1} s \
         ({:.0} events/s); lag from the node's event to the controller's record \
         p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms. The controller used {:.2} cores from the broadcast until \
         all was stored.",
        site.nodes,
        events.len(),
        events.len() as f64 / span,
        percentile(&lags, 50.0),
        percentile(&lags, 99.0),
        percentile(&lags, 100.0),
        controller_cpu_secs / ((Utc::now() - t0).num_milliseconds().max(1) as f64 / 1e3),
    ))
}
