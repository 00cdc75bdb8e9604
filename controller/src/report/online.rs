//! Online time from a node's presence history: the intervals it was online, clipped to a
//! window. Pure; the history comes from the `presence_log` table (`store::report`).

use chrono::{DateTime, Utc};

/// One change of a node's presence, at the controller's receive time: `true` for online.
pub type Change = (DateTime<Utc>, bool);

/// Milliseconds the node was online within `[from, to)`.
///
/// `history` is in time order and may start before `from`: the last change before `from`
/// says how the node stood at `from` (online then counts from `from`). Before its first
/// change a node is not online. An interval still open at `to` ends there, so a window that
/// ends at "now" ends an open interval now.
pub fn online_ms(history: &[Change], from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    if to <= from {
        return 0;
    }
    let mut total = 0;
    let mut online = false;
    let mut since = from;
    for &(at, now_online) in history {
        if at >= to {
            break;
        }
        let at = at.max(from);
        if online {
            total += (at - since).num_milliseconds();
        }
        since = at;
        online = now_online;
    }
    if online {
        total += (to - since).num_milliseconds();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Hours after midnight UTC on a fixed day.
    fn h(hours: f64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()
            + chrono::Duration::milliseconds((hours * 3_600_000.0) as i64)
    }

    #[test]
    fn online_time_table() {
        const HOUR: i64 = 3_600_000;
        // (case, history, window from, window to, online milliseconds)
        let cases: &[(&str, &[Change], f64, f64, i64)] = &[
            ("no history: never online", &[], 0.0, 24.0, 0),
            ("online all along", &[(h(-5.0), true)], 0.0, 24.0, 24 * HOUR),
            (
                "offline before the window",
                &[(h(-5.0), true), (h(-1.0), false)],
                0.0,
                24.0,
                0,
            ),
            (
                "online inside",
                &[(h(2.0), true), (h(5.0), false)],
                0.0,
                24.0,
                3 * HOUR,
            ),
            (
                "online at the start counts from the start",
                &[(h(-3.0), true), (h(4.0), false)],
                0.0,
                24.0,
                4 * HOUR,
            ),
            (
                "an open interval ends at the window's end",
                &[(h(20.0), true)],
                0.0,
                24.0,
                4 * HOUR,
            ),
            (
                "the window ends now: open until now",
                &[(h(-1.0), true), (h(1.0), false), (h(3.0), true)],
                0.0,
                10.0,
                HOUR + 7 * HOUR,
            ),
            (
                "changes after the window are ignored",
                &[(h(1.0), true), (h(30.0), false)],
                0.0,
                24.0,
                23 * HOUR,
            ),
            (
                "several intervals",
                &[
                    (h(1.0), true),
                    (h(2.0), false),
                    (h(3.0), true),
                    (h(3.5), false),
                    (h(23.0), true),
                ],
                0.0,
                24.0,
                HOUR + HOUR / 2 + HOUR,
            ),
            (
                "two onlines in a row count once",
                &[(h(1.0), true), (h(2.0), true), (h(4.0), false)],
                0.0,
                24.0,
                3 * HOUR,
            ),
            ("an empty window", &[(h(-1.0), true)], 5.0, 5.0, 0),
            ("a window backwards", &[(h(-1.0), true)], 6.0, 5.0, 0),
        ];
        for (name, history, from, to, want) in cases {
            assert_eq!(online_ms(history, h(*from), h(*to)), *want, "{name}");
        }
    }
}
