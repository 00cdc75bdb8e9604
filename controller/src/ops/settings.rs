//! The commune's settings (approval, chime, what follows an emergency, languages, the fault
//! thresholds, the map's tiles) and each
//! zone's languages and quiet hours. Shared by the API and the settings and zones pages.

use chrono::NaiveTime;
use loa_protocol::AfterPreempt;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{App, OpError};
use crate::schedule::rule::QuietHours;
use crate::store::faults::{CLOCK_OFFSET_KEY, EMERGENCY_AFTER_KEY, LOW_DISK_KEY};
use crate::store::parts::check_languages;
use crate::store::settings::MAP_TILE_URL_KEY;

#[derive(utoipa::ToSchema, Serialize)]
pub struct Settings {
    /// Schedules made through the API wait as drafts until approved.
    pub require_approval: bool,
    /// The recording played before announcements (SHA-256 of an uploaded file); none if null.
    pub chime_media: Option<String>,
    /// What an item interrupted by an emergency does afterwards: `replay` or `resume`.
    pub after_preempt: AfterPreempt,
    /// The languages zones hear when they do not say, in order.
    pub languages: Vec<String>,
    /// The commune's time zone (from the controller's configuration).
    pub time_zone: String,
    /// Seconds after an emergency began before a loudspeaker that has not played it is shown
    /// red on the dashboard (default 60).
    pub fault_emergency_after_secs: i64,
    /// A loudspeaker whose clock is off by more than this many milliseconds is a fault
    /// (default 2000).
    pub fault_clock_offset_ms: i64,
    /// A loudspeaker with less free disk than this many bytes is a fault (default 100 MiB).
    pub fault_low_disk_bytes: u64,
    /// The station map's tiles: a URL template with `{z}`, `{x}` and `{y}`
    /// (`https://tile.openstreetmap.org/{z}/{x}/{y}.png` where the centre has Internet);
    /// empty (the default) for a plain background with the stations and their names.
    pub map_tile_url: String,
}

/// A change of settings: fields left out stay as they are; `chime_media: null` removes the
/// chime.
#[derive(utoipa::ToSchema, Deserialize, Default)]
pub struct SettingsPatch {
    pub require_approval: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub chime_media: Option<Value>,
    pub after_preempt: Option<AfterPreempt>,
    pub languages: Option<Vec<String>>,
    /// 1 to 86400.
    pub fault_emergency_after_secs: Option<i64>,
    /// 100 to 3600000.
    pub fault_clock_offset_ms: Option<i64>,
    pub fault_low_disk_bytes: Option<u64>,
    /// A URL template with `{z}`, `{x}`, `{y}`, or empty for a plain background.
    pub map_tile_url: Option<String>,
}

/// A tile URL template the map can use: empty, or http(s) with `{z}`, `{x}` and `{y}`.
fn check_tile_url(url: &str) -> Result<(), OpError> {
    let url = url.trim();
    let ok = url.is_empty()
        || (url.len() <= 500
            && (url.starts_with("https://") || url.starts_with("http://"))
            && ["{z}", "{x}", "{y}"].iter().all(|p| url.contains(p)));
    if ok {
        Ok(())
    } else {
        Err(OpError::new(
            super::Kind::Invalid,
            "settings.bad_tile_url",
            "map_tile_url is empty (a plain background) or an http(s) address with {z}, {x} \
             and {y}, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        ))
    }
}

/// A field that is present, even as `null` (serde would read `null` as absent).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The commune's settings as they stand. Shared with the settings page.
pub async fn current(s: &App) -> Result<Settings, OpError> {
    let st = &s.store;
    let th = st.fault_thresholds().await?;
    Ok(Settings {
        require_approval: st.require_approval().await?,
        chime_media: st.chime_media().await?,
        after_preempt: st.after_preempt().await?,
        languages: st.default_languages().await?,
        time_zone: s.tz.name().to_string(),
        fault_emergency_after_secs: th.emergency_after_secs,
        fault_clock_offset_ms: th.clock_offset_ms,
        fault_low_disk_bytes: th.low_disk_bytes,
        map_tile_url: st.map_tile_url().await?,
    })
}

/// Checks and saves a change of settings; when what nodes play may differ, publishes every
/// node's plan again. Shared with the settings page.
pub async fn change(s: &App, p: &SettingsPatch) -> Result<Settings, OpError> {
    let mut replan = false;
    if let Some(chime) = &p.chime_media {
        match chime {
            Value::Null => {}
            Value::String(sha) => {
                s.store.media(sha).await?;
            }
            _ => {
                return Err(OpError::invalid(
                    "chime_media is the SHA-256 of an uploaded recording, or null for no chime",
                ))
            }
        }
    }
    if let Some(l) = &p.languages {
        if l.is_empty() {
            return Err(OpError::invalid("list at least one language"));
        }
        check_languages(l.iter().map(String::as_str))?;
    }
    if let Some(v) = p.fault_emergency_after_secs {
        if !(1..=86_400).contains(&v) {
            return Err(OpError::invalid(
                "fault_emergency_after_secs is 1 to 86400 (a day)",
            ));
        }
    }
    if let Some(v) = p.fault_clock_offset_ms {
        if !(100..=3_600_000).contains(&v) {
            return Err(OpError::invalid(
                "fault_clock_offset_ms is 100 to 3600000 (an hour)",
            ));
        }
    }
    if let Some(url) = &p.map_tile_url {
        check_tile_url(url)?;
    }
    let thresholds = [
        (
            EMERGENCY_AFTER_KEY,
            p.fault_emergency_after_secs.map(Value::from),
        ),
        (CLOCK_OFFSET_KEY, p.fault_clock_offset_ms.map(Value::from)),
        (LOW_DISK_KEY, p.fault_low_disk_bytes.map(Value::from)),
    ];
    for (key, value) in thresholds {
        if let Some(v) = value {
            s.store.set_setting(key, &v).await?;
        }
    }
    if let Some(url) = &p.map_tile_url {
        s.store
            .set_setting(MAP_TILE_URL_KEY, &Value::String(url.trim().to_string()))
            .await?;
    }
    if let Some(v) = p.require_approval {
        s.store
            .set_setting("require_approval", &Value::Bool(v))
            .await?;
    }
    if let Some(chime) = &p.chime_media {
        s.store.set_setting("chime_media", chime).await?;
        replan = true;
    }
    if let Some(a) = p.after_preempt {
        let v = serde_json::to_value(a).expect("a policy serialises");
        s.store.set_setting("after_preempt", &v).await?;
        replan = true;
    }
    if let Some(l) = &p.languages {
        s.store
            .set_setting("languages", &serde_json::json!(l))
            .await?;
        replan = true;
    }
    tracing::info!(require_approval = ?p.require_approval, chime = ?p.chime_media, after_preempt = ?p.after_preempt, languages = ?p.languages, emergency_after_secs = ?p.fault_emergency_after_secs, clock_offset_ms = ?p.fault_clock_offset_ms, low_disk_bytes = ?p.fault_low_disk_bytes, map_tile_url = ?p.map_tile_url, "settings changed");
    if replan {
        // Every node's items may hold other parts now.
        let nodes: Vec<String> = s
            .store
            .node_zones()
            .await?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        s.planner.publish_all(&nodes).await;
    }
    current(s).await
}

#[derive(utoipa::ToSchema, Serialize)]
pub struct LanguagesView {
    pub zone_id: i64,
    /// The zone's own list, as set.
    pub own: Option<Vec<String>>,
    /// What its nodes play, inheritance applied.
    pub effective: Vec<String>,
}

/// Sets a zone's languages (`None`: inherit) and publishes the plans of every node under it.
/// Shared with the zones page.
pub async fn change_languages(
    s: &App,
    id: i64,
    languages: Option<Vec<String>>,
) -> Result<LanguagesView, OpError> {
    s.store.set_zone_languages(id, languages.as_deref()).await?;
    let nodes = s.store.nodes_under(&[id]).await?;
    s.planner.publish_all(&nodes).await;
    Ok(LanguagesView {
        zone_id: id,
        own: languages,
        effective: s.store.zone_languages(id).await?,
    })
}

#[derive(utoipa::ToSchema, Serialize)]
pub struct QuietView {
    pub zone_id: i64,
    pub quiet_hours: Option<QuietHours>,
}

/// Sets a zone's quiet hours from local `HH:MM` times (both `None`: clears them); the
/// materialiser is woken, and only occurrences written from now on follow them. Shared with
/// the zones page.
pub async fn change_quiet_hours(
    s: &App,
    id: i64,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<QuietView, OpError> {
    let parse = |v: &str| {
        NaiveTime::parse_from_str(v, "%H:%M").map_err(|_| {
            OpError::invalid(format!("{v:?} is not a time of day as HH:MM (e.g. 22:00)"))
        })
    };
    let quiet = match (start, end) {
        (None, None) => None,
        (Some(a), Some(e)) => Some(QuietHours {
            start: parse(a)?,
            end: parse(e)?,
        }),
        _ => return Err(OpError::invalid("quiet hours need both start and end")),
    };
    s.store.set_quiet_hours(id, quiet).await?;
    // Only occurrences written from now on follow the new hours.
    s.materializer.wake.notify_one();
    Ok(QuietView {
        zone_id: id,
        quiet_hours: quiet,
    })
}
