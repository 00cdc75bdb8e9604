//! The OpenAPI document is generated from the handlers' annotations (see
//! `controller/src/http/openapi.rs`), so its routes and roles are the router's and the guard's
//! by construction; `tests/access.rs` calls every documented route as each role. What is left
//! to check here, over the real router and a real SQLite, is what generation cannot promise:
//!
//! - the document is OpenAPI 3.1, and each operation's security and error responses fit the
//!   role its annotation names;
//! - a realistic scenario (zones, nodes, uploads, announcements in two languages, broadcasts
//!   with deliveries, schedules with a dry run and conflicts, settings, accounts and tokens,
//!   sign-in, the audit log, the report, and the usual errors) goes through a [`Checker`] that
//!   finds the operation each request reached and validates the response against what the
//!   document says for that status: a status it does not list fails, a content type it does
//!   not list fails, and a JSON body is validated against the schema with `jsonschema` (so a
//!   handler whose annotation names the wrong type, or a type whose serde attributes the
//!   schema misreads, fails here);
//! - every success response the document lists was seen at least once.

mod common;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use chrono::{Duration, Utc};
use common::{fixture, Harness, Reply};
use loa_controller::auth::policy::Access;
use loa_protocol::{Event, EventBody, Stage};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};

const METHODS: [&str; 8] = [
    "get", "put", "post", "patch", "delete", "head", "options", "trace",
];

/// The document as the controller serves it.
async fn document(h: &Harness) -> Value {
    let r = h
        .call_as(anonymous(Method::GET, "/api/v1/openapi.json"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.header(header::CONTENT_TYPE), Some("application/json"));
    r.json()
}

fn anonymous(method: Method, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

/// Every `(METHOD, path)` the document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Follows `$ref`s within the document.
fn resolve<'d>(doc: &'d Value, mut v: &'d Value) -> &'d Value {
    while let Some(r) = v.get("$ref").and_then(Value::as_str) {
        v = doc
            .pointer(r.strip_prefix('#').expect("a local $ref"))
            .unwrap_or_else(|| panic!("{r} is not in the document"));
    }
    v
}

#[tokio::test]
async fn every_operation_states_the_role_the_guard_enforces() {
    let h = Harness::new().await;
    let doc = document(&h).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let policy = loa_controller::http::policy();
    let documented = operations(&doc);
    let api: BTreeSet<(String, String)> = policy
        .routes()
        .filter(|(_, r, _)| !r.starts_with("/ui"))
        .map(|(m, r, _)| (m.to_owned(), r.to_owned()))
        .collect();
    assert_eq!(documented, api, "the guard's routes are the document's");
    for (method, path) in documented {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let what = format!("{method} {path}");
        let want = match policy.access(&method.parse().unwrap(), &path) {
            Access::Public => "public",
            Access::Role(r) => r.as_str(),
        };
        assert_eq!(op["x-loa-role"], want, "{what}: x-loa-role");
        let description = op["description"].as_str().unwrap_or("");
        assert!(
            description.starts_with(&format!("Role: {want}")),
            "{what}: the description should start with \"Role: {want}\": {description:?}"
        );
        let security = op["security"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no security"));
        if want == "public" {
            assert!(security.is_empty(), "{what}: public, so security: []");
            continue;
        }
        // An API token, or a session cookie (with its CSRF token for a change).
        let change = method != "GET";
        let cookie = if change {
            json!({"cookieAuth": [], "csrfHeader": []})
        } else {
            json!({"cookieAuth": []})
        };
        assert_eq!(
            Value::Array(security.clone()),
            json!([{"bearerAuth": []}, cookie]),
            "{what}: security"
        );
        for status in ["401", "403"] {
            assert!(
                op["responses"].get(status).is_some(),
                "{what}: a signed-in route can answer {status}"
            );
        }
    }
}

/// Sends requests, finds the documented operation each reached, and checks the answer
/// against it; remembers which documented responses were seen.
struct Checker<'h> {
    h: &'h Harness,
    doc: Value,
    /// Compiled schemas, by `METHOD path status content-type`.
    validators: HashMap<String, jsonschema::Validator>,
    /// `(METHOD, path, status, content type or "")` of every response checked.
    seen: BTreeSet<(String, String, String, String)>,
}

impl<'h> Checker<'h> {
    /// Sends `req` as the admin unless it carries credentials.
    async fn call(&mut self, req: Request<Body>) -> Reply {
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let r = self.h.call(req).await;
        self.check(&method, uri.path(), &r);
        r
    }

    /// Sends `req` with exactly the credentials it carries.
    async fn call_as(&mut self, req: Request<Body>) -> Reply {
        let (method, uri) = (req.method().clone(), req.uri().clone());
        let r = self.h.call_as(req).await;
        self.check(&method, uri.path(), &r);
        r
    }

    async fn get(&mut self, uri: &str) -> Reply {
        self.call(anonymous(Method::GET, uri)).await
    }

    async fn send(&mut self, method: Method, uri: &str, body: Value) -> Reply {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.call(req).await
    }

    async fn post(&mut self, uri: &str, body: Value) -> Reply {
        self.send(Method::POST, uri, body).await
    }

    async fn put(&mut self, uri: &str, body: Value) -> Reply {
        self.send(Method::PUT, uri, body).await
    }

    async fn patch(&mut self, uri: &str, body: Value) -> Reply {
        self.send(Method::PATCH, uri, body).await
    }

    /// `POST` without a body.
    async fn post_empty(&mut self, uri: &str) -> Reply {
        self.call(anonymous(Method::POST, uri)).await
    }

    /// A request with `token` as its bearer token.
    async fn as_token(&mut self, token: &str, method: Method, uri: &str, body: Value) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let req = if body.is_null() {
            req.body(Body::empty()).unwrap()
        } else {
            req = req.header(header::CONTENT_TYPE, "application/json");
            req.body(Body::from(body.to_string())).unwrap()
        };
        self.call_as(req).await
    }

    /// The documented path template `path` matches; literal segments win over parameters.
    fn template(&self, path: &str) -> String {
        let segments: Vec<&str> = path.split('/').collect();
        self.doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|t| {
                let ts: Vec<&str> = t.split('/').collect();
                ts.len() == segments.len()
                    && ts.iter().zip(&segments).all(|(t, s)| {
                        t == s || (t.starts_with('{') && t.ends_with('}') && !s.is_empty())
                    })
            })
            .min_by_key(|t| t.matches('{').count())
            .unwrap_or_else(|| panic!("no documented path matches {path}"))
            .clone()
    }

    fn check(&mut self, method: &Method, path: &str, r: &Reply) {
        let template = self.template(path);
        let doc = &self.doc;
        let what = format!("{method} {path} ({template}) answered {}", r.status);
        let op = doc["paths"][&template]
            .get(method.as_str().to_lowercase())
            .unwrap_or_else(|| panic!("{what}: the method is not documented"));
        let status = r.status.as_u16().to_string();
        let response = op["responses"].get(&status).unwrap_or_else(|| {
            panic!(
                "{what}, a status the document does not list for it: {}",
                shown(r)
            )
        });
        let response = resolve(doc, response);
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            assert!(
                r.body.is_empty(),
                "{what}: documented without a body, but: {}",
                shown(r)
            );
            self.seen
                .insert((method.to_string(), template, status, String::new()));
            return;
        };
        let ctype = r
            .header(header::CONTENT_TYPE)
            .unwrap_or_else(|| panic!("{what}: no Content-Type; body: {}", shown(r)))
            .split(';')
            .next()
            .unwrap()
            .trim()
            .to_owned();
        let media = content.get(&ctype).unwrap_or_else(|| {
            panic!(
                "{what}: Content-Type {ctype} is not documented (only {:?}); body: {}",
                content.keys().collect::<Vec<_>>(),
                shown(r)
            )
        });
        if ctype == "application/json" {
            let key = format!("{method} {template} {status} {ctype}");
            let validator = self.validators.entry(key).or_insert_with(|| {
                // The schema with the document's components beside it, so that its
                // `#/components/schemas/…` references resolve.
                let root = json!({"allOf": [media["schema"]], "components": doc["components"]});
                jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&root)
                    .unwrap_or_else(|e| panic!("{what}: the schema does not compile: {e}"))
            });
            let body = r.json();
            let errors: Vec<String> = validator
                .iter_errors(&body)
                .map(|e| format!("{e} (at {})", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{what}: the body does not match its schema:\n  {}\nbody: {body:#}",
                errors.join("\n  ")
            );
        }
        self.seen
            .insert((method.to_string(), template, status, ctype));
    }

    /// Asserts every documented success response was seen.
    fn assert_successes_seen(&self) {
        let mut missing = Vec::new();
        for (method, path) in operations(&self.doc) {
            let op = &self.doc["paths"][&path][method.to_lowercase()];
            for (status, response) in op["responses"].as_object().unwrap() {
                if !status.starts_with('2') {
                    continue;
                }
                let response = resolve(&self.doc, response);
                let types: Vec<String> = match response.get("content") {
                    Some(c) => c.as_object().unwrap().keys().cloned().collect(),
                    None => vec![String::new()],
                };
                for t in types {
                    let key = (method.clone(), path.clone(), status.clone(), t.clone());
                    if !self.seen.contains(&key) {
                        missing.push(format!("{method} {path} {status} {t}"));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "documented success responses the scenario never saw:\n  {}",
            missing.join("\n  ")
        );
    }
}

/// A body for a failure message: text as it is, anything else by its size.
fn shown(r: &Reply) -> String {
    match std::str::from_utf8(&r.body) {
        Ok(text) if text.len() <= 4000 => text.to_owned(),
        _ => format!("<{} bytes>", r.body.len()),
    }
}

#[track_caller]
fn expect(r: &Reply, status: StatusCode) -> Value {
    assert_eq!(r.status, status, "{}", shown(r));
    if r.header(header::CONTENT_TYPE) == Some("application/json") {
        r.json()
    } else {
        Value::Null
    }
}

#[track_caller]
fn expect_error(r: &Reply, status: StatusCode, code: &str) {
    r.assert_error(status, code, &[]);
}

fn id(v: &Value) -> i64 {
    v["id"].as_i64().unwrap_or_else(|| panic!("no id in {v}"))
}

/// The node's media token, from the config file it was given.
fn media_token(config_toml: &str) -> String {
    let v: toml::Value = toml::from_str(config_toml).expect("the config parses");
    v.get("media_token")
        .and_then(toml::Value::as_str)
        .expect("a media token in the config")
        .to_owned()
}

#[tokio::test]
async fn responses_match_their_schemas_in_a_realistic_scenario() {
    let release_key = loa_protocol::generate_key();
    let h =
        Harness::with_config(|c| c.release_key = Some(loa_protocol::public_key_b64(&release_key)))
            .await;
    let doc = document(&h).await;
    let mut c = Checker {
        h: &h,
        doc,
        validators: HashMap::new(),
        seen: BTreeSet::new(),
    };
    let json_ct = |method: Method, uri: &str, body: &str| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned()))
            .unwrap()
    };

    // Health, the clock, metrics, this document.
    c.call_as(anonymous(Method::GET, "/api/v1/openapi.json"))
        .await;
    expect(
        &c.call_as(anonymous(Method::GET, "/healthz")).await,
        StatusCode::OK,
    );
    c.call_as(anonymous(Method::GET, "/time")).await;
    let m = c.call_as(anonymous(Method::GET, "/metrics")).await;
    expect(&m, StatusCode::OK);

    // Not signed in.
    let r = c.call_as(anonymous(Method::GET, "/api/v1/zones")).await;
    expect_error(&r, StatusCode::UNAUTHORIZED, "auth.required");

    // Zones.
    let commune = id(&expect(
        &c.post("/api/v1/zones", json!({"name": "Xã Tả Lùng"})).await,
        StatusCode::CREATED,
    ));
    let na_sai = id(&expect(
        &c.post(
            "/api/v1/zones",
            json!({"name": "Thôn Nà Sài", "parent_id": commune}),
        )
        .await,
        StatusCode::CREATED,
    ));
    let phieng = id(&expect(
        &c.post(
            "/api/v1/zones",
            json!({"name": "Bản Phiêng", "parent_id": commune}),
        )
        .await,
        StatusCode::CREATED,
    ));
    let empty_zone = id(&expect(
        &c.post(
            "/api/v1/zones",
            json!({"name": "Bản Cốc", "parent_id": commune}),
        )
        .await,
        StatusCode::CREATED,
    ));
    let r = c
        .post(
            "/api/v1/zones",
            json!({"name": "Bản Phiêng", "parent_id": commune}),
        )
        .await;
    expect_error(&r, StatusCode::CONFLICT, "conflict");
    let r = c
        .post("/api/v1/zones", json!({"name": "Bản X", "parent_id": 9999}))
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = c.post("/api/v1/zones", json!({"name": "  "})).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    // The framework's own refusals, in plain text.
    let r = c.post("/api/v1/zones", json!({"parent_id": commune})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(
        r.header(header::CONTENT_TYPE),
        Some("text/plain; charset=utf-8"),
        "axum's own rejection, not the API's JSON error"
    );
    let r = c
        .call(json_ct(Method::POST, "/api/v1/zones", "{not json"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let r = c
        .call(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/zones")
                .body(Body::from(r#"{"name": "Bản Y"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text());
    let tree = expect(&c.get("/api/v1/zones").await, StatusCode::OK);
    assert_eq!(tree[0]["children"].as_array().unwrap().len(), 3, "{tree}");

    // Languages and quiet hours.
    let uri = format!("/api/v1/zones/{na_sai}/languages");
    let v = expect(
        &c.put(&uri, json!({"languages": ["hmn", "vi"]})).await,
        StatusCode::OK,
    );
    assert_eq!(v["effective"], json!(["hmn", "vi"]));
    expect(
        &c.put(
            &format!("/api/v1/zones/{phieng}/languages"),
            json!({"languages": null}),
        )
        .await,
        StatusCode::OK,
    );
    let r = c.put(&uri, json!({"languages": ["vi", "vi"]})).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let r = c
        .put("/api/v1/zones/9999/languages", json!({"languages": ["vi"]}))
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = c
        .put(
            "/api/v1/zones/na-sai/languages",
            json!({"languages": ["vi"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    let uri = format!("/api/v1/zones/{phieng}");
    let v = expect(
        &c.patch(&uri, json!({"name": "Bản Phiêng Trên"})).await,
        StatusCode::OK,
    );
    assert_eq!(v["name"], "Bản Phiêng Trên", "{v}");
    let r = c.patch(&uri, json!({"name": " "})).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let r = c.patch("/api/v1/zones/9999", json!({"name": "x"})).await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    let uri = format!("/api/v1/zones/{phieng}/quiet-hours");
    let v = expect(
        &c.put(&uri, json!({"start": "22:00", "end": "05:00"})).await,
        StatusCode::OK,
    );
    assert_eq!(v["quiet_hours"]["start"], "22:00:00", "{v}");
    let v = expect(&c.put(&uri, json!({})).await, StatusCode::OK);
    assert!(v["quiet_hours"].is_null(), "{v}");
    let r = c.put(&uri, json!({"start": "10 pm", "end": "05:00"})).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");

    // Nodes.
    let v = expect(
        &c.post(
            "/api/v1/nodes",
            json!({"id": "na-sai-1", "name": "Loa nhà văn hoá", "zone_id": na_sai}),
        )
        .await,
        StatusCode::CREATED,
    );
    let na_sai_token = media_token(v["config_toml"].as_str().unwrap());
    let r = c
        .post(
            "/api/v1/nodes?format=toml",
            json!({"id": "phieng-1", "name": "Loa Phiêng", "zone_id": phieng, "data_dir": "/srv/loa"}),
        )
        .await;
    expect(&r, StatusCode::CREATED);
    assert!(r.text().contains("/srv/loa"), "{}", r.text());
    let r = c
        .post(
            "/api/v1/nodes",
            json!({"id": "na-sai-1", "name": "Loa", "zone_id": na_sai}),
        )
        .await;
    expect_error(&r, StatusCode::CONFLICT, "conflict");
    let r = c
        .post("/api/v1/nodes", json!({"name": "Loa", "zone_id": 9999}))
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = c
        .post(
            "/api/v1/nodes",
            json!({"id": "loa nà sài", "name": "Loa", "zone_id": na_sai}),
        )
        .await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    expect(&c.get("/api/v1/nodes").await, StatusCode::OK);
    expect(&c.get("/api/v1/nodes/na-sai-1").await, StatusCode::OK);
    let r = c.get("/api/v1/nodes/khong-co").await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    expect(
        &c.get("/api/v1/nodes/na-sai-1/station").await,
        StatusCode::OK,
    );
    let r = c.get("/api/v1/nodes/khong-co/station").await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    expect(&c.get("/api/v1/faults").await, StatusCode::OK);
    let placed = expect(
        &c.put(
            "/api/v1/nodes/na-sai-1/location",
            json!({"latitude": 22.3364, "longitude": 104.1486}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(placed["location"]["source"], "centre", "{placed}");
    let r = c
        .put(
            "/api/v1/nodes/na-sai-1/location",
            json!({"latitude": 91, "longitude": 104}),
        )
        .await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "node.bad_location");
    let map = expect(&c.get("/api/v1/map/stations").await, StatusCode::OK);
    assert!(
        map["stations"].as_array().is_some_and(|s| !s.is_empty()),
        "{map}"
    );
    expect(
        &c.send(
            Method::DELETE,
            "/api/v1/nodes/na-sai-1/location",
            Value::Null,
        )
        .await,
        StatusCode::OK,
    );
    let v = expect(
        &c.patch(
            "/api/v1/nodes/phieng-1",
            json!({"volume": 80, "chime": false}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(
        (v["volume"].as_u64(), v["chime"].as_bool()),
        (Some(80), Some(false))
    );
    let r = c
        .patch("/api/v1/nodes/phieng-1", json!({"volume": 101}))
        .await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let r = c
        .patch("/api/v1/nodes/khong-co", json!({"volume": 50}))
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    expect(
        &c.post_empty("/api/v1/nodes/phieng-1/credentials").await,
        StatusCode::OK,
    );
    let r = c
        .post_empty("/api/v1/nodes/phieng-1/credentials?format=toml")
        .await;
    expect(&r, StatusCode::OK);
    let phieng_token = media_token(&r.text());
    let r = c.post_empty("/api/v1/nodes/khong-co/credentials").await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");

    // Media: uploads, refusals, records, and the nodes' downloads.
    let upload = |name: &str, bytes: Vec<u8>| {
        Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1/media?name={name}"))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(bytes))
            .unwrap()
    };
    let mut sha = HashMap::new();
    for name in [
        "tone-44100-stereo.mp3",
        "tone-22050-mono.ogg",
        "tone-8000-mono.wav",
    ] {
        let v = expect(
            &c.call(upload(name, fixture(name))).await,
            StatusCode::CREATED,
        );
        sha.insert(name, v["sha256"].as_str().unwrap().to_owned());
    }
    let (vi, hmn, chime) = (
        sha["tone-44100-stereo.mp3"].clone(),
        sha["tone-22050-mono.ogg"].clone(),
        sha["tone-8000-mono.wav"].clone(),
    );
    let r = c.call(upload("garbage.bin", fixture("garbage.bin"))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let r = c.call(upload("empty.mp3", Vec::new())).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "media.empty");
    expect(&c.get("/api/v1/media").await, StatusCode::OK);
    expect(&c.get(&format!("/api/v1/media/{vi}")).await, StatusCode::OK);
    // Staff listen to recordings, whole or a range, each with its audio type.
    for sha in [&vi, &hmn, &chime] {
        expect(
            &c.get(&format!("/api/v1/media/{sha}/audio")).await,
            StatusCode::OK,
        );
    }
    let ranged = Request::builder()
        .uri(format!("/api/v1/media/{vi}/audio"))
        .header(header::RANGE, "bytes=10-")
        .body(Body::empty())
        .unwrap();
    expect(&c.call(ranged).await, StatusCode::PARTIAL_CONTENT);
    let unknown = "0".repeat(64);
    let r = c.get(&format!("/api/v1/media/{unknown}")).await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");

    // Announcements: two languages, one, and refusals.
    let bilingual = id(&expect(
        &c.post(
            "/api/v1/announcements",
            json!({"title": "Thông báo tiêm phòng", "recordings": [
                {"language": "vi", "media_sha256": vi},
                {"language": "hmn", "media_sha256": hmn},
            ]}),
        )
        .await,
        StatusCode::CREATED,
    ));
    let plain = id(&expect(
        &c.post(
            "/api/v1/announcements",
            json!({"title": "Bản tin sáng", "media_sha256": vi}),
        )
        .await,
        StatusCode::CREATED,
    ));
    let r = c
        .post(
            "/api/v1/announcements",
            json!({"title": "Hai lần", "recordings": [
                {"language": "vi", "media_sha256": vi},
                {"language": "vi", "media_sha256": hmn},
            ]}),
        )
        .await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let r = c
        .post(
            "/api/v1/announcements",
            json!({"title": "Không có", "media_sha256": unknown}),
        )
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    expect(&c.get("/api/v1/announcements").await, StatusCode::OK);

    // Settings: the chime, replay or resume, the commune's languages.
    expect(&c.get("/api/v1/settings").await, StatusCode::OK);
    let v = expect(
        &c.put(
            "/api/v1/settings",
            json!({"chime_media": chime, "after_preempt": "resume", "languages": ["vi"], "require_approval": false}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(v["chime_media"], chime);
    let r = c
        .put("/api/v1/settings", json!({"chime_media": unknown}))
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = c.put("/api/v1/settings", json!({"languages": []})).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");

    // A broadcast to the whole commune, played on one node part by part.
    let at = Utc::now() + Duration::minutes(5);
    let b = expect(
        &c.post(
            "/api/v1/broadcasts",
            json!({"announcement_id": bilingual, "zones": [commune], "at": at.to_rfc3339(),
                   "priority": "priority", "expires_in_minutes": 30, "chime": true, "volume": 90}),
        )
        .await,
        StatusCode::CREATED,
    );
    let broadcast = id(&b);
    assert_eq!(b["deliveries"].as_array().unwrap().len(), 2, "{b}");
    // The nodes download the broadcast's media (only their plan's).
    let download = |sha: &str, token: Option<&str>, range: Option<&str>| {
        let mut req = Request::builder().uri(format!("/media/{sha}"));
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(r) = range {
            req = req.header(header::RANGE, r);
        }
        req.body(Body::empty()).unwrap()
    };
    let whole = c.call_as(download(&vi, Some(&na_sai_token), None)).await;
    expect(&whole, StatusCode::OK);
    let part = c
        .call_as(download(&vi, Some(&phieng_token), Some("bytes=100-")))
        .await;
    expect(&part, StatusCode::PARTIAL_CONTENT);
    let past = c
        .call_as(download(&vi, Some(&na_sai_token), Some("bytes=99999999-")))
        .await;
    expect(&past, StatusCode::RANGE_NOT_SATISFIABLE);
    let r = c.call_as(download(&vi, None, None)).await;
    expect_error(&r, StatusCode::UNAUTHORIZED, "media.token_missing");
    let r = c.call_as(download(&vi, Some("not-a-token"), None)).await;
    expect_error(&r, StatusCode::FORBIDDEN, "media.token_invalid");
    let r = c
        .call_as(download(&unknown, Some(&na_sai_token), None))
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "media.not_in_plan");
    // A node release: uploaded signed, listed, rolled out to one node, its binary fetched by
    // that node, its progress read.
    let binary = b"loa-node 0.2.0";
    let manifest = loa_protocol::ReleaseManifest {
        version: "0.2.0".into(),
        arch: "amd64".into(),
        sha256: common::sha256_hex(binary),
        size: binary.len() as u64,
    };
    let bundle = loa_protocol::release::write_bundle(&manifest.sign(&release_key), binary);
    let release = expect(
        &c.call(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/releases")
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::from(bundle))
                .unwrap(),
        )
        .await,
        StatusCode::CREATED,
    );
    expect(&c.get("/api/v1/releases").await, StatusCode::OK);
    let v = expect(
        &c.post(
            &format!("/api/v1/releases/{}/rollout", id(&release)),
            json!({"nodes": ["na-sai-1"]}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(v["nodes"][0]["status"], "pending", "{v}");
    expect(
        &c.get(&format!("/api/v1/releases/{}", id(&release))).await,
        StatusCode::OK,
    );
    let fetched = c
        .call_as(
            Request::builder()
                .uri(format!("/releases/{}", id(&release)))
                .header(header::AUTHORIZATION, format!("Bearer {na_sai_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    expect(&fetched, StatusCode::OK);
    let resumed = c
        .call_as(
            Request::builder()
                .uri(format!("/releases/{}", id(&release)))
                .header(header::AUTHORIZATION, format!("Bearer {na_sai_token}"))
                .header(header::RANGE, "bytes=2-")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    expect(&resumed, StatusCode::PARTIAL_CONTENT);
    // Relay sources, and a node's stream of one. The stream is open-ended: only its status
    // and headers are read (its station, on the discard port, never answers).
    let source = expect(
        &c.post(
            "/api/v1/sources",
            json!({"name": "Đài tỉnh", "url": "http://127.0.0.1:9/tinh.mp3"}),
        )
        .await,
        StatusCode::CREATED,
    );
    expect(&c.get("/api/v1/sources").await, StatusCode::OK);
    let r = c
        .as_token(
            &na_sai_token,
            Method::GET,
            &format!("/streams/{}", id(&source)),
            Value::Null,
        )
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "stream.not_in_plan");
    // A relay of it broadcast to Nà Sài: its node may listen. Cancelled after.
    let relay = expect(
        &c.post(
            "/api/v1/announcements",
            json!({"title": "Tiếp sóng Đài tỉnh", "relay": {"source_id": id(&source), "seconds": 600}}),
        )
        .await,
        StatusCode::CREATED,
    );
    let on_air = expect(
        &c.post(
            "/api/v1/broadcasts",
            json!({"announcement_id": id(&relay), "zones": [na_sai]}),
        )
        .await,
        StatusCode::CREATED,
    );
    let stream = {
        use tower::ServiceExt as _;
        let req = Request::builder()
            .uri(format!("/streams/{}", id(&source)))
            .header(header::AUTHORIZATION, format!("Bearer {na_sai_token}"))
            .body(Body::empty())
            .unwrap();
        let resp = h.app.clone().oneshot(req).await.unwrap();
        Reply {
            status: resp.status(),
            headers: resp.headers().clone(),
            body: Default::default(),
        }
    };
    c.check(&Method::GET, &format!("/streams/{}", id(&source)), &stream);
    assert_eq!(stream.status, StatusCode::OK);
    expect(
        &c.post(
            &format!("/api/v1/broadcasts/{}/cancel", id(&on_air)),
            json!({"reason": "thử"}),
        )
        .await,
        StatusCode::OK,
    );
    let r = c
        .send(
            Method::DELETE,
            &format!("/api/v1/sources/{}", id(&source)),
            Value::Null,
        )
        .await;
    expect_error(&r, StatusCode::CONFLICT, "source.in_use");
    let unused = expect(
        &c.post(
            "/api/v1/sources",
            json!({"name": "VOV1", "url": "http://127.0.0.1:9/vov1.mp3"}),
        )
        .await,
        StatusCode::CREATED,
    );
    let source = unused;
    let r = c
        .send(
            Method::DELETE,
            &format!("/api/v1/sources/{}", id(&source)),
            Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let item = h.plan("na-sai-1").await.items[0].id.clone();
    let step = |seq: u64, stage: Stage, start_error_ms: Option<i64>| Event {
        seq,
        at: Utc::now(),
        body: EventBody::Item {
            item: item.clone(),
            stage,
            reason: None,
            start_error_ms,
        },
    };
    let part = |seq: u64, part: u32, label: &str| Event {
        seq,
        at: Utc::now(),
        body: EventBody::PartPlayed {
            item: item.clone(),
            part,
            label: label.into(),
        },
    };
    h.ingest(
        "na-sai-1",
        vec![
            step(1, Stage::Received, None),
            step(2, Stage::Ready, None),
            step(3, Stage::Playing, Some(12)),
            part(4, 0, "chime"),
            part(5, 1, "hmn"),
            part(6, 2, "vi"),
            step(7, Stage::Played, None),
        ],
    )
    .await;
    let v = expect(
        &c.get(&format!("/api/v1/broadcasts/{broadcast}")).await,
        StatusCode::OK,
    );
    let played = v["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["node_id"] == "na-sai-1")
        .unwrap()
        .clone();
    assert_eq!(played["stage"], "played", "{played}");
    assert_eq!(played["start_error_ms"], 12, "{played}");
    assert!(played["parts"][2]["played_at"].is_string(), "{played}");
    // A live session to Nà Sài: started, followed, its socket asked for without an upgrade
    // (a plain request here: the WebSocket itself is tested over a socket in tests/live.rs),
    // stopped, and then closed to a speaker.
    let live = expect(
        &c.post("/api/v1/live", json!({"zones": [na_sai], "minutes": 5}))
            .await,
        StatusCode::CREATED,
    );
    expect(
        &c.get(&format!("/api/v1/live/{}", id(&live))).await,
        StatusCode::OK,
    );
    let r = c.get(&format!("/api/v1/live/{}/audio", id(&live))).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    expect(
        &c.post_empty(&format!("/api/v1/live/{}/stop", id(&live)))
            .await,
        StatusCode::OK,
    );
    let r = c.get(&format!("/api/v1/live/{}/audio", id(&live))).await;
    expect_error(&r, StatusCode::CONFLICT, "live.ended");
    let r = c
        .post("/api/v1/live", json!({"zones": [na_sai], "minutes": 0}))
        .await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "live.length");
    expect(&c.get("/api/v1/broadcasts").await, StatusCode::OK);
    let r = c.get("/api/v1/broadcasts/9999").await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = c
        .post(
            "/api/v1/broadcasts",
            json!({"announcement_id": plain, "zones": [empty_zone]}),
        )
        .await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let r = c
        .post(
            "/api/v1/broadcasts",
            json!({"announcement_id": 9999, "zones": [commune]}),
        )
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    let v = expect(
        &c.post(
            &format!("/api/v1/broadcasts/{broadcast}/cancel"),
            json!({"reason": "mưa to"}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(v["cancel_reason"], "mưa to", "{v}");
    let r = c
        .post_empty(&format!("/api/v1/broadcasts/{broadcast}/cancel"))
        .await;
    expect_error(&r, StatusCode::CONFLICT, "conflict");

    // Schedules: one, a dry run that finds it in the way, a refusal, one saved over it.
    let morning = json!({"rule": {"kind": "cron", "expr": "0 0 7 * * *"}});
    let first = expect(
        &c.post(
            "/api/v1/schedules",
            json!({"name": "Bản tin 7h", "announcement_id": plain, "zones": [na_sai],
                   "recurrence": morning}),
        )
        .await,
        StatusCode::CREATED,
    );
    let daily = id(&first["schedule"]);
    let clash = json!({"name": "Thông báo 7h", "announcement_id": bilingual, "zones": [commune],
                       "priority": "priority", "expires_in_minutes": 20,
                       "recurrence": {"rule": {"kind": "rrule", "start": "2026-01-01T07:00:00",
                                               "rule": "FREQ=DAILY"},
                                      "repeat": {"times": 2, "gap_minutes": 10},
                                      "valid_from": "2026-01-01", "valid_until": "2099-12-31"}});
    let dry = expect(
        &c.post("/api/v1/schedules?dry_run=true", clash.clone())
            .await,
        StatusCode::OK,
    );
    assert!(!dry["conflicts"].as_array().unwrap().is_empty(), "{dry}");
    let r = c.post("/api/v1/schedules", clash.clone()).await;
    expect_error(&r, StatusCode::CONFLICT, "schedule.conflicts");
    let mut accepted = clash.clone();
    accepted["accept_conflicts"] = json!(true);
    let v = expect(
        &c.post("/api/v1/schedules", accepted).await,
        StatusCode::CREATED,
    );
    let second = id(&v["schedule"]);
    assert!(!v["conflicts"].as_array().unwrap().is_empty(), "{v}");
    let once = (Utc::now() + Duration::days(2))
        .with_timezone(&h.state.tz)
        .format("%Y-%m-%dT16:30:00")
        .to_string();
    expect(
        &c.post(
            "/api/v1/schedules",
            json!({"name": "Họp thôn", "announcement_id": plain, "zones": [phieng],
                   "recurrence": {"rule": {"kind": "once", "at": once}}}),
        )
        .await,
        StatusCode::CREATED,
    );
    let r = c
        .post(
            "/api/v1/schedules",
            json!({"name": "Sai", "announcement_id": plain, "zones": [na_sai],
                   "recurrence": {"rule": {"kind": "cron", "expr": "0 7 * * *"}}}),
        )
        .await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let r = c
        .post(
            "/api/v1/schedules",
            json!({"name": "Không có", "announcement_id": 9999, "zones": [na_sai],
                   "recurrence": morning}),
        )
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = c
        .post("/api/v1/schedules?dry_run=perhaps", clash.clone())
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());
    h.state
        .materializer
        .pass(Utc::now())
        .await
        .expect("a materializer pass");
    expect(&c.get("/api/v1/schedules").await, StatusCode::OK);
    expect(
        &c.get(&format!("/api/v1/schedules/{daily}")).await,
        StatusCode::OK,
    );
    let occ = expect(
        &c.get(&format!("/api/v1/schedules/{daily}/occurrences"))
            .await,
        StatusCode::OK,
    );
    let first_occurrence = id(&occ[0]);
    expect(
        &c.get(&format!("/api/v1/broadcasts/{first_occurrence}"))
            .await,
        StatusCode::OK,
    );
    let r = c.get("/api/v1/schedules/9999").await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    // Edits: a plain one, and one that runs into the other schedule.
    let uri = format!("/api/v1/schedules/{daily}");
    expect(
        &c.put(
            &uri,
            json!({"name": "Bản tin 6h", "announcement_id": plain, "zones": [na_sai],
                   "recurrence": {"rule": {"kind": "cron", "expr": "0 0 6 * * Mon-Sat"}}}),
        )
        .await,
        StatusCode::OK,
    );
    let r = c
        .put(
            &uri,
            json!({"name": "Bản tin 7h", "announcement_id": plain, "zones": [na_sai],
                   "recurrence": morning}),
        )
        .await;
    expect_error(&r, StatusCode::CONFLICT, "schedule.conflicts");
    // Pause, resume, cancel; each again is refused.
    let pause = format!("/api/v1/schedules/{daily}/pause");
    expect(&c.post_empty(&pause).await, StatusCode::OK);
    expect_error(
        &c.post_empty(&pause).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    expect(
        &c.post_empty(&format!("/api/v1/schedules/{daily}/resume"))
            .await,
        StatusCode::OK,
    );
    let cancel = format!("/api/v1/schedules/{second}/cancel");
    expect(&c.post_empty(&cancel).await, StatusCode::OK);
    expect_error(
        &c.post_empty(&cancel).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let r = c.put(&format!("/api/v1/schedules/{second}"), clash).await;
    expect_error(&r, StatusCode::CONFLICT, "conflict");
    // A broadcast checked first; an announcement filed and archived; a loudspeaker moved
    // there and back; an empty zone removed, one in use refused.
    let check = expect(
        &c.post(
            "/api/v1/broadcasts?dry_run=true",
            json!({"announcement_id": plain, "zones": [phieng]}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(check["nodes"], 1, "{check}");
    let filed = expect(
        &c.patch(
            &format!("/api/v1/announcements/{plain}"),
            json!({"category": "Tin xã", "archived": false}),
        )
        .await,
        StatusCode::OK,
    );
    assert_eq!(filed["category"], "Tin xã", "{filed}");
    for zone in [phieng, na_sai] {
        expect(
            &c.post("/api/v1/nodes/na-sai-1/zone", json!({"zone_id": zone}))
                .await,
            StatusCode::OK,
        );
    }
    let r = c
        .post("/api/v1/nodes/na-sai-1/zone", json!({"zone_id": na_sai}))
        .await;
    expect_error(&r, StatusCode::CONFLICT, "node.same_zone");
    let asked = expect(
        &c.post("/api/v1/nodes/na-sai-1/speaker-check", json!({}))
            .await,
        StatusCode::ACCEPTED,
    );
    assert!(asked["speaker_check_requested_at"].is_string(), "{asked}");
    let spare = id(&expect(
        &c.post(
            "/api/v1/zones",
            json!({"name": "Xóm Mới", "parent_id": commune}),
        )
        .await,
        StatusCode::CREATED,
    ));
    let r = c
        .send(
            Method::DELETE,
            &format!("/api/v1/zones/{spare}"),
            Value::Null,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    let r = c
        .send(
            Method::DELETE,
            &format!("/api/v1/zones/{na_sai}"),
            Value::Null,
        )
        .await;
    expect_error(&r, StatusCode::CONFLICT, "zone.not_empty");

    // Approval: an operator's draft, sent back with a reason, then approved once; an
    // admin's own draft waits for another admin.
    expect(
        &c.put("/api/v1/settings", json!({"require_approval": true}))
            .await,
        StatusCode::OK,
    );
    let writer = id(&expect(
        &c.post(
            "/api/v1/users",
            json!({"username": "bien-tap", "password": "mat-khau-bien-tap", "role": "operator"}),
        )
        .await,
        StatusCode::CREATED,
    ));
    let t = expect(
        &c.post(
            &format!("/api/v1/users/{writer}/tokens"),
            json!({"name": "soạn lịch"}),
        )
        .await,
        StatusCode::CREATED,
    );
    let writer_token = t["token"].as_str().unwrap().to_owned();
    let evening = json!({"name": "Bản tin tối", "announcement_id": plain, "zones": [phieng],
                         "recurrence": {"rule": {"kind": "cron", "expr": "0 0 19 * * *"}}});
    let v = expect(
        &c.as_token(&writer_token, Method::POST, "/api/v1/schedules", evening)
            .await,
        StatusCode::CREATED,
    );
    assert_eq!(v["schedule"]["status"], "draft", "{v}");
    assert_eq!(v["schedule"]["created_by"], "bien-tap", "{v}");
    let draft = id(&v["schedule"]);
    let back = format!("/api/v1/schedules/{draft}/send-back");
    let r = c.post(&back, json!({"reason": " "})).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "schedule.no_reason");
    let v = expect(
        &c.post(&back, json!({"reason": "đổi sang 19:30"})).await,
        StatusCode::OK,
    );
    assert_eq!(v["schedule"]["returned"]["reason"], "đổi sang 19:30", "{v}");
    let approve = format!("/api/v1/schedules/{draft}/approve");
    let v = expect(&c.post_empty(&approve).await, StatusCode::OK);
    assert_eq!(v["schedule"]["approved_by"], "quan-tri", "{v}");
    expect_error(
        &c.post_empty(&approve).await,
        StatusCode::CONFLICT,
        "schedule.not_draft",
    );
    let own = expect(
        &c.post(
            "/api/v1/schedules",
            json!({"name": "Bản tin khuya", "announcement_id": plain, "zones": [phieng],
                   "recurrence": {"rule": {"kind": "cron", "expr": "0 0 21 * * *"}}}),
        )
        .await,
        StatusCode::CREATED,
    );
    expect_error(
        &c.post_empty(&format!(
            "/api/v1/schedules/{}/approve",
            id(&own["schedule"])
        ))
        .await,
        StatusCode::CONFLICT,
        "schedule.own_approval",
    );

    // Text-to-speech.
    let voices = expect(&c.get("/api/v1/tts/voices").await, StatusCode::OK);
    assert_eq!(voices[0]["id"], "vi", "{voices}");
    let text = "Kính mời bà con đến nhà văn hoá lúc tám giờ.";
    let r = c
        .post("/api/v1/tts/preview", json!({"text": text, "voice": "vi"}))
        .await;
    expect(&r, StatusCode::OK);
    expect(
        &c.post(
            "/api/v1/tts/announcements",
            json!({"title": "Họp thôn", "text": text}),
        )
        .await,
        StatusCode::CREATED,
    );
    let r = c.post("/api/v1/tts/preview", json!({"text": "   "})).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "tts.text_empty");
    let r = c
        .post(
            "/api/v1/tts/announcements",
            json!({"title": "X", "text": text, "voice": "klingon"}),
        )
        .await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "tts.unknown_voice");

    // A CAP alert (no station stands in its polygon here: refused, and answered 201 with why).
    let cap = |xml: &str| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/cap")
            .header(header::CONTENT_TYPE, "application/cap+xml")
            .body(Body::from(xml.to_owned()))
            .unwrap()
    };
    let r = c.call(cap(include_str!("fixtures/cap/flood-vi.xml"))).await;
    let taken = expect(&r, StatusCode::CREATED);
    assert!(taken["why"].is_string(), "{taken}");
    let r = c.call(cap("<alert>")).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "cap.malformed");
    let alerts = expect(&c.get("/api/v1/cap").await, StatusCode::OK);
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");

    // Accounts and API tokens.
    let viewer = expect(
        &c.post(
            "/api/v1/users",
            json!({"username": "can-bo-na-sai", "password": "mat-khau-can-bo", "role": "viewer",
                   "display_name": "Cán bộ thôn", "language": "vi", "zone_ids": [na_sai]}),
        )
        .await,
        StatusCode::CREATED,
    );
    let viewer_id = id(&viewer);
    expect(
        &c.post(
            "/api/v1/users",
            json!({"username": "van-thu", "password": "mat-khau-van-thu", "role": "operator"}),
        )
        .await,
        StatusCode::CREATED,
    );
    let r = c
        .post(
            "/api/v1/users",
            json!({"username": "van-thu", "password": "mat-khau-khac", "role": "viewer"}),
        )
        .await;
    expect_error(&r, StatusCode::CONFLICT, "conflict");
    let r = c
        .post(
            "/api/v1/users",
            json!({"username": "ngan", "password": "ngan", "role": "viewer"}),
        )
        .await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let r = c
        .post(
            "/api/v1/users",
            json!({"username": "xa-la", "password": "mat-khau-xa-la", "role": "viewer", "zone_ids": [9999]}),
        )
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    expect(&c.get("/api/v1/users").await, StatusCode::OK);
    let uri = format!("/api/v1/users/{viewer_id}");
    expect(
        &c.patch(&uri, json!({"zone_ids": [na_sai], "disabled": false}))
            .await,
        StatusCode::OK,
    );
    let r = c
        .patch("/api/v1/users/9999", json!({"role": "admin"}))
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = c.patch(&uri, json!({"password": "short"})).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let t = expect(
        &c.post(
            &format!("/api/v1/users/{viewer_id}/tokens"),
            json!({"name": "bảng tin"}),
        )
        .await,
        StatusCode::CREATED,
    );
    let viewer_token = t["token"].as_str().unwrap().to_owned();
    let spare = id(&expect(
        &c.post(
            &format!("/api/v1/users/{viewer_id}/tokens"),
            json!({"name": "dự phòng"}),
        )
        .await,
        StatusCode::CREATED,
    ));
    let r = c
        .post("/api/v1/users/9999/tokens", json!({"name": "x"}))
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = c
        .post(
            &format!("/api/v1/users/{viewer_id}/tokens"),
            json!({"name": ""}),
        )
        .await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    expect(&c.get("/api/v1/tokens").await, StatusCode::OK);
    let revoke = format!("/api/v1/tokens/{spare}/revoke");
    expect(&c.post_empty(&revoke).await, StatusCode::NO_CONTENT);
    expect_error(
        &c.post_empty(&revoke).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // The village official: their account, a role too small, a village not theirs.
    let me = expect(
        &c.as_token(&viewer_token, Method::GET, "/api/v1/me", Value::Null)
            .await,
        StatusCode::OK,
    );
    assert!(me["csrf_token"].is_null(), "{me}");
    let r = c
        .as_token(
            &viewer_token,
            Method::POST,
            "/api/v1/zones",
            json!({"name": "Bản Mới"}),
        )
        .await;
    expect_error(&r, StatusCode::FORBIDDEN, "auth.forbidden");
    let r = c
        .as_token(
            &viewer_token,
            Method::GET,
            "/api/v1/nodes/phieng-1",
            Value::Null,
        )
        .await;
    expect_error(&r, StatusCode::FORBIDDEN, "auth.zone");
    expect(
        &c.as_token(
            &viewer_token,
            Method::GET,
            &format!("/api/v1/broadcasts/{broadcast}"),
            Value::Null,
        )
        .await,
        StatusCode::OK,
    );

    // A browser session: sign in, a change without the CSRF token, sign out; then wrong
    // passwords until the throttle.
    let login = |name: &str, password: &str| {
        json_ct(
            Method::POST,
            "/api/v1/login",
            &json!({"username": name, "password": password}).to_string(),
        )
    };
    let r = c.call_as(login("van-thu", "mat-khau-van-thu")).await;
    let session = expect(&r, StatusCode::OK);
    assert!(session["csrf_token"].is_string(), "{session}");
    let cookie = r
        .header(header::SET_COOKIE)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let with_cookie = |method: Method, uri: &str| {
        Request::builder()
            .method(method)
            .uri(uri)
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"reason": "thử"}"#))
            .unwrap()
    };
    expect(
        &c.call_as(with_cookie(Method::GET, "/api/v1/me")).await,
        StatusCode::OK,
    );
    let r = c
        .call_as(with_cookie(
            Method::POST,
            &format!("/api/v1/broadcasts/{first_occurrence}/cancel"),
        ))
        .await;
    expect_error(&r, StatusCode::FORBIDDEN, "auth.csrf");
    expect(
        &c.call_as(with_cookie(Method::POST, "/api/v1/logout")).await,
        StatusCode::NO_CONTENT,
    );
    for _ in 0..5 {
        let r = c.call_as(login("van-thu", "sai-mat-khau")).await;
        expect_error(&r, StatusCode::UNAUTHORIZED, "auth.bad_login");
    }
    let r = c.call_as(login("van-thu", "sai-mat-khau")).await;
    expect_error(&r, StatusCode::TOO_MANY_REQUESTS, "auth.throttled");

    // The audit log.
    let log = expect(&c.get("/api/v1/audit?limit=500").await, StatusCode::OK);
    assert!(log.as_array().unwrap().len() > 50, "{log}");
    let r = c.get("/api/v1/audit?limit=many").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text());

    // The report, as JSON and as CSV; a bad format.
    let today = Utc::now().date_naive();
    let from = today - Duration::days(7);
    let uri = format!("/api/v1/reports/villages?from={from}&to={today}");
    expect(&c.get(&uri).await, StatusCode::OK);
    let r = c.get(&format!("{uri}&format=csv")).await;
    expect(&r, StatusCode::OK);
    let r = c.get(&format!("{uri}&format=xls")).await;
    expect_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "report.format");

    // Security: what was refused, the key's rotation, a node taken out of service.
    h.deliver(&h.topics().events("na-sai-1"), b"not signed".to_vec())
        .await;
    let v = expect(&c.get("/api/v1/security/reports").await, StatusCode::OK);
    assert_eq!(v[0]["kind"], "events_refused", "{v}");
    expect(&c.get("/api/v1/keys").await, StatusCode::OK);
    let v = expect(&c.post_empty("/api/v1/keys/rotate").await, StatusCode::OK);
    assert!(v["next"].is_string(), "{v}");
    let r = c.post("/api/v1/keys/commit", json!({})).await;
    expect_error(&r, StatusCode::CONFLICT, "keys.not_seen");
    let v = expect(
        &c.post("/api/v1/keys/commit", json!({"force": true})).await,
        StatusCode::OK,
    );
    assert!(v["next"].is_null(), "{v}");
    let r = c.post("/api/v1/keys/commit", json!({})).await;
    expect_error(&r, StatusCode::CONFLICT, "keys.no_rotation");
    expect(
        &c.call(
            Request::builder()
                .method(Method::DELETE)
                .uri("/api/v1/nodes/phieng-1")
                .body(Body::empty())
                .unwrap(),
        )
        .await,
        StatusCode::OK,
    );
    let r = c
        .call(
            Request::builder()
                .method(Method::DELETE)
                .uri("/api/v1/nodes/phieng-1")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    expect_error(&r, StatusCode::NOT_FOUND, "not_found");

    c.assert_successes_seen();
}
