//! Stations connected ahead of their slot and kept up through it: a relay that waited for its
//! first village would start with the station's connection, its first bytes and the backlog's
//! 300 ms after the slot. Every second this looks for airings of a station's relay that are on
//! air or start within [`AHEAD`], starts that relay if it is not running, and keeps it up a
//! little longer whoever listens: the villages hear the station from their first frame, and a
//! relay handed to Icecast (whose listeners the controller does not see) runs its whole
//! window. After the window it lingers (`[relay] linger_secs`) as any relay does.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Hub;
use crate::clock::SharedClock;

/// How long before a slot the station is connected.
pub const AHEAD: Duration = Duration::from_secs(5);

/// Runs until `stop`.
pub async fn run(hub: Arc<Hub>, clock: SharedClock, stop: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = clock.now();
        let due = match hub
            .store
            .stations_airing(now, now + chrono::Duration::from_std(AHEAD).expect("small"))
            .await
        {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the relays due");
                continue;
            }
        };
        for source in due {
            // Two ticks of keeping: a missed tick does not let it go.
            if hub.keep(source.id, chrono::Utc::now() + chrono::Duration::seconds(2)) {
                continue;
            }
            match hub.listen(&source) {
                // Dropped at once: the relay runs on, lingering for the villages.
                Ok(_) => {
                    hub.keep(source.id, chrono::Utc::now() + chrono::Duration::seconds(2));
                    tracing::info!(source = source.id, name = %source.name, "a relay is due: the station is connected ahead of its slot")
                }
                Err(e) => tracing::error!(source = source.id, error = %e, "cannot start a relay"),
            }
        }
    }
}
