//! `/ui/security` (admins): the security reports (messages refused on a loudspeaker's topics,
//! plans a loudspeaker refused), each told in plain words, and the commune's signing key with
//! its rotation in two steps: begin (every plan announces the next key), then switch once
//! every loudspeaker has seen it, or, after a confirmation naming those that have not, switch
//! anyway. The work is the API's own ([`crate::http::keys`]); taking a loudspeaker out of
//! service is on the zones page ([`super::nodes`]).

use axum::extract::Query;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;

use super::form::FormData;
use super::i18n::{self, Lang};
use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::ops::keys::{begin_rotation, commit_rotation, status};
use crate::store::accounts::Role;

/// How many characters of a key the page shows: enough to tell two keys apart by eye.
const FINGERPRINT: usize = 12;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/security", get(page))
        .route("/ui/security/keys/rotate", post(rotate))
        .route("/ui/security/keys/commit", post(commit))
}

fn fingerprint(key: &str) -> String {
    key.chars().take(FINGERPRINT).collect()
}

/// What a report's kind means, in the page's language; the kind itself for one the
/// translations do not know yet.
fn what(lang: Lang, kind: &str) -> String {
    i18n::lookup(lang, &format!("security.kind.{kind}"))
        .map(str::to_owned)
        .unwrap_or_else(|| kind.to_owned())
}

async fn data(ctx: &Ctx) -> Result<Value, ApiError> {
    let names: HashMap<String, String> = ctx
        .s
        .store
        .nodes()
        .await?
        .into_iter()
        .map(|n| (n.id, n.name))
        .collect();
    let reports: Vec<Value> = ctx
        .s
        .store
        .security_reports()
        .await?
        .into_iter()
        .map(|r| {
            json!({
                "node_id": r.node_id,
                // None for a loudspeaker taken out of service since.
                "name": names.get(&r.node_id),
                "kind": r.kind,
                "what": what(ctx.lang, &r.kind),
                "count": r.count,
                "first_at": r.first_at,
                "last_at": r.last_at,
                "detail": r.last_detail,
            })
        })
        .collect();
    let keys = status(&ctx.s).await?;
    let nodes: Vec<Value> = keys
        .nodes
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "name": n.name,
                // Its state has not said which keys it accepts (it has never reported).
                "unknown": n.accepts.is_empty(),
                "knows_current": n.accepts.contains(&keys.current),
                "knows_next": n.knows_next,
            })
        })
        .collect();
    Ok(json!({
        "reports": reports,
        "key": {
            "current": fingerprint(&keys.current),
            "next": keys.next.as_deref().map(fingerprint),
        },
        "key_nodes": nodes,
    }))
}

#[derive(Deserialize)]
struct Done {
    begun: Option<String>,
    switched: Option<String>,
}

async fn page(ctx: Ctx, Query(q): Query<Done>) -> Response {
    let r = async {
        ctx.require(Role::Admin)?;
        let mut d = data(&ctx).await?;
        d["begun"] = json!(q.begun.is_some());
        d["switched"] = json!(q.switched.is_some());
        Ok(ctx.render("security.html", d))
    }
    .await;
    ctx.respond(r)
}

/// The page again with a clerk's mistake (no rotation under way…) told at the key's card.
async fn refused(ctx: &Ctx, e: ApiError) -> Result<Response, ApiError> {
    if !e.status.is_client_error() {
        return Err(e);
    }
    let mut d = data(ctx).await?;
    d["error"] = json!(ctx.error_text(&e));
    Ok(ctx.render_status(e.status, "security.html", d))
}

async fn rotate(ctx: Ctx, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        match begin_rotation(&ctx.s).await.map_err(ApiError::from) {
            Ok(()) => Ok(Redirect::to("/ui/security?begun=1#keys").into_response()),
            Err(e) => refused(&ctx, e).await,
        }
    }
    .await;
    ctx.respond(r)
}

/// Switches to the next key. Refused because some loudspeakers have not seen it, the answer
/// is a confirmation naming them, whose button sends the form again with `force`.
async fn commit(ctx: Ctx, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Admin)?;
        actor.check_form_csrf(form.csrf())?;
        let force = form.get("force").is_some();
        match commit_rotation(&ctx.s, force).await.map_err(ApiError::from) {
            Ok(()) => Ok(Redirect::to("/ui/security?switched=1#keys").into_response()),
            Err(e) if e.code == "keys.not_seen" => {
                let behind: Vec<Value> = status(&ctx.s)
                    .await?
                    .nodes
                    .into_iter()
                    .filter(|n| !n.knows_next)
                    .map(|n| json!({"id": n.id, "name": n.name}))
                    .collect();
                Ok(ctx.render_status(e.status, "keys_force.html", json!({"behind": behind})))
            }
            Err(e) => refused(&ctx, e).await,
        }
    }
    .await;
    ctx.respond(r)
}
