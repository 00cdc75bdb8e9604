//! The decision table, on the specification's examples and the Vietnamese flood warning.

use chrono::{DateTime, Duration, Utc};
use loa_protocol::Priority;

use super::decide::{chosen_info, decide, priority_of, Decision, Station, World};
use super::model::{Severity, Urgency};
use super::parse::parse;
use super::parse_tests::{AMBER, EARTHQUAKE, FLOOD_VI, HOMELAND, THUNDERSTORM};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn station(id: &str, latitude: f64, longitude: f64) -> Station {
    Station {
        node_id: id.into(),
        latitude,
        longitude,
    }
}

/// Two villages: Bản Khe inside the flood polygon, Nà Lừa 3 km north of it; one station inside
/// the thunderstorm's polygon in California, one near Brawley (the earthquake's centre).
fn stations() -> Vec<Station> {
    vec![
        station("ban-khe-1", 21.020, 105.010),
        station("ban-khe-2", 21.015, 105.005),
        station("na-lua-1", 21.060, 105.010),
        station("alpine-1", 38.48, -119.93),
        station("brawley-1", 32.9525, -115.5527),
    ]
}

fn world<'a>(now: &str, stations: &'a [Station]) -> World<'a> {
    World {
        now: at(now),
        stations,
        duplicate: false,
        referenced: Vec::new(),
        default_expiry: Duration::minutes(60),
    }
}

#[test]
fn the_priority_table() {
    use Severity::{Extreme, Minor, Moderate, Severe};
    use Urgency::{Expected, Future, Immediate, Past};
    for (s, u, p) in [
        (Extreme, Immediate, Priority::Emergency),
        (Extreme, Expected, Priority::Emergency),
        (Severe, Immediate, Priority::Emergency),
        (Severe, Expected, Priority::Emergency),
        (Severe, Future, Priority::Priority),
        (Extreme, Past, Priority::Priority),
        (Moderate, Immediate, Priority::Priority),
        (Minor, Immediate, Priority::Priority),
        (Minor, Future, Priority::Priority),
        (Severity::Unknown, Past, Priority::Priority),
        (Severe, Urgency::Unknown, Priority::Priority),
    ] {
        assert_eq!(priority_of(s, u), p, "{s:?} {u:?}");
    }
}

#[test]
fn the_flood_warning_plays_on_the_one_villages_stations_in_vietnamese() {
    let st = stations();
    let a = parse(FLOOD_VI).unwrap();
    assert_eq!(chosen_info(&a).unwrap().0, 1, "the vi-VN block");
    match decide(&a, &world("2026-09-14T05:31:00+07:00", &st)) {
        Decision::Play {
            info,
            priority,
            nodes,
            expires,
            replaces,
            ..
        } => {
            assert_eq!(info, 1);
            assert_eq!(priority, Priority::Emergency);
            assert_eq!(nodes, vec!["ban-khe-1", "ban-khe-2"]);
            assert_eq!(expires, at("2030-09-14T11:30:00+07:00"));
            assert!(replaces.is_empty());
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn the_spec_examples_where_stations_stand_and_where_none_do() {
    let st = stations();
    // The thunderstorm, decided while it is live (its expiry is 16:00 PDT).
    let t = parse(THUNDERSTORM).unwrap();
    match decide(&t, &world("2003-06-17T15:00:00-07:00", &st)) {
        Decision::Play {
            nodes, priority, ..
        } => {
            assert_eq!(nodes, vec!["alpine-1"]);
            assert_eq!(priority, Priority::Emergency);
        }
        d => panic!("{d:?}"),
    }
    // The same alert with no station in California.
    let vn: Vec<Station> = st.iter().filter(|s| s.latitude < 22.0).cloned().collect();
    let d = decide(&t, &world("2003-06-17T15:00:00-07:00", &vn));
    assert!(
        matches!(
            d,
            Decision::Refuse {
                duplicate: false,
                ..
            }
        ),
        "{d:?}"
    );
    assert!(
        d.why().starts_with("no station inside the area"),
        "{}",
        d.why()
    );
    // Homeland security and AMBER: an area with no shape, so no station can be inside.
    for xml in [HOMELAND, AMBER] {
        let d = decide(
            &parse(xml).unwrap(),
            &world("2003-06-11T23:00:00-07:00", &st),
        );
        assert!(d.why().starts_with("no station inside the area"), "{d:?}");
    }
    // The earthquake: an Update of an alert never taken here, a 0 km circle on a station;
    // Minor and Past, so priority (and the reason says why).
    match decide(
        &parse(EARTHQUAKE).unwrap(),
        &world("2003-06-11T21:00:00-07:00", &st),
    ) {
        Decision::Play {
            nodes,
            priority,
            replaces,
            expires,
            why,
            ..
        } => {
            assert_eq!(nodes, vec!["brawley-1"]);
            assert_eq!(priority, Priority::Priority);
            assert!(replaces.is_empty());
            assert_eq!(
                expires,
                at("2003-06-11T22:00:00-07:00"),
                "the default expiry"
            );
            assert!(why.contains("not Extreme/Severe"), "{why}");
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn update_replaces_and_cancel_cancels_what_the_references_made() {
    let st = stations();
    let mut w = world("2003-06-11T21:00:00-07:00", &st);
    w.referenced = vec![7];
    match decide(&parse(EARTHQUAKE).unwrap(), &w) {
        Decision::Play { replaces, why, .. } => {
            assert_eq!(replaces, vec![7]);
            assert!(why.contains("replaces broadcast(s) 7"), "{why}");
        }
        d => panic!("{d:?}"),
    }
    let cancel = EARTHQUAKE.replace("<msgType>Update</msgType>", "<msgType>Cancel</msgType>");
    let a = parse(&cancel).unwrap();
    assert_eq!(
        decide(&a, &w),
        Decision::Cancel {
            occurrences: vec![7],
            why: "Cancel: the deliveries not yet played of broadcast(s) 7 are cancelled".into()
        }
    );
    w.referenced.clear();
    assert_eq!(decide(&a, &w).kind(), "recorded");
}

#[test]
fn what_is_recorded_and_not_played() {
    let st = stations();
    let live = "2026-09-14T05:31:00+07:00";
    let cases = [
        (
            FLOOD_VI.replace("2030-09-14T11:30", "2026-09-14T05:00"),
            "expired at",
        ),
        (
            FLOOD_VI.replace("<status>Actual", "<status>Test"),
            "status Test",
        ),
        (
            FLOOD_VI.replace("<status>Actual", "<status>Exercise"),
            "status Exercise",
        ),
        (
            FLOOD_VI.replace("<status>Actual", "<status>Draft"),
            "status Draft",
        ),
        (
            FLOOD_VI.replace("<status>Actual", "<status>System"),
            "status System",
        ),
        (
            FLOOD_VI.replace("<msgType>Alert", "<msgType>Ack"),
            "msgType Ack",
        ),
        (
            FLOOD_VI.replace("<msgType>Alert", "<msgType>Error"),
            "msgType Error",
        ),
    ];
    for (xml, why) in cases {
        let d = decide(&parse(&xml).unwrap(), &world(live, &st));
        assert_eq!(d.kind(), "recorded", "{why}: {d:?}");
        assert!(d.why().starts_with(why), "{why}: {}", d.why());
    }
}

#[test]
fn a_duplicate_is_refused() {
    let st = stations();
    let mut w = world("2026-09-14T05:31:00+07:00", &st);
    w.duplicate = true;
    let d = decide(&parse(FLOOD_VI).unwrap(), &w);
    assert!(
        matches!(
            d,
            Decision::Refuse {
                duplicate: true,
                ..
            }
        ),
        "{d:?}"
    );
    assert!(d.why().starts_with("duplicate"));
}
