//! `/ui/announcements` (operators): the announcements with their language recordings, and
//! the two ways to make one. Both run in the browser against the REST API, so nothing is done
//! twice: a recording per language is uploaded with a progress bar (`POST /api/v1/media`)
//! and the announcement made from them (`POST /api/v1/announcements`); or a text is heard
//! first (`POST /api/v1/tts/preview`) and then saved (`POST /api/v1/tts/announcements`).
//! A relay (a registered source passed on for some minutes) is made by a plain form, and so is
//! a source (a station's name and stream address). The list
//! is searched by words and category, and shows the archive on request; each announcement is
//! filed under a category or archived by a plain form ([`crate::ops::announcements`]).

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use super::form::FormData;
use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::limits::{megabytes, ANNOUNCEMENT_TITLE};
use crate::media::MediaError;
use crate::ops::announcements::{
    change, create_relay, search, AnnouncementChange, NewRelay, Search,
};
use crate::ops::sources::NewSource;
use crate::store::accounts::Role;
use crate::store::media::MAX_RELAY_SECS;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/announcements", get(page))
        .route("/ui/announcements/relay", post(make_relay))
        .route("/ui/announcements/source", post(add_source))
        .route("/ui/announcements/{id}", post(file_under))
}

/// The languages offered in the pickers (others can be typed): Vietnamese and the languages
/// of the northern mountain communes.
const LANGUAGES: &[&str] = &["vi", "hmn", "tai", "dao", "muong", "en"];

async fn page(ctx: Ctx, Query(f): Query<Search>) -> Response {
    let r = async {
        ctx.require(Role::Operator)?;
        let announcements = search(&ctx.s, &f).await?;
        let categories = ctx.s.store.announcement_categories().await?;
        let sources = ctx.s.store.sources().await?;
        let max = ctx.s.cfg.max_upload_bytes;
        // The script refuses a file over the limit before sending it: a browser cut off
        // mid-upload would only see a network error.
        let too_large = ctx.error_text(&MediaError::TooLarge { limit: max }.into());
        Ok(ctx.render(
            "announcements.html",
            json!({"announcements": announcements, "languages": LANGUAGES,
                   "max_upload_bytes": max, "max_upload": megabytes(max),
                   "too_large": too_large, "title_max": ANNOUNCEMENT_TITLE.max,
                   "categories": categories, "q": f.q, "category": f.category,
                   "archived": f.archived, "sources": sources,
                   "relay_max_minutes": MAX_RELAY_SECS / 60}),
        ))
    }
    .await;
    ctx.respond(r)
}

/// Files an announcement under a category, or archives it (`archive=yes`) or brings it back
/// (`archive=no`); back to the list as it was.
async fn file_under(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        actor.check_form_csrf(form.csrf())?;
        let c = AnnouncementChange {
            // Sent with the category form only: an empty field removes the category.
            category: form
                .0
                .iter()
                .find(|(k, _)| k == "category")
                .map(|(_, v)| v.trim().to_owned()),
            archived: form.get("archive").map(|a| a == "yes"),
        };
        change(&ctx.s, id, &c).await?;
        let back = if form.get("from_archive").is_some() {
            "/ui/announcements?archived=true"
        } else {
            "/ui/announcements"
        };
        Ok::<_, ApiError>(Redirect::to(&format!("{back}#announcement-{id}")).into_response())
    }
    .await;
    ctx.respond(r)
}

/// Makes a relay announcement from the form (title, source, minutes); back to the list.
async fn make_relay(ctx: Ctx, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        actor.check_form_csrf(form.csrf())?;
        let number = |name: &str| form.get(name).and_then(|v| v.trim().parse::<u32>().ok());
        let relay = NewRelay {
            source_id: form
                .get("source_id")
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| ApiError::invalid("choose a source to relay"))?,
            seconds: number("minutes")
                .ok_or_else(|| ApiError::invalid("give the relay's length in minutes"))?
                .saturating_mul(60),
        };
        let a = create_relay(&ctx.s, form.get("title").unwrap_or(""), &relay).await?;
        Ok::<_, ApiError>(
            Redirect::to(&format!("/ui/announcements#announcement-{}", a.id)).into_response(),
        )
    }
    .await;
    ctx.respond(r)
}

/// Registers a relay source from the form (name, stream address); back to the relay form.
async fn add_source(ctx: Ctx, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        actor.check_form_csrf(form.csrf())?;
        let new = NewSource {
            name: form.get("name").unwrap_or("").to_owned(),
            url: form.get("url").unwrap_or("").trim().to_owned(),
        };
        crate::ops::sources::add_source(&ctx.s, &new).await?;
        Ok::<_, ApiError>(Redirect::to("/ui/announcements#relay-form").into_response())
    }
    .await;
    ctx.respond(r)
}
