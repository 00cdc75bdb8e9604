//! The station map in a real headless browser (Debian's Chromium over WebDriver), against a
//! real controller on its embedded broker with real village nodes:
//!
//! - `na-sai-1`'s installer runs `loa-node check --location …` before starting it; the node
//!   reports the place in its state and the controller keeps it as the installer's;
//! - `phieng-1` is placed by the centre through the API, then dies (offline);
//! - a spare loudspeaker provisioned without a place is listed beside the map.
//!
//! The map (no tiles set: a plain background) shows the two placed stations as dots in their
//! state's colour with their names always shown; a station's card opens with its facts; the
//! unplaced one is listed with a link to its page. Photographed at office size (1280×900) and
//! phone size (390×844) as `target/ui-screenshots/map-{office,phone}.png`.

mod common;

use common::{prepare_node, Output};
use loa_e2e::browser::Browser;
use loa_e2e::procs::{bin, Broker, Controller};
use loa_e2e::wait;
use serde_json::{json, Value};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(60);

/// The station `id` as the map's API gives it, once `ready` says it is as wanted.
async fn station_when(
    api: &loa_e2e::api::Api,
    id: &str,
    what: &str,
    ready: impl Fn(&Value) -> bool,
) -> Value {
    wait::until(&format!("{id}: {what}"), WAIT, || async {
        let map = api.get("/api/v1/map/stations").await?;
        let st = map["stations"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["id"] == id))
            .cloned();
        Ok(st.filter(|s| ready(s)))
    })
    .await
    .unwrap()
}

/// Waits until the open card is whole inside the map (its fade-in and the map's pan to it
/// done), so that what is photographed is what a person sees.
async fn card_in_view(b: &Browser) {
    b.wait_js(
        "the card whole inside the map",
        "(() => { const p = document.querySelector('.leaflet-popup'); \
          if (!p || getComputedStyle(p).opacity !== '1') return false; \
          const r = p.getBoundingClientRect(), m = document.querySelector('#station-map').getBoundingClientRect(); \
          return r.top >= m.top && r.bottom <= m.bottom && r.left >= m.left && r.right <= m.right; })()",
    )
    .await
    .unwrap();
}

/// A JavaScript string of the attribute `attr` of the first element matching `css`.
async fn attr(b: &Browser, css: &str, attr: &str) -> String {
    b.client
        .execute(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null;",
            vec![json!(css), json!(attr)],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_map_shows_each_station_in_its_state_colour_with_its_name_and_card() {
    let dir = tempfile::tempdir().unwrap();
    let controller = Controller::start(&dir.path().join("controller"), Broker::embedded())
        .await
        .unwrap();
    let base = controller.url.clone();
    let api = controller.api();
    let commune = api.zone("Xã Tả Lùng", None).await.unwrap();
    let na_sai = api.zone("Thôn Nà Sài", Some(commune)).await.unwrap();
    let phieng = api.zone("Bản Phiêng", Some(commune)).await.unwrap();

    // The installer places na-sai-1 with the check, then the node starts.
    let prepared = prepare_node(&api, dir.path(), "na-sai-1", na_sai, Output::WavFiles)
        .await
        .unwrap();
    std::fs::create_dir_all(&prepared.dir).unwrap();
    let config = prepared.dir.join("check.toml");
    std::fs::write(&config, &prepared.config).unwrap();
    let out = tokio::process::Command::new(bin("loa-node").unwrap())
        .args(["check", "--location", "22.3364,104.1486", "--config"])
        .arg(&config)
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("✓ location: 22.3364, 104.1486 saved"),
        "{said}"
    );
    let _na_sai_1 = prepared.start().unwrap();

    // The centre places phieng-1, which then dies.
    let mut phieng_1 = common::start_node(&api, dir.path(), "phieng-1", phieng, Output::WavFiles)
        .await
        .unwrap();
    api.put(
        "/api/v1/nodes/phieng-1/location",
        json!({"latitude": 22.3452, "longitude": 104.1618}),
    )
    .await
    .unwrap();
    // A spare, not placed.
    api.provision(
        "du-phong",
        "Loa dự phòng",
        na_sai,
        &dir.path().join("spare"),
    )
    .await
    .unwrap();
    api.account("chu-tich", "viewer").await.unwrap();

    let na_sai_1 = station_when(&api, "na-sai-1", "online, placed by the installer", |s| {
        s["state"] == "online" && s["location"]["source"] == "installer"
    })
    .await;
    assert_eq!(na_sai_1["location"]["latitude"], 22.3364);
    let version = na_sai_1["software"].as_str().expect("a version").to_owned();
    station_when(&api, "phieng-1", "online", |s| s["state"] == "online").await;
    phieng_1.kill();
    station_when(&api, "phieng-1", "offline", |s| s["state"] == "offline").await;

    let office = Browser::start().await.unwrap();
    let phone = Browser::start_sized(390, 844).await.unwrap();
    for b in [&office, &phone] {
        b.sign_in(&base, "chu-tich").await.unwrap();
        b.click("#nav-map").await.unwrap();
        b.wait_js(
            "the map drawn with both placed stations",
            "document.querySelector('#station-map').dataset.state === 'ready' \
             && document.querySelectorAll('.station-marker').length === 2",
        )
        .await
        .unwrap();
    }
    let b = &office;

    // Each dot in its state's colour, each with its name shown.
    for (id, state, colour, name) in [
        ("na-sai-1", "online", "#2e7d32", "Cụm loa na-sai-1"),
        ("phieng-1", "offline", "#c62828", "Cụm loa phieng-1"),
    ] {
        let dot = format!(".station-marker[data-node='{id}']");
        assert_eq!(attr(b, &dot, "data-state").await, state, "{id}");
        assert_eq!(attr(b, &dot, "fill").await, colour, "{id}");
        let label = b
            .find(&format!(".station-name[data-node='{id}']"))
            .await
            .unwrap();
        assert_eq!(label.text().await.unwrap(), name);
    }
    // No tiles are set: nothing is fetched from outside, and the background is plain.
    assert_eq!(
        b.client
            .execute(
                "return document.querySelectorAll('.leaflet-tile').length;",
                vec![]
            )
            .await
            .unwrap(),
        json!(0)
    );

    // The spare is listed beside the map, with a link to its page.
    let spare = b
        .find("[data-test=unlocated][data-node='du-phong']")
        .await
        .unwrap();
    assert!(spare.text().await.unwrap().contains("Loa dự phòng"));
    assert_eq!(
        attr(b, "[data-test=unlocated][data-node='du-phong'] a", "href").await,
        "/ui/nodes/du-phong"
    );

    // The card of na-sai-1: state, last seen, version, today, faults, its page.
    b.click(".station-marker[data-node='na-sai-1']")
        .await
        .unwrap();
    let card = b
        .find("[data-test=station-card][data-node='na-sai-1']")
        .await
        .unwrap();
    card_in_view(b).await;
    let text = card.text().await.unwrap();
    for says in ["Cụm loa na-sai-1", "Thôn Nà Sài", "Trực tuyến", &version] {
        assert!(text.contains(says), "the card says {says:?}:\n{text}");
    }
    assert!(text.contains("Hôm nay chưa có lượt phát."), "{text}");
    assert!(text.contains("Không có sự cố."), "{text}");
    assert_eq!(
        attr(b, "[data-test=station-card] [data-test=card-link]", "href").await,
        "/ui/nodes/na-sai-1"
    );
    office.screenshot("map-office").await.unwrap();

    // On the phone, the dead station's card says it is cut off, and why.
    phone
        .client
        .execute(
            "document.querySelector('#station-map').scrollIntoView();",
            vec![],
        )
        .await
        .unwrap();
    phone
        .click(".station-marker[data-node='phieng-1']")
        .await
        .unwrap();
    let card = phone
        .find("[data-test=station-card][data-node='phieng-1']")
        .await
        .unwrap();
    card_in_view(&phone).await;
    let text = card.text().await.unwrap();
    assert!(text.contains("Mất kết nối"), "{text}");
    // And still which version it ran, from what it said before it died.
    assert!(text.contains(&version), "{version} on the card: {text}");
    phone.screenshot("map-phone").await.unwrap();

    office.close().await.unwrap();
    phone.close().await.unwrap();
}
