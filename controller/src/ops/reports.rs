//! The delivery report per village for a period of local dates, over the villages an account
//! may see. Shared by the API (JSON and CSV) and the report page.

use super::{App, Kind, OpError};
use crate::auth::Actor;
use crate::report::{village_tallies, Period, Report};

/// The report for `from`..=`to` (local dates; today when absent) over the villages `actor`
/// may see. Shared with the report page.
pub async fn build(
    s: &App,
    actor: &Actor,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Report, OpError> {
    // The controller's clock: it says what "today" is and ends the online time of today.
    let now = s.clock.now();
    let today = now.with_timezone(&s.tz).date_naive();
    let period = Period::parse(from, to, today, s.tz)
        .map_err(|e| OpError::new(Kind::Invalid, e.code(), e.to_string()))?;
    let facts = s.store.report_facts(period.start, period.end).await?;
    let mut rows = Vec::new();
    for (zone, tally) in village_tallies(&facts, &period, now) {
        if actor.sees_zone(&s.store, zone.id).await? {
            rows.push((zone, tally));
        }
    }
    Ok(Report::new(&period, s.tz, now, &rows))
}
