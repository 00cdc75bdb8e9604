//! The zone tree as admins change it beyond adding and renaming: removing a zone, only when
//! it is empty, with a refusal that names what still uses it. Shared by the API and the zones
//! page.

use super::{App, OpError};

/// Removes a zone with nothing under it and no history: no zones below, no loudspeakers
/// (decommissioned ones included), no schedules, no broadcasts, no accounts limited to it.
pub async fn remove_zone(s: &App, id: i64) -> Result<(), OpError> {
    let zone = s.store.zone(id).await?;
    let u = s.store.zone_uses(id).await?;
    let mut why = Vec::new();
    for (n, what) in [
        (u.children, "zone(s) below it"),
        (u.nodes, "loudspeaker(s), decommissioned ones included"),
        (u.schedules, "schedule(s) targeting it"),
        (u.broadcasts, "broadcast(s) in its history"),
        (u.accounts, "account(s) limited to it"),
    ] {
        if n > 0 {
            why.push(format!("{n} {what}"));
        }
    }
    if !why.is_empty() {
        return Err(OpError::conflict(
            "zone.not_empty",
            format!("{} has {}", zone.name, why.join(", ")),
        ));
    }
    s.store.delete_zone(id).await?;
    tracing::info!(zone = id, name = %zone.name, "zone removed");
    Ok(())
}
