//! `/ui/reports`: the delivery report per village for a day or a period — what province
//! dashboards ask of each station — with coverage, a CSV download for the official's daily
//! report, and a printable page. The numbers are the API's own
//! ([`crate::ops::reports::build`]); an account limited to zones sees its villages only.

use axum::extract::Query;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::render::Ctx;
use crate::http::AppState;
use crate::ops::reports::build;
use crate::store::accounts::Role;

pub fn router() -> Router<AppState> {
    Router::new().route("/ui/reports", get(page))
}

#[derive(Deserialize)]
struct Params {
    from: Option<String>,
    to: Option<String>,
}

async fn page(ctx: Ctx, Query(q): Query<Params>) -> Response {
    let r = async {
        let actor = ctx.require(Role::Viewer)?;
        let from = q.from.as_deref().filter(|s| !s.is_empty());
        let to = q.to.as_deref().filter(|s| !s.is_empty());
        let report = build(&ctx.s, actor, from, to).await?;
        let csv = format!(
            "/api/v1/reports/villages?format=csv&from={}&to={}&lang={}",
            report.from,
            report.to,
            ctx.lang.code()
        );
        Ok(ctx.render("reports.html", json!({"report": report, "csv_href": csv})))
    }
    .await;
    ctx.respond(r)
}
