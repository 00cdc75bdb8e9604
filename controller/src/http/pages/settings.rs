//! `/ui/settings` (admins): the commune's settings of `PUT /api/v1/settings` — approval of
//! schedules, the chime (one of the uploaded recordings, or none), what an item interrupted by
//! an emergency does, the default languages, the fault thresholds — and the time zone, read
//! only. Only what the
//! form changes is sent to the API's own [`crate::ops::settings::change`], so saving an
//! unchanged form publishes no plans.

use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use loa_protocol::AfterPreempt;
use serde::Deserialize;
use serde_json::{json, Value};

use super::form::FormData;
use super::render::Ctx;
use super::zones::language_list;
use crate::http::{ApiError, AppState};
use crate::ops::settings::{change, current, SettingsPatch};
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/settings", get(page).post(save))
}

async fn data(ctx: &Ctx) -> Result<Value, ApiError> {
    let settings = current(&ctx.s).await?;
    Ok(json!({
        "low_disk_mib": settings.fault_low_disk_bytes / MIB,
        "settings": settings,
        "media": ctx.s.store.media_list().await?,
    }))
}

#[derive(Deserialize)]
struct Saved {
    saved: Option<String>,
}

async fn page(ctx: Ctx, Query(q): Query<Saved>) -> Response {
    let r = async {
        ctx.require(Role::Admin)?;
        let mut d = data(&ctx).await?;
        d["saved"] = json!(q.saved.is_some());
        Ok(ctx.render("settings.html", d))
    }
    .await;
    ctx.respond(r)
}

/// The change the form asks for: only the fields that differ from `now`.
fn patch(form: &FormData, now: &crate::ops::settings::Settings) -> Result<SettingsPatch, ApiError> {
    let approval = form.get("require_approval").is_some();
    let chime = form.get("chime_media").map(str::to_owned);
    let after = match form.get("after_preempt") {
        Some("resume") => AfterPreempt::Resume,
        Some("replay") | None => AfterPreempt::Replay,
        Some(other) => {
            return Err(ApiError::invalid(format!(
                "{other:?} is not replay or resume"
            )))
        }
    };
    let languages = language_list(form.get("languages").unwrap_or_default());
    Ok(SettingsPatch {
        require_approval: (approval != now.require_approval).then_some(approval),
        chime_media: (chime != now.chime_media).then(|| chime.map_or(Value::Null, Value::String)),
        after_preempt: (after != now.after_preempt).then_some(after),
        languages: (languages != now.languages).then_some(languages),
        fault_emergency_after_secs: number(form, "fault_emergency_after_secs")?
            .filter(|v| *v != now.fault_emergency_after_secs),
        fault_clock_offset_ms: number(form, "fault_clock_offset_ms")?
            .filter(|v| *v != now.fault_clock_offset_ms),
        // Asked in MiB, kept in bytes.
        fault_low_disk_bytes: number(form, "fault_low_disk_mib")?
            .map(|mib| (mib.max(0) as u64).saturating_mul(MIB))
            .filter(|v| *v != now.fault_low_disk_bytes),
        map_tile_url: form
            .get("map_tile_url")
            .map(|u| u.trim().to_string())
            .filter(|u| *u != now.map_tile_url),
    })
}

const MIB: u64 = 1024 * 1024;

/// A whole number from the form, if the field is there and not empty.
fn number(form: &FormData, name: &str) -> Result<Option<i64>, ApiError> {
    match form.get(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid(format!("{v:?} is not a whole number"))),
    }
}

async fn save(ctx: Ctx, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let now = current(&ctx.s).await?;
        let done = match patch(&form, &now) {
            Ok(p) => change(&ctx.s, &p).await.map_err(ApiError::from),
            Err(e) => Err(e),
        };
        match done {
            Ok(_) => Ok(Redirect::to("/ui/settings?saved=1").into_response()),
            Err(e) if e.status.is_client_error() => {
                let mut d = data(&ctx).await?;
                d["error"] = json!(ctx.error_text(&e));
                Ok(ctx.render_status(e.status, "settings.html", d))
            }
            Err(e) => Err(e),
        }
    }
    .await;
    ctx.respond(r)
}
