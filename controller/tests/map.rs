//! Every station on a map, over a real SQLite and the real ingest: a location is set at
//! provisioning, through the API and the station page, or by the installer (in the node's
//! state), the latest set winning, and refused out of range with `node.bad_location`;
//! `GET /api/v1/map/stations` gives each station its state's colour word and its card's facts;
//! `/ui/map` lists the stations without a location; an account limited to a village sees and
//! sets only its own; the vendored Leaflet is served from the controller.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use chrono::{Duration, Utc};
use common::ui::{account, assert_has, assert_redirect, page, post, sign_in};
use common::Harness;
use loa_protocol::{Location, Presence};
use serde_json::{json, Value};

async fn delete(h: &Harness, uri: &str) -> common::Reply {
    h.call(
        Request::builder()
            .method(Method::DELETE)
            .uri(uri)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_location_is_set_at_provisioning_and_by_the_api_and_refused_out_of_range() {
    let h = Harness::new().await;
    let a = h.zone("Thôn Nà Sài", None).await;

    let r = h
        .post_json(
            "/api/v1/nodes",
            json!({"id": "na-sai-1", "name": "Loa đầu bản", "zone_id": a,
                   "latitude": 22.3364, "longitude": 104.1486}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let loc = &r.json()["node"]["location"];
    assert_eq!(loc["latitude"], 22.3364);
    assert_eq!(loc["longitude"], 104.1486);
    assert_eq!(loc["source"], "provisioning");

    // Out of range, or half a place: refused, and no node is made.
    for body in [
        json!({"id": "sai-1", "name": "Sai", "zone_id": a, "latitude": 95.0, "longitude": 104.0}),
        json!({"id": "sai-1", "name": "Sai", "zone_id": a, "latitude": 22.0}),
    ] {
        let r = h.post_json("/api/v1/nodes", body).await;
        r.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "node.bad_location", &[]);
    }
    assert_eq!(
        h.get("/api/v1/nodes/sai-1").await.status,
        StatusCode::NOT_FOUND
    );

    // The centre corrects it.
    let r = h
        .put_json(
            "/api/v1/nodes/na-sai-1/location",
            json!({"latitude": 22.34, "longitude": 104.15}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["location"]["source"], "centre");
    assert_eq!(r.json()["location"]["latitude"], 22.34);

    for (lat, lon, says) in [
        (-90.5, 104.0, "latitude is -90 to 90"),
        (22.0, 180.5, "longitude -180 to 180"),
    ] {
        let r = h
            .put_json(
                "/api/v1/nodes/na-sai-1/location",
                json!({"latitude": lat, "longitude": lon}),
            )
            .await;
        r.assert_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "node.bad_location",
            &[says],
        );
    }
    // What was kept is untouched by the refusals.
    let kept = h.get("/api/v1/nodes/na-sai-1").await.json();
    assert_eq!(kept["location"]["latitude"], 22.34);

    let r = h
        .put_json(
            "/api/v1/nodes/khong-co/location",
            json!({"latitude": 22.0, "longitude": 104.0}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = delete(&h, "/api/v1/nodes/na-sai-1/location").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["location"], Value::Null);
}

#[tokio::test]
async fn the_latest_set_wins_between_the_installer_and_the_centre() {
    let h = Harness::new().await;
    let a = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", a).await;
    let now = Utc::now();
    let installer = |lat: f64, lon: f64, at| {
        move |s: &mut loa_protocol::NodeState| {
            s.location = Some(Location {
                latitude: lat,
                longitude: lon,
                set_at: at,
            })
        }
    };

    // The installer's, reported in the node's state, is kept.
    h.state_at(
        "na-sai-1",
        installer(22.3364, 104.1486, now - Duration::hours(2)),
        now,
    )
    .await;
    let n = h.get("/api/v1/nodes/na-sai-1").await.json();
    assert_eq!(n["location"]["source"], "installer");
    assert_eq!(n["location"]["latitude"], 22.3364);

    // The centre corrects it later; the node's next states, still saying the installer's
    // older one, do not undo that.
    let r = h
        .put_json(
            "/api/v1/nodes/na-sai-1/location",
            json!({"latitude": 22.35, "longitude": 104.16}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    h.state_at(
        "na-sai-1",
        installer(22.3364, 104.1486, now - Duration::hours(2)),
        Utc::now(),
    )
    .await;
    let n = h.get("/api/v1/nodes/na-sai-1").await.json();
    assert_eq!(n["location"]["source"], "centre");
    assert_eq!(n["location"]["latitude"], 22.35);

    // The installer sets it again on site, after the centre: that one is kept. A node whose
    // clock runs ahead is taken as of when its state arrived, not its future.
    let later = Utc::now() + Duration::days(30);
    let arrived = Utc::now();
    h.state_at("na-sai-1", installer(22.36, 104.17, later), arrived)
        .await;
    let n = h.get("/api/v1/nodes/na-sai-1").await.json();
    assert_eq!(n["location"]["source"], "installer");
    assert_eq!(n["location"]["latitude"], 22.36);
    let set_at: chrono::DateTime<Utc> = n["location"]["set_at"].as_str().unwrap().parse().unwrap();
    assert!(set_at <= arrived + Duration::seconds(1), "{set_at}");
    // So the centre can still correct it afterwards.
    let r = h
        .put_json(
            "/api/v1/nodes/na-sai-1/location",
            json!({"latitude": 22.37, "longitude": 104.18}),
        )
        .await;
    assert_eq!(r.json()["location"]["source"], "centre");
}

/// Village A: a healthy station, one playing, one with a device fault, one without a place;
/// village B: one offline.
async fn commune() -> (Harness, i64, i64) {
    let h = Harness::new().await;
    let xa = h.zone("Xã Tả Lùng", None).await;
    let a = h.zone("Thôn Nà Sài", Some(xa)).await;
    let b = h.zone("Bản Khoang", Some(xa)).await;
    for (id, zone, place) in [
        ("tot-1", a, Some((22.3364, 104.1486))),
        ("phat-1", a, Some((22.3401, 104.1522))),
        ("loi-1", a, Some((22.3310, 104.1440))),
        ("chua-dat-1", a, None),
        ("mat-1", b, Some((22.3600, 104.1800))),
    ] {
        h.node(id, zone).await;
        if let Some((lat, lon)) = place {
            let r = h
                .put_json(
                    &format!("/api/v1/nodes/{id}/location"),
                    json!({"latitude": lat, "longitude": lon}),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        }
    }
    let now = Utc::now();
    let ann = h.announcement("Bản tin sáng").await;
    let occ = h.broadcast(&json!(ann), &[a], None).await;
    h.state_at(
        "tot-1",
        |s| {
            s.software = Some("0.3.1".into());
        },
        now,
    )
    .await;
    h.state_at(
        "phat-1",
        |s| {
            s.software = Some("0.3.1".into());
            s.playing = Some(loa_protocol::item_id(occ));
        },
        now,
    )
    .await;
    h.state_at(
        "loi-1",
        |s| s.device_error = Some("no output device named loa_usb".into()),
        now,
    )
    .await;
    h.state_at(
        "mat-1",
        |s| {
            s.software = Some("0.3.0".into());
            s.volume = Some(80);
        },
        now - Duration::minutes(30),
    )
    .await;
    h.presence_at("mat-1", Presence::Offline, now - Duration::minutes(10))
        .await;
    (h, a, b)
}

fn station<'a>(map: &'a Value, id: &str) -> &'a Value {
    map["stations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no station {id} in {map}"))
}

#[tokio::test]
async fn the_stations_api_gives_each_station_its_state_place_and_card() {
    let (h, _, _) = commune().await;
    let r = h.get("/api/v1/map/stations").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let map = r.json();
    // No tiles unless the commune sets them: a plain background.
    assert_eq!(map["tile_url"], "");
    assert_eq!(map["stations"].as_array().unwrap().len(), 5);

    let tot = station(&map, "tot-1");
    assert_eq!(tot["state"], "online");
    assert_eq!(tot["software"], "0.3.1");
    assert_eq!(tot["location"]["latitude"], 22.3364);
    assert_eq!(tot["zone"], "Xã Tả Lùng / Thôn Nà Sài");
    assert!(tot["last_seen"].is_string());
    assert_eq!(tot["faults"], json!([]));
    // Today's broadcast is on its card.
    assert_eq!(tot["today"][0]["title"], "Bản tin sáng");

    let phat = station(&map, "phat-1");
    assert_eq!(phat["state"], "playing");
    assert_eq!(phat["on_air"], "Bản tin sáng");

    let loi = station(&map, "loi-1");
    assert_eq!(loi["state"], "fault");
    assert_eq!(loi["faults"][0]["kind"], "device_error");

    let mat = station(&map, "mat-1");
    assert_eq!(mat["state"], "offline");
    assert_eq!(mat["faults"][0]["kind"], "offline");
    // Its version is what it last said, though the will it left when its link dropped does
    // not say it; what it was doing then (its volume) is not kept.
    assert_eq!(mat["software"], "0.3.0");
    let node = h.get("/api/v1/nodes/mat-1").await.json();
    assert_eq!(node["state"]["presence"], "offline", "{node}");
    assert_eq!(node["state"]["software"], "0.3.0", "{node}");
    assert_eq!(node["state"].get("volume"), None, "{node}");

    let chua = station(&map, "chua-dat-1");
    assert_eq!(chua["location"], Value::Null);
    assert_eq!(chua["state"], "unknown");
    assert_eq!(chua["last_seen"], Value::Null);

    // Tiles, once the commune has Internet; a template that is not one is refused.
    let r = h
        .put_json(
            "/api/v1/settings",
            json!({"map_tile_url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let map = h.get("/api/v1/map/stations").await.json();
    assert_eq!(
        map["tile_url"],
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    );
    let r = h
        .put_json(
            "/api/v1/settings",
            json!({"map_tile_url": "ftp://tiles/x.png"}),
        )
        .await;
    r.assert_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "settings.bad_tile_url",
        &[],
    );
}

#[tokio::test]
async fn an_account_limited_to_a_village_sees_and_places_only_its_stations() {
    let (h, a, b) = commune().await;
    account(&h, "thon-b", "operator", &[b], "vi").await;
    let s = sign_in(&h, "thon-b").await;

    let r = page(&h, &s, "/api/v1/map/stations").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ids: Vec<Value> = r.json()["stations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("mat-1")]);

    // Its own station: set from the station page's form (a decimal comma reads as a point).
    let r = post(
        &h,
        &s,
        "/ui/nodes/mat-1/location",
        &[("latitude", "22,361"), ("longitude", "104.181")],
    )
    .await;
    assert_redirect(&r, "/ui/nodes/mat-1?located=1#location");
    let n = h.get("/api/v1/nodes/mat-1").await.json();
    assert_eq!(n["location"]["latitude"], 22.361);
    assert_eq!(n["location"]["source"], "centre");
    let r = page(&h, &s, "/ui/nodes/mat-1?located=1").await;
    assert_has(&r, "id=\"location-saved\"");
    assert_has(&r, "22.361, 104.181");

    // Another village's: refused, and nothing changes.
    let r = post(
        &h,
        &s,
        "/ui/nodes/tot-1/location",
        &[("latitude", "10"), ("longitude", "106")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    let n = h.get("/api/v1/nodes/tot-1").await.json();
    assert_eq!(n["location"]["latitude"], 22.3364);

    // Not a place: a clear message, and nothing changes.
    let r = post(
        &h,
        &s,
        "/ui/nodes/mat-1/location",
        &[("latitude", "122"), ("longitude", "104")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_has(&r, "vĩ độ từ -90 đến 90");
    let n = h.get("/api/v1/nodes/mat-1").await.json();
    assert_eq!(n["location"]["latitude"], 22.361);

    // The map page of village A's viewer lists its station without a place, no one else's.
    account(&h, "thon-a", "viewer", &[a], "vi").await;
    let s = sign_in(&h, "thon-a").await;
    let r = page(&h, &s, "/ui/map").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_has(&r, "id=\"nav-map\"");
    assert_has(&r, "Chưa có vị trí");
    assert_has(&r, "data-test=\"unlocated\" data-node=\"chua-dat-1\"");
    assert!(!r.text().contains("mat-1"), "{}", r.text());
    // A viewer cannot set a place, so is offered no link to.
    assert!(!r.text().contains("data-test=\"set-location\""));
    assert_has(&r, "/ui/static/leaflet/leaflet.js");
}

#[tokio::test]
async fn an_operator_is_offered_to_place_the_stations_without_one_and_leaflet_is_served() {
    let (h, _, _) = commune().await;
    account(&h, "van-hanh", "operator", &[], "en").await;
    let s = sign_in(&h, "van-hanh").await;
    let r = page(&h, &s, "/ui/map").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_has(&r, "No location yet");
    assert_has(
        &r,
        "data-test=\"set-location\" class=\"button small\" href=\"/ui/nodes/chua-dat-1#location\"",
    );
    // Only the station without a place is listed.
    assert_eq!(r.text().matches("data-test=\"unlocated\"").count(), 1);

    for (path, kind) in [
        ("/ui/static/leaflet/leaflet.js", "text/javascript"),
        ("/ui/static/leaflet/leaflet.css", "text/css"),
        ("/ui/static/leaflet/images/marker-icon.png", "image/png"),
        ("/ui/static/map.js", "text/javascript"),
    ] {
        let r = page(&h, &s, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert!(
            r.header(axum::http::header::CONTENT_TYPE)
                .unwrap()
                .starts_with(kind),
            "{path}"
        );
        assert!(r.body.len() > 500, "{path}");
    }
    let r = page(&h, &s, "/ui/static/leaflet/../app.css").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // The station page offers the form the link leads to.
    let r = page(&h, &s, "/ui/nodes/chua-dat-1").await;
    assert_has(&r, "id=\"location-form\"");
}

#[tokio::test]
async fn an_admin_places_loudspeakers_on_the_zones_page_and_sets_the_tiles_on_the_settings_page() {
    let h = Harness::new().await;
    let a = h.zone("Thôn Nà Sài", None).await;
    h.node("na-sai-1", a).await;
    account(&h, "chu-tich", "admin", &[], "vi").await;
    let s = sign_in(&h, "chu-tich").await;

    // A new loudspeaker with its place, from the provisioning form.
    let zone = a.to_string();
    let r = post(
        &h,
        &s,
        "/ui/nodes",
        &[
            ("name", "Loa cuối bản"),
            ("id", "na-sai-2"),
            ("zone_id", zone.as_str()),
            ("latitude", "22.3401"),
            ("longitude", "104.1522"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let n = h.get("/api/v1/nodes/na-sai-2").await.json();
    assert_eq!(n["location"]["source"], "provisioning");
    assert_eq!(n["location"]["longitude"], 104.1522);

    // An existing one, from its row on the zones page.
    let r = post(
        &h,
        &s,
        "/ui/nodes/na-sai-1/location",
        &[
            ("back", "zones"),
            ("latitude", "22.3364"),
            ("longitude", "104.1486"),
        ],
    )
    .await;
    assert_redirect(&r, "/ui/zones#node-na-sai-1");
    let r = page(&h, &s, "/ui/zones").await;
    assert_has(
        &r,
        r#"name="latitude" inputmode="decimal" size="9" value="22.3364""#,
    );
    // Half a place: the zones page again, saying what is wrong; nothing changes.
    let r = post(
        &h,
        &s,
        "/ui/nodes/na-sai-1/location",
        &[("back", "zones"), ("latitude", "22.5"), ("longitude", "")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_has(&r, "id=\"zones-error\"");
    assert_has(&r, "nhập cả hai");
    let n = h.get("/api/v1/nodes/na-sai-1").await.json();
    assert_eq!(n["location"]["latitude"], 22.3364);

    // The tiles, on the settings page.
    let r = page(&h, &s, "/ui/settings").await;
    assert_has(&r, "id=\"map-tile-url\"");
    let langs = h.get("/api/v1/settings").await.json();
    let r = post(
        &h,
        &s,
        "/ui/settings",
        &[
            ("languages", langs["languages"][0].as_str().unwrap()),
            ("fault_emergency_after_secs", "60"),
            ("fault_clock_offset_ms", "2000"),
            ("fault_low_disk_mib", "100"),
            (
                "map_tile_url",
                "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
            ),
        ],
    )
    .await;
    assert!(r.status.is_redirection(), "{}", r.text());
    let map = h.get("/api/v1/map/stations").await.json();
    assert_eq!(
        map["tile_url"],
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    );
}
