//! The REST API's OpenAPI 3.1 document, generated from the code and served at
//! `GET /api/v1/openapi.json`. Just over 500 lines: the routers gathered, the tags, and the
//! policy read back from the document belong in one place.
//!
//! Each API handler carries a `#[utoipa::path]` annotation: its method and path (the router
//! takes its route from there, through `utoipa_axum::routes!`), its request and response
//! types (which derive `ToSchema`), and the role it needs as the extension `x-loa-role`.
//! [`api`] gathers them into one `OpenApiRouter`; [`Spec::new`] then
//!
//! - reads every operation's role into the [`Policy`] the guard enforces (an operation without
//!   one gets [`Access::DEFAULT`], admin, and is listed in [`Spec::unassigned`] so a test fails);
//! - fills in what follows from the role and the shape of each operation rather than being
//!   repeated on every handler: `security`, a description starting `Role: …`, and the shared
//!   error responses (401/403 for a role, 429 under `/api/v1`, 507 for a change,
//!   400/413/415/422 for a JSON body, 400 for a typed path parameter, 500 everywhere);
//! - adds the document's front matter (info, tags, security schemes, shared responses);
//! - closes the schemas only answers use (`unevaluatedProperties: false`), so a field a handler
//!   sends that its type's schema does not name fails the tests that validate real answers.
//!
//! Just over 500 lines with its tests (the last 30), which check the document this file builds.

use axum::http::{header, Method};
use axum::response::IntoResponse;
use axum::Extension;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use utoipa::PartialSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use crate::auth::policy::{Access, Policy};

/// Every API route, with its annotations. The pages are not part of it.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(super::health::routes())
        .merge(super::zones::routes())
        .merge(super::nodes::routes())
        .merge(super::faults::routes())
        .merge(super::map::routes())
        .merge(super::media::routes())
        .merge(super::sources::routes())
        .merge(super::streams::routes())
        .merge(super::live::routes())
        .merge(super::broadcasts::routes())
        .merge(super::schedules::routes())
        .merge(super::settings::routes())
        .merge(super::tts::routes())
        .merge(super::cap::routes())
        .merge(super::login::routes())
        .merge(super::users::routes())
        .merge(super::reports::routes())
        .merge(super::security::routes())
        .merge(super::keys::routes())
        .merge(super::releases::routes())
        .routes(routes!(document))
}

/// The document as served, and the roles read from it.
pub struct Spec {
    /// The finished document, serialized once.
    pub document: String,
    pub policy: Policy,
    /// `(METHOD, path)` of the operations whose annotation names no role.
    pub unassigned: Vec<(String, String)>,
}

impl Spec {
    pub fn new(doc: utoipa::openapi::OpenApi) -> Spec {
        let mut doc = serde_json::to_value(doc).expect("the document serializes");
        let mut routes = Vec::new();
        let mut unassigned = Vec::new();
        let paths = doc["paths"].as_object_mut().expect("paths");
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for (method, op) in item.iter_mut() {
                let Ok(m) = method.to_uppercase().parse::<Method>() else {
                    continue;
                };
                let Some(op) = op.as_object_mut() else {
                    continue;
                };
                let named = op
                    .get("x-loa-role")
                    .and_then(Value::as_str)
                    .and_then(Access::parse);
                if named.is_none() {
                    unassigned.push((m.to_string(), path.clone()));
                }
                let access = named.unwrap_or(Access::DEFAULT);
                complete(op, &m, path, access);
                routes.push((m.to_string(), path.clone(), access));
            }
        }
        front_matter(&mut doc);
        close_answers(&mut doc);
        Spec {
            document: doc.to_string(),
            policy: Policy::new(routes),
            unassigned,
        }
    }
}

/// Fills in what an operation's role and shape imply.
fn complete(op: &mut Map<String, Value>, method: &Method, path: &str, access: Access) {
    op.insert("x-loa-role".into(), json!(access.as_str()));
    let role_line = format!("Role: {}.", access.as_str());
    let description = match op.get("description").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => format!("{role_line} {d}"),
        _ => role_line,
    };
    op.insert("description".into(), json!(description));
    let change = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let security = match access {
        Access::Public => json!([]),
        // An API token, or a session cookie (with its CSRF token for a change).
        Access::Role(_) if change => {
            json!([{"bearerAuth": []}, {"cookieAuth": [], "csrfHeader": []}])
        }
        Access::Role(_) => json!([{"bearerAuth": []}, {"cookieAuth": []}]),
    };
    op.insert("security".into(), security);

    let json_body = op
        .get("requestBody")
        .and_then(|b| b.get("content"))
        .and_then(|c| c.get("application/json"))
        .is_some();
    let typed_path = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter().any(|p| {
                (p["in"] == "path" && p["schema"]["type"] == "integer")
                    || (p["in"] == "query" && p["schema"]["type"] != "string")
            })
        });
    let mut shared = vec!["500"];
    if let Access::Role(_) = access {
        shared.extend(["401", "403"]);
    }
    if path.starts_with("/api/v1/") {
        shared.push("429");
    }
    if change {
        shared.push("507");
    }
    if json_body {
        shared.extend(["400", "413", "415", "422"]);
    }
    if typed_path {
        shared.push("400");
    }
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("responses");
    for status in shared {
        responses.entry(status).or_insert_with(|| json!({}));
    }
    // A shared status named without a body: the shared response, with the operation's own
    // words if it has some.
    for (status, response) in responses.iter_mut() {
        let Some((name, ..)) = SHARED.iter().find(|(_, s, ..)| s == status) else {
            continue;
        };
        if response.get("content").is_some() || response.get("$ref").is_some() {
            continue;
        }
        match response.get("description").and_then(Value::as_str) {
            Some(d) if !d.is_empty() => {
                let content = shared_response(name).1["content"].clone();
                response["content"] = content;
            }
            _ => *response = json!({"$ref": format!("#/components/responses/{name}")}),
        }
    }
}

/// The errors many operations share: `(name, status, description, JSON error, plain text)`.
const SHARED: &[(&str, &str, &str, bool, bool)] = &[
    (
        "BadRequest",
        "400",
        "A request the web framework could not read: a body that is not JSON, or a path or \
         query parameter of the wrong type. Plain text, not the JSON error.",
        false,
        true,
    ),
    (
        "Unauthorized",
        "401",
        "Not signed in (`auth.required`): no session, no API token, or one that is not (or no \
         longer) valid.",
        true,
        false,
    ),
    (
        "Forbidden",
        "403",
        "Too small a role (`auth.forbidden`), outside the account's zones (`auth.zone`), or a \
         browser change without its CSRF token (`auth.csrf`).",
        true,
        false,
    ),
    (
        "NotFound",
        "404",
        "Something named in the request does not exist (`not_found`).",
        true,
        false,
    ),
    (
        "Conflict",
        "409",
        "The request clashes with what is stored (`conflict`, `schedule.from_file`, \
         `schedule.not_draft`).",
        true,
        false,
    ),
    (
        "TooLarge",
        "413",
        "A JSON request over 1 MiB (`too_large`).",
        true,
        false,
    ),
    (
        "UnsupportedMediaType",
        "415",
        "A body without `Content-Type: application/json`. Plain text, from the web framework.",
        false,
        true,
    ),
    (
        "Invalid",
        "422",
        "The request breaks a rule (`invalid`, or a more specific code such as \
         `tts.text_empty`, `text.too_long` for a name or title over its limit, `zone.too_deep` \
         for a zone below the deepest level; `docs/limits.md` lists them). A JSON body whose \
         fields do not fit their types (a missing field, a string for a number) is refused by \
         the web framework before the handler, in plain text.",
        true,
        true,
    ),
    (
        "RateLimited",
        "429",
        "Too many requests from one client (`rate_limited`): an API token, a browser session, \
         or (signed out) an address may keep up `[limits] requests_per_minute` (default 1200) \
         after a burst of `burst` (default 300). Wait the seconds in `Retry-After`.",
        true,
        false,
    ),
    (
        "Internal",
        "500",
        "The controller's own failure (`internal`); the details are in its log.",
        true,
        false,
    ),
    (
        "TtsUnavailable",
        "503",
        "The controller's machine lacks espeak-ng (`tts.engine_missing`) or the voice's data \
         (`tts.voice_missing`); the message says what to install.",
        true,
        false,
    ),
    (
        "DiskFull",
        "507",
        "The controller's disk is full (`disk.full`): nothing could be saved. The same request \
         works again once space is freed; the controller's log says what could not be written.",
        true,
        false,
    ),
];

/// One shared response as `(name, response object)`.
fn shared_response(name: &str) -> (&'static str, Value) {
    let (name, _, description, json_error, text) = SHARED
        .iter()
        .find(|(n, ..)| *n == name)
        .copied()
        .expect("a shared response");
    let mut content = Map::new();
    if json_error {
        content.insert(
            "application/json".into(),
            json!({"schema": {"$ref": "#/components/schemas/Error"}}),
        );
    }
    if text {
        content.insert("text/plain".into(), json!({"schema": {"type": "string"}}));
    }
    let mut response = json!({"description": description, "content": content});
    if name == "RateLimited" {
        response["headers"] = json!({"Retry-After": {
            "description": "Whole seconds to wait before asking again.",
            "schema": {"type": "integer", "minimum": 1}
        }});
    }
    (name, response)
}

const DESCRIPTION: &str = "JSON in and out. Errors are `{\"error\": \"<what is wrong, in plain \
words>\", \"code\": \"<stable key>\"}` with a 4xx status for the caller's mistakes and a \
detail-free 500 for the controller's own. Exceptions, made by the web framework before a handler \
runs: a request body that is not JSON (400), that lacks `Content-Type: application/json` (415) or \
does not fit the expected type (422), and a path or query parameter of the wrong type (400) are \
answered in plain text.\n\nEvery operation states the role it needs in `x-loa-role` (`public`, \
`viewer`, `operator`, `admin`; each role may do what the roles before it may). This document is \
generated from the controller's code (`controller/src/http/openapi.rs`): the role written on \
each handler is the one the server enforces.\n\nEvery `/api/v1` operation may answer 429 \
(`rate_limited`, with `Retry-After`) to a client over its request rate; the limits and their \
errors are listed in `docs/limits.md`.\n\nTimes are RFC 3339 in UTC unless said otherwise; local \
times are in the commune's time zone (`time_zone` in the settings).";

const TAGS: &[(&str, &str)] = &[
    ("health", "Health, the clock and metrics."),
    ("accounts", "Sign-in, users, API tokens and the audit log."),
    ("zones", "The commune → village → cluster tree."),
    ("nodes", "Loudspeaker nodes: provisioning and the registry."),
    ("media", "Uploaded recordings, and their download by nodes."),
    (
        "sources",
        "Relay sources: stations' streams the controller passes on, and their stream for nodes.",
    ),
    (
        "live",
        "Live sessions: staff speak to villages from the browser's microphone.",
    ),
    (
        "broadcasts",
        "Announcements and one-off broadcasts with their deliveries.",
    ),
    ("schedules", "Standing programmes and one-off schedules."),
    ("settings", "Commune settings."),
    ("tts", "Text-to-speech."),
    ("cap", "CAP 1.2 alerts from authorities: taken in, played on the stations inside their area, or refused with why."),
    ("reports", "Reports for officials."),
    (
        "security",
        "What was refused on the nodes' topics, and the controller's signing key.",
    ),
    (
        "releases",
        "Node releases over the air: signed uploads, rollouts and each node's progress.",
    ),
    ("meta", "This document."),
];

/// Info, servers, tags, security schemes and the shared responses.
fn front_matter(doc: &mut Value) {
    doc["openapi"] = json!("3.1.0");
    doc["info"] = json!({
        "title": "loa-controller REST API",
        "version": "1",
        "summary": "The commune's public-address controller: zones, nodes, media, \
                    announcements, broadcasts, schedules, accounts.",
        "description": DESCRIPTION,
        "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
    });
    doc["servers"] = json!([{"url": "/"}]);
    doc["tags"] = TAGS
        .iter()
        .map(|(name, description)| json!({"name": name, "description": description}))
        .collect();
    let components = doc
        .as_object_mut()
        .expect("an object")
        .entry("components")
        .or_insert_with(|| json!({}));
    components["securitySchemes"] = json!({
        "bearerAuth": {
            "type": "http", "scheme": "bearer", "bearerFormat": "loa_…",
            "description": "An API token for scripts, `Authorization: Bearer loa_…` \
                            (`POST /api/v1/users/{id}/tokens`)."
        },
        "cookieAuth": {
            "type": "apiKey", "in": "cookie", "name": "loa_session",
            "description": "A browser session from `POST /api/v1/login`."
        },
        "csrfHeader": {
            "type": "apiKey", "in": "header", "name": "X-CSRF-Token",
            "description": "The session's CSRF token (`csrf_token` from login or \
                            `/api/v1/me`); every change made with a session cookie must carry \
                            it, else 403 `auth.csrf`."
        }
    });
    components["responses"] = SHARED
        .iter()
        .map(|(name, ..)| {
            let (name, r) = shared_response(name);
            (name.to_owned(), r)
        })
        .collect::<Map<_, _>>()
        .into();
    let schemas = components
        .as_object_mut()
        .expect("an object")
        .entry("schemas")
        .or_insert_with(|| json!({}));
    schemas["Error"] =
        serde_json::to_value(super::error::ErrorBody::schema()).expect("a schema serializes");
}

/// Marks each object schema that only answers use (not request bodies) as having no fields
/// beyond those it names. A schema flattened into another (`allOf`) is left open, and the one
/// it is flattened into is closed instead: `unevaluatedProperties` sees through `allOf`.
fn close_answers(doc: &mut Value) {
    const SCHEMAS: &str = "#/components/schemas/";
    /// Every `$ref` in `v`, following schemas and shared responses transitively.
    fn reach(doc: &Value, v: &Value, seen: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                    if seen.insert(r.to_owned()) {
                        if let Some(target) = doc.pointer(r.trim_start_matches('#')) {
                            reach(doc, target, seen);
                        }
                    }
                }
                map.values().for_each(|v| reach(doc, v, seen));
            }
            Value::Array(items) => items.iter().for_each(|v| reach(doc, v, seen)),
            _ => {}
        }
    }
    let (mut answers, mut requests) = (BTreeSet::new(), BTreeSet::new());
    for item in doc["paths"].as_object().into_iter().flat_map(Map::values) {
        for op in item.as_object().into_iter().flat_map(Map::values) {
            reach(doc, &op["responses"], &mut answers);
            reach(doc, &op["requestBody"], &mut requests);
        }
    }
    let schemas = &doc["components"]["schemas"];
    let flattened: BTreeSet<String> = schemas
        .as_object()
        .into_iter()
        .flat_map(Map::values)
        .filter_map(|s| s["allOf"].as_array())
        .flatten()
        .filter_map(|m| m["$ref"].as_str().map(str::to_owned))
        .collect();
    let closed: Vec<String> = answers
        .difference(&requests)
        .filter(|r| !flattened.contains(*r))
        .filter_map(|r| r.strip_prefix(SCHEMAS).map(str::to_owned))
        .collect();
    let Some(schemas) = doc["components"]["schemas"].as_object_mut() else {
        return;
    };
    for name in closed {
        let Some(schema) = schemas.get_mut(&name).and_then(Value::as_object_mut) else {
            continue;
        };
        let object = schema.contains_key("properties") || schema.contains_key("allOf");
        if object && !schema.contains_key("additionalProperties") {
            schema.insert("unevaluatedProperties".into(), json!(false));
        }
    }
}

/// The OpenAPI 3.1 document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    operation_id = "openapi",
    extensions(("x-loa-role" = json!("public"))),
    responses((status = 200, description = "This document.", body = Object))
)]
async fn document(Extension(spec): Extension<Arc<Spec>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        spec.document.clone(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A route added without a role is closed to all but admins, and a test names it.
    #[test]
    fn an_operation_without_a_role_needs_an_admin() {
        #[utoipa::path(get, path = "/api/v1/forgotten", responses((status = 200)))]
        async fn forgotten() {}
        let (_, doc) = api().routes(routes!(forgotten)).split_for_parts();
        let spec = Spec::new(doc);
        assert_eq!(
            spec.unassigned,
            vec![("GET".to_owned(), "/api/v1/forgotten".to_owned())]
        );
        assert_eq!(
            spec.policy.access(&Method::GET, "/api/v1/forgotten"),
            Access::DEFAULT
        );
    }

    #[test]
    fn every_operation_names_its_role() {
        let (_, doc) = api().split_for_parts();
        assert_eq!(Spec::new(doc).unassigned, Vec::<(String, String)>::new());
    }
}
