//! Fuzzing CAP alerts: any text through the controller's CAP 1.2 reader (`cap::parse`), what
//! it accepts decided against a few stations (`cap::decide`), and the same text read as a
//! feed (`ops::cap_feed::read_feed`).

use chrono::{Duration, TimeZone, Utc};
use loa_controller::cap::decide::chosen_info;
use loa_controller::cap::{decide, parse, priority_of, Decision, Station, World};
use loa_controller::ops::cap_feed::read_feed;

/// Stations in two Vietnamese villages and one in California (the specification's examples).
fn stations() -> Vec<Station> {
    [
        ("ban-khe-1", 21.020, 105.010),
        ("na-lua-1", 21.060, 105.010),
        ("alpine-1", 38.48, -119.93),
    ]
    .into_iter()
    .map(|(id, latitude, longitude)| Station {
        node_id: id.into(),
        latitude,
        longitude,
    })
    .collect()
}

/// A CAP message (UTF-8 text): parsed; when accepted, decided, and the decision checked.
pub fn cap_alert(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = read_feed(text);
    let Ok(alert) = parse(text) else {
        return;
    };
    let stations = stations();
    let now = Utc.with_ymd_and_hms(2026, 9, 14, 0, 0, 0).unwrap();
    let world = World {
        now,
        stations: &stations,
        duplicate: false,
        referenced: vec![1],
        default_expiry: Duration::minutes(60),
    };
    match decide(&alert, &world) {
        Decision::Play {
            info,
            priority,
            nodes,
            expires,
            ..
        } => {
            let (chosen, i) = chosen_info(&alert).expect("played from an info block");
            assert_eq!(info, chosen);
            assert_eq!(priority, priority_of(i.severity, i.urgency));
            assert!(!nodes.is_empty(), "played on no station");
            assert!(nodes
                .iter()
                .all(|n| stations.iter().any(|s| &s.node_id == n)));
            assert!(expires > now, "played though expired at {expires}");
        }
        Decision::Refuse { duplicate, .. } => assert!(!duplicate, "no duplicate was said"),
        Decision::Cancel { occurrences, .. } => assert_eq!(occurrences, vec![1]),
        Decision::Record { .. } => {}
    }
    let again = World {
        duplicate: true,
        ..world
    };
    assert!(matches!(
        decide(&alert, &again),
        Decision::Refuse {
            duplicate: true,
            ..
        }
    ));
}
