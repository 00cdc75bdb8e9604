//! `POST /ui/nodes/{id}/location`: where a loudspeaker stands, from the form on its station
//! page and on the zones page (operators and up, in their villages); both fields empty clear
//! it. Also reads the optional place in the provisioning form. The work is
//! [`crate::ops::locations`]'s.

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;

use super::form::FormData;
use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::ops::locations::{clear_location, set_location, BAD_LOCATION};
use crate::ops::{Kind, OpError};
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/nodes/{id}/location", post(save))
}

/// A number of degrees from the form, if the field is there and not empty. A decimal comma
/// (`21,0285`, as Vietnamese keyboards type it) reads as a point.
pub fn degrees(form: &FormData, name: &str) -> Result<Option<f64>, ApiError> {
    match form.get(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.replace(',', ".").parse().map(Some).map_err(|_| {
            OpError::new(
                Kind::Invalid,
                BAD_LOCATION,
                format!("{v:?} is not a number of degrees"),
            )
            .into()
        }),
    }
}

async fn save(ctx: Ctx, Path(id): Path<String>, form: FormData) -> Response {
    let done = async {
        let actor = ctx.require(Role::Operator)?;
        actor.check_form_csrf(form.csrf())?;
        let lat = degrees(&form, "latitude")?;
        let lon = degrees(&form, "longitude")?;
        if lat.is_none() && lon.is_none() {
            clear_location(&ctx.s, actor, &id).await?;
        } else {
            set_location(&ctx.s, actor, &id, lat, lon).await?;
        }
        Ok::<_, ApiError>(())
    }
    .await;
    // Back where the form was: the zones page's loudspeaker (with the error there, if any),
    // else the station page.
    if form.get("back") == Some("zones") {
        return super::zones::after(&ctx, done, &format!("node-{id}")).await;
    }
    ctx.respond(
        done.map(|()| Redirect::to(&format!("/ui/nodes/{id}?located=1#location")).into_response()),
    )
}
