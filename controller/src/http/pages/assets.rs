//! `/ui/static/{file}`: the stylesheet and the small scripts, and under `/ui/static/leaflet/`
//! the map library (Leaflet, vendored from npm: `controller/static/leaflet/README.md`), all
//! embedded in the binary.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::http::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ui/static/{file}", get(file))
        .route("/ui/static/leaflet/{*path}", get(leaflet))
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const PNG: &str = "image/png";

async fn file(Path(name): Path<String>) -> Response {
    let (body, kind): (&'static [u8], _) = match name.as_str() {
        "app.css" => (include_bytes!("../../../static/app.css"), CSS),
        "app.js" => (include_bytes!("../../../static/app.js"), JS),
        "map.js" => (include_bytes!("../../../static/map.js"), JS),
        "live.js" => (include_bytes!("../../../static/live.js"), JS),
        "live-worklet.js" => (include_bytes!("../../../static/live-worklet.js"), JS),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    serve(body, kind)
}

async fn leaflet(Path(path): Path<String>) -> Response {
    let (body, kind): (&'static [u8], _) = match path.as_str() {
        "leaflet.js" => (include_bytes!("../../../static/leaflet/leaflet.js"), JS),
        "leaflet.css" => (include_bytes!("../../../static/leaflet/leaflet.css"), CSS),
        "images/layers.png" => (
            include_bytes!("../../../static/leaflet/images/layers.png"),
            PNG,
        ),
        "images/layers-2x.png" => (
            include_bytes!("../../../static/leaflet/images/layers-2x.png"),
            PNG,
        ),
        "images/marker-icon.png" => (
            include_bytes!("../../../static/leaflet/images/marker-icon.png"),
            PNG,
        ),
        "images/marker-icon-2x.png" => (
            include_bytes!("../../../static/leaflet/images/marker-icon-2x.png"),
            PNG,
        ),
        "images/marker-shadow.png" => (
            include_bytes!("../../../static/leaflet/images/marker-shadow.png"),
            PNG,
        ),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    serve(body, kind)
}

fn serve(body: &'static [u8], kind: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}
