//! `/ui/releases` (admins): the node releases uploaded (bundles signed by the release key with
//! `loa-controller release sign`, sent from the page's form by its script or through the API),
//! each with buttons to roll it out to one loudspeaker,
//! a zone or all of them, and every named loudspeaker's progress, failures first with the
//! reason. The work is the operations' own ([`crate::ops::releases`]).

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::form::FormData;
use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::ops::releases::{list, progress, rollout, Rollout};
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/releases", get(page))
        .route("/ui/releases/{id}/rollout", post(roll_out))
}

async fn data(ctx: &Ctx) -> Result<Value, ApiError> {
    let mut releases = Vec::new();
    for r in list(&ctx.s).await? {
        let p = progress(&ctx.s, r.id).await?;
        releases.push(json!({"release": p.release, "nodes": p.nodes}));
    }
    let nodes: Vec<Value> = ctx
        .s
        .store
        .nodes()
        .await?
        .into_iter()
        .map(|n| {
            let software = n
                .state
                .as_ref()
                .and_then(|s| s.get("software"))
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            json!({"id": n.id, "name": n.name, "software": software})
        })
        .collect();
    let zones: Vec<Value> = ctx
        .s
        .store
        .zones()
        .await?
        .into_iter()
        .map(|z| json!({"id": z.id, "name": z.name}))
        .collect();
    Ok(json!({
        "releases": releases,
        "nodes": nodes,
        "zones": zones,
        "has_key": ctx.s.cfg.release_key.is_some(),
        "page_texts": upload_errors(ctx),
    }))
}

/// The upload's errors in the page's language, for the script that sends the bundle.
fn upload_errors(ctx: &Ctx) -> Value {
    let mut texts = serde_json::Map::new();
    for code in [
        "release.no_key",
        "release.malformed",
        "release.bad_signature",
        "release.hash_mismatch",
    ] {
        let key = format!("error.{code}");
        texts.insert(key.clone(), json!(ctx.t(&key)));
    }
    Value::Object(texts)
}

#[derive(Deserialize)]
struct Done {
    rolled: Option<i64>,
    uploaded: Option<i64>,
}

async fn page(ctx: Ctx, Query(q): Query<Done>) -> Response {
    let r = async {
        ctx.require(Role::Admin)?;
        let mut d = data(&ctx).await?;
        d["rolled"] = json!(q.rolled);
        d["uploaded"] = json!(q.uploaded);
        Ok(ctx.render("releases.html", d))
    }
    .await;
    ctx.respond(r)
}

/// `target` is `node:ID`, `zone:ID` or `all`; `allow_metered` a checkbox.
async fn roll_out(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let mut r = Rollout {
            allow_metered: form.get("allow_metered").is_some(),
            ..Rollout::default()
        };
        match form.get("target").unwrap_or_default().split_once(':') {
            Some(("node", n)) => r.nodes = vec![n.to_string()],
            Some(("zone", z)) => r.zones = z.parse().map(|z| vec![z]).unwrap_or_default(),
            _ if form.get("target") == Some("all") => r.all = true,
            _ => {}
        }
        match rollout(&ctx.s, id, &r).await.map_err(ApiError::from) {
            Ok(_) => Ok(Redirect::to(&format!("/ui/releases?rolled={id}")).into_response()),
            Err(e) if e.status.is_client_error() => {
                let mut d = data(&ctx).await?;
                d["error"] = json!(ctx.error_text(&e));
                Ok(ctx.render_status(e.status, "releases.html", d))
            }
            Err(e) => Err(e),
        }
    }
    .await;
    ctx.respond(r)
}
