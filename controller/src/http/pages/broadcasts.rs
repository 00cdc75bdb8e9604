//! `/ui/broadcasts` and `/ui/broadcasts/{id}`: the broadcasts, and for each one every node's
//! delivery grouped by village, with the time of each step, the reason of a failure, the
//! start error and the parts played (chime, languages). Operators may withdraw one. The data
//! is the API's own view ([`crate::ops::broadcasts::view`]).

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use loa_protocol::Stage;
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::form::FormData;
use super::render::Ctx;
use crate::http::{ApiError, AppState};
use crate::ops::broadcasts::{cancel_broadcast, view};
use crate::store::accounts::Role;

/// How many broadcasts the list shows.
const LIST_LIMIT: i64 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/broadcasts", get(list))
        .route("/ui/broadcasts/{id}", get(one))
        .route("/ui/broadcasts/{id}/cancel", post(cancel))
}

async fn list(ctx: Ctx) -> Response {
    let r = async {
        let actor = ctx.require(Role::Viewer)?;
        let mut rows = Vec::new();
        for o in ctx.s.store.occurrences(LIST_LIMIT).await? {
            if !actor.concerns(&ctx.s.store, &o.zone_ids).await? {
                continue;
            }
            let v = view(&ctx.s, actor, o).await?;
            let targeted = v.deliveries.len();
            let played = v.summary.get(&Stage::Played).copied().unwrap_or(0);
            let problems = [Stage::Failed, Stage::Missed]
                .iter()
                .map(|s| v.summary.get(s).copied().unwrap_or(0))
                .sum::<usize>();
            rows.push(
                json!({"b": v.occurrence, "targeted": targeted, "played": played,
                             "problems": problems}),
            );
        }
        Ok(ctx.render("broadcasts.html", json!({"broadcasts": rows})))
    }
    .await;
    ctx.respond(r)
}

async fn one(ctx: Ctx, Path(id): Path<i64>) -> Response {
    let r = async {
        let actor = ctx.require(Role::Viewer)?;
        let occ = ctx.s.store.occurrence(id).await?;
        actor.check_concerns(&ctx.s.store, &occ.zone_ids).await?;
        let v = view(&ctx.s, actor, occ).await?;
        let mut villages: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut open = false;
        for line in &v.deliveries {
            let d = &line.delivery;
            open |= !matches!(d.stage, Stage::Played | Stage::Missed | Stage::Cancelled);
            let steps: Vec<Value> = Stage::ALL
                .iter()
                .filter_map(|st| d.times.get(st).map(|t| json!({"stage": st, "at": t})))
                .collect();
            villages.entry(line.zone.clone()).or_default().push(json!({
                "d": d, "steps": steps,
            }));
        }
        let villages: Vec<Value> = villages
            .into_iter()
            .map(|(zone, nodes)| {
                let played = nodes.iter().filter(|n| n["d"]["stage"] == "played").count();
                json!({"zone": zone, "nodes": nodes, "played": played})
            })
            .collect();
        let summary: Vec<Value> = v
            .summary
            .iter()
            .map(|(st, n)| json!({"stage": st, "count": n}))
            .collect();
        Ok(ctx.render(
            "broadcast.html",
            json!({"b": v.occurrence, "summary": summary, "villages": villages,
                   "can_cancel": open && v.occurrence.cancelled_at.is_none()
                       && actor.role() >= Role::Operator,
                   "total": v.deliveries.len(), "recordings": v.recordings}),
        ))
    }
    .await;
    ctx.respond(r)
}

async fn cancel(ctx: Ctx, Path(id): Path<i64>, form: FormData) -> Response {
    let r = async {
        let actor = ctx.require(Role::Operator)?;
        actor.check_form_csrf(form.csrf())?;
        let reason = form.get("reason").map(str::to_owned);
        cancel_broadcast(&ctx.s, actor, id, reason).await?;
        Ok::<_, ApiError>(Redirect::to(&format!("/ui/broadcasts/{id}")).into_response())
    }
    .await;
    ctx.respond(r)
}
