//! Table tests of building and sealing a plan: no store, no broker.

use super::*;
use crate::store::media::MediaRow;
use crate::store::parts::Recording;
use chrono::TimeZone;
use loa_protocol::{AfterPreempt, PartKind, Priority};
use std::collections::HashMap;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 6, 0, 0).unwrap()
}

fn media(sha: &str) -> MediaRow {
    MediaRow {
        sha256: sha.into(),
        size: 1000,
        duration_ms: 7_600,
        codec: "mp3".into(),
        sample_rate: 44_100,
        channels: 1,
        original_name: None,
        loudness_lufs: Some(-16.0),
    }
}

/// Announcement 1 in Vietnamese and H'Mông, announcement 2 without any recording,
/// announcement 3 a 30-minute relay of source 7; zone 10 hears both languages, zone 20
/// Vietnamese only; a chime is set.
fn catalogue(chime: bool) -> Catalogue {
    let rec = |language: &str| Recording {
        language: language.into(),
        media_sha256: format!("{language}-sha"),
    };
    Catalogue {
        public_url: "http://controller.test".into(),
        chime: chime.then(|| media("chime-sha")),
        after_preempt: AfterPreempt::Replay,
        recordings: HashMap::from([(1, vec![rec("vi"), rec("hmn")]), (2, vec![])]),
        media: HashMap::from([
            ("vi-sha".to_string(), media("vi-sha")),
            ("hmn-sha".to_string(), media("hmn-sha")),
        ]),
        zone_languages: HashMap::from([
            (10, vec!["vi".to_string(), "hmn".to_string()]),
            (20, vec!["vi".to_string()]),
        ]),
        relays: HashMap::from([(
            3,
            crate::store::media::RelayContent {
                source_id: 7,
                secs: 1800,
            },
        )]),
        live_sources: Default::default(),
        handoff: None,
    }
}

fn node(zone_id: i64, chime: bool) -> NodeRow {
    NodeRow {
        id: "thon-1".into(),
        name: "Thôn 1".into(),
        zone_id,
        volume: 80,
        chime,
        plan_version: 6,
        acked_seq: 0,
        presence: "online".into(),
        last_seen: None,
        state: None,
        created_at: t0(),
        speaker_check_requested_at: None,
        location: None,
    }
}

fn item(occurrence_id: i64, announcement_id: i64, chime: Option<bool>) -> PlanItemRow {
    PlanItemRow {
        occurrence_id,
        announcement_id,
        title: format!("bản tin {occurrence_id}"),
        chime,
        volume: 100,
        start_at: t0() + Duration::minutes(occurrence_id),
        expires_at: t0() + Duration::minutes(occurrence_id + 30),
        priority: Priority::Normal,
    }
}

fn ctx() -> PlanContext {
    PlanContext {
        site: "xa-demo".into(),
        now: t0(),
        validity: Duration::hours(72),
        next_key: Some("NEXT".into()),
    }
}

/// What an item's parts are: `chime`, or the recording's language.
fn labels(plan: &Plan, i: usize) -> Vec<String> {
    plan.items[i]
        .parts
        .iter()
        .map(|p| match p.kind {
            PartKind::Chime => "chime".to_string(),
            PartKind::Recording => p.language.clone().unwrap_or_default(),
        })
        .collect()
}

#[test]
fn a_relay_item_streams_its_source_after_the_chime_until_its_end() {
    // (commune chime set, node's chime) → parts before the stream
    let cases: &[(bool, bool, &[&str])] = &[
        (true, true, &["chime"]),
        (true, false, &[]),
        (false, true, &[]),
    ];
    for &(commune, node_chime, want) in cases {
        let built = build_plan(
            &ctx(),
            &node(10, node_chime),
            vec![item(1, 3, None)],
            &catalogue(commune),
        );
        assert!(built.without_recording.is_empty());
        let it = &built.plan.items[0];
        assert_eq!(labels(&built.plan, 0), want, "{commune} {node_chime}");
        let stream = it.stream.as_ref().expect("a relay streams");
        assert_eq!(stream.url, "http://controller.test/streams/7");
        assert_eq!(stream.codec, "opus");
        assert_eq!(stream.until, it.start_at + Duration::minutes(30));
    }
    // An announcement of recordings has no stream.
    let built = build_plan(
        &ctx(),
        &node(10, true),
        vec![item(1, 1, None)],
        &catalogue(true),
    );
    assert!(built.plan.items[0].stream.is_none());
    // Handed to Icecast, a station's relay is pulled from its mount; a live session is not.
    let mut handed = catalogue(false);
    handed.handoff = Some(("http://icecast.test:8000".into(), "xa-demo".into()));
    let url = |c: &Catalogue| {
        let built = build_plan(&ctx(), &node(10, false), vec![item(1, 3, None)], c);
        built.plan.items[0].stream.as_ref().unwrap().url.clone()
    };
    assert_eq!(url(&handed), "http://icecast.test:8000/loa-xa-demo-7.ogg");
    handed.live_sources.insert(7);
    assert_eq!(url(&handed), "http://controller.test/streams/7");
}

#[test]
fn the_parts_follow_the_zone_the_chime_settings_and_the_item() {
    // (commune chime set, node's chime, item's chime, zone) → parts
    type Case = (bool, bool, Option<bool>, i64, &'static [&'static str]);
    let cases: &[Case] = &[
        (true, true, None, 10, &["chime", "vi", "hmn"]),
        (true, false, None, 10, &["vi", "hmn"]),
        (true, false, Some(true), 10, &["chime", "vi", "hmn"]),
        (true, true, Some(false), 20, &["vi"]),
        (false, true, Some(true), 20, &["vi"]),
        // A zone the catalogue does not know hears the main recording.
        (false, true, None, 99, &["vi"]),
    ];
    for &(commune, node_chime, item_chime, zone, want) in cases {
        let built = build_plan(
            &ctx(),
            &node(zone, node_chime),
            vec![item(1, 1, item_chime)],
            &catalogue(commune),
        );
        assert_eq!(
            labels(&built.plan, 0),
            want,
            "commune {commune}, node {node_chime}, item {item_chime:?}, zone {zone}"
        );
    }
}

#[test]
fn the_plan_is_the_next_version_valid_for_its_window_and_announces_the_next_key() {
    let built = build_plan(
        &ctx(),
        &node(10, true),
        vec![item(1, 1, None)],
        &catalogue(true),
    );
    let p = &built.plan;
    assert_eq!(p.version, 7);
    assert_eq!((p.site.as_str(), p.node.as_str()), ("xa-demo", "thon-1"));
    assert_eq!(p.issued_at, t0());
    assert_eq!(p.valid_until, t0() + Duration::hours(72));
    assert_eq!(p.next_key.as_deref(), Some("NEXT"));
    assert_eq!((p.volume, p.after_preempt), (80, AfterPreempt::Replay));
    assert_eq!(p.items[0].id, "o1");
    assert_eq!(
        p.items[0].parts[1].media.url,
        "http://controller.test/media/vi-sha"
    );
}

#[test]
fn an_announcement_without_a_recording_is_left_out_and_named() {
    let rows = vec![item(1, 1, None), item(2, 2, None), item(3, 1, None)];
    let built = build_plan(&ctx(), &node(10, true), rows, &catalogue(true));
    let ids: Vec<&str> = built.plan.items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["o1", "o3"]);
    assert_eq!(built.without_recording, [2]);
    assert_eq!(built.wanted, 3);
}

#[test]
fn a_plan_holds_at_most_max_plan_items_and_knows_how_many_were_wanted() {
    let rows: Vec<_> = (1..=(MAX_PLAN_ITEMS as i64 + 5))
        .map(|i| item(i, 1, Some(false)))
        .collect();
    let built = build_plan(&ctx(), &node(20, false), rows, &catalogue(false));
    assert_eq!(built.plan.items.len(), MAX_PLAN_ITEMS);
    assert_eq!(built.wanted, MAX_PLAN_ITEMS + 5);
}

#[test]
fn sealing_keeps_the_soonest_items_that_fit_in_one_packet() {
    let key = loa_protocol::generate_key();
    let rows: Vec<_> = (1..=MAX_PLAN_ITEMS as i64)
        .map(|i| item(i, 1, None))
        .collect();
    let mut built = build_plan(&ctx(), &node(10, true), rows, &catalogue(true));
    let sealed = seal_fitting(&mut built.plan, &key).expect("it fits once cut");
    assert!(sealed.len() <= MAX_PACKET_BYTES);
    let n = built.plan.items.len();
    assert!(n > 0 && n < MAX_PLAN_ITEMS, "{n} items kept");
    // The soonest, in order.
    assert_eq!(built.plan.items[0].id, "o1");
    assert_eq!(built.plan.items[n - 1].id, format!("o{n}"));
    // And what was sealed is what the plan now says.
    assert_eq!(sealed, built.plan.seal(&key));
}

#[test]
fn a_plan_too_large_even_with_one_item_is_refused_by_name() {
    let key = loa_protocol::generate_key();
    let mut long = item(1, 1, None);
    long.title = "x".repeat(MAX_PACKET_BYTES);
    let mut built = build_plan(&ctx(), &node(10, true), vec![long], &catalogue(true));
    let err = seal_fitting(&mut built.plan, &key).unwrap_err();
    assert_eq!(err.node, "thon-1");
    assert!(err.size > err.limit);
}
