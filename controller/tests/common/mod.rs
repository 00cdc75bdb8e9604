//! The harness for the controller's in-process HTTP tests: a real [`AppState`] (SQLite store,
//! media store and signing key in a temporary directory, a real planner) behind
//! `loa_controller::http::app`, called with `tower::ServiceExt::oneshot`, no socket.
//!
//! No broker is involved here: the planner and ingest put what they send in an outbox, and the
//! harness collects it ([`Harness::published`]) where the link would publish it. What happens
//! on the wire is tested end to end in `tests/tests/*.rs`, which start real controller and node
//! processes and a real broker.

// Each test file uses a different part of the harness.
#![allow(dead_code)]

pub mod ui;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use loa_controller::config::Config;
use loa_controller::http::{app, AppState};
use loa_controller::keys::Keys;
use loa_controller::media::MediaStore;
use loa_controller::metrics::Counters;
use loa_controller::mqtt::broker;
use loa_controller::mqtt::outbox::{Message, Outbox};
use loa_controller::mqtt::planner::Planner;
use loa_controller::store::Store;
use loa_controller::tts::{EspeakNg, Tts};
use loa_protocol::Topics;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;

/// The site every test controller serves.
pub const SITE: &str = "xa-test";

/// The broker address written into node configs; nothing listens there.
pub const PUBLIC_BROKER: &str = "127.0.0.1:1";

/// One controller's HTTP side over its own temporary data directory.
pub struct Harness {
    pub app: Router,
    pub state: AppState,
    /// Where the planner and ingest put what they send.
    outbox: Outbox,
    /// Everything they sent, in order (see the module comment).
    published: Arc<std::sync::Mutex<Vec<Message>>>,
    /// An admin's API token: every request carries it unless the test says otherwise
    /// ([`Harness::call_as`]).
    pub admin_token: String,
    /// Removed when the harness is dropped.
    dir: tempfile::TempDir,
    /// The signing keys of the nodes this harness speaks for, and the serial of their last
    /// state (see [`Harness::node_key`]).
    node_keys:
        std::sync::Mutex<std::collections::HashMap<String, (ed25519_dalek::SigningKey, u64)>>,
}

/// What came back from one request.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The body as JSON; panics, showing the body, if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {}: body is not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an API error: its status, its stable `code`, and that its `error` text names
    /// the problem (every fragment in `says`, case-insensitively).
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str, says: &[&str]) {
        assert_eq!(self.status, status, "{}", self.text());
        let v = self.json();
        assert_eq!(v["code"], code, "{v}");
        let message = v["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error text: {v}"));
        for s in says {
            assert!(
                message.to_lowercase().contains(&s.to_lowercase()),
                "the error {message:?} should say {s:?}"
            );
        }
    }
}

impl Harness {
    /// A controller with the default configuration.
    pub async fn new() -> Harness {
        Harness::with_config(|_| {}).await
    }

    /// A controller whose configuration `tweak` adjusts (after the test defaults are set).
    pub async fn with_config(tweak: impl FnOnce(&mut Config)) -> Harness {
        Harness::with_clock(tweak, loa_controller::clock::system()).await
    }

    /// A controller whose clock is `clock` (a test's [`ManualClock`], to move time).
    ///
    /// [`ManualClock`]: loa_controller::clock::ManualClock
    pub async fn with_clock(
        tweak: impl FnOnce(&mut Config),
        clock: loa_controller::clock::SharedClock,
    ) -> Harness {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut cfg = Config {
            site: SITE.into(),
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        cfg.public_url = Some("http://controller.test:8080".into());
        cfg.mqtt.public_address = Some(PUBLIC_BROKER.into());
        tweak(&mut cfg);
        cfg.validate().expect("a valid test config");

        let store = Store::open(dir.path()).await.expect("the store opens");
        let media = MediaStore::open(dir.path()).expect("the media store opens");
        let keys = Arc::new(Keys::load_or_create(dir.path()).expect("a signing key"));
        let counters = Arc::new(Counters::default());
        let (outbox, mut outgoing) = Outbox::new(loa_controller::mqtt::outbox::DEPTH);
        let published = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = published.clone();
        tokio::spawn(async move {
            while let Some(m) = outgoing.recv().await {
                sink.lock().expect("published lock").push(m);
            }
        });
        let planner = Arc::new(Planner::new(
            store.clone(),
            keys,
            &cfg,
            outbox.clone(),
            counters.clone(),
            clock.clone(),
        ));
        let tz = loa_controller::schedule::rule::parse_tz(&cfg.time_zone).expect("time zone");
        // Passes are run by the tests themselves (`materializer.pass(now)`), with the time
        // they choose; no background loop runs here.
        let materializer = Arc::new(loa_controller::schedule::materializer::Materializer::new(
            store.clone(),
            planner.clone(),
            tz,
            &cfg,
        ));
        let rate = Arc::new(loa_controller::http::rate::RateLimit::new(&cfg.limits));
        // Relays start only when a node listens to a stream; none does in these tests.
        let hub = loa_controller::relay::Hub::new(
            store.clone(),
            media.clone(),
            cfg.relay.bitrate,
            std::time::Duration::from_secs(cfg.relay.linger_secs),
            tokio_util::sync::CancellationToken::new(),
            tokio_util::task::TaskTracker::new(),
            None,
        );
        let state = AppState {
            app: loa_controller::ops::App {
                store,
                media,
                planner,
                counters,
                cfg: Arc::new(cfg),
                broker_accounts: broker::Credentials::default(),
                tz,
                materializer,
                throttle: Default::default(),
                clock: clock.clone(),
                tts: Arc::new(
                    Tts::new(Arc::new(EspeakNg::new()), dir.path()).expect("the tts cache opens"),
                ),
                hub,
            },
            downloads: Default::default(),
            rate,
        };
        let admin = loa_controller::ops::users::add_user(
            &state.store,
            &loa_controller::ops::users::NewAccount {
                username: "quan-tri".into(),
                display_name: Some("Quản trị".into()),
                password: "mat-khau-quan-tri".into(),
                role: loa_controller::store::accounts::Role::Admin,
                language: None,
                zone_ids: vec![],
            },
        )
        .await
        .expect("the first admin");
        let (_, admin_token) =
            loa_controller::ops::users::make_token(&state.store, admin.id, "tests")
                .await
                .expect("an admin token");
        Harness {
            app: app(state.clone()),
            state,
            outbox,
            published,
            dir,
            admin_token,
            node_keys: Default::default(),
        }
    }

    /// The directory uploads are kept in.
    pub fn media_dir(&self) -> PathBuf {
        self.dir.path().join("media")
    }

    /// Every file name in the media directory, hidden ones (uploads in progress) included.
    pub fn media_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.media_dir())
            .expect("the media directory exists")
            .map(|e| {
                e.expect("a directory entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }

    /// Sends `req` as the admin (unless it carries its own credentials).
    pub async fn call(&self, mut req: Request<Body>) -> Reply {
        let h = req.headers();
        if !h.contains_key(header::AUTHORIZATION) && !h.contains_key(header::COOKIE) {
            let bearer = format!("Bearer {}", self.admin_token);
            req.headers_mut()
                .insert(header::AUTHORIZATION, bearer.parse().unwrap());
        }
        self.call_as(req).await
    }

    /// Sends `req` with exactly the credentials it carries (none: anonymous).
    pub async fn call_as(&self, req: Request<Body>) -> Reply {
        let resp = self
            .app
            .clone()
            .oneshot(req)
            .await
            .expect("the router is infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("the body reads");
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.call(request(Method::GET, uri).body(Body::empty()).unwrap())
            .await
    }

    pub async fn post_json(&self, uri: &str, body: Value) -> Reply {
        self.call(
            request(Method::POST, uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    pub async fn put_json(&self, uri: &str, body: Value) -> Reply {
        self.call(
            request(Method::PUT, uri)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await
    }

    /// `POST /api/v1/media?name=…` with the bytes as the body.
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> Reply {
        self.call(
            request(Method::POST, &format!("/api/v1/media?name={name}"))
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .body(Body::from(bytes))
                .unwrap(),
        )
        .await
    }

    /// `GET /media/{sha}` with `Authorization: Bearer {token}` (if any) and `Range` (if any).
    pub async fn download(&self, sha: &str, token: Option<&str>, range: Option<&str>) -> Reply {
        let mut req = request(Method::GET, &format!("/media/{sha}"));
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(r) = range {
            req = req.header(header::RANGE, r);
        }
        self.call_as(req.body(Body::empty()).unwrap()).await
    }

    /// Creates a zone and returns its id.
    pub async fn zone(&self, name: &str, parent_id: Option<i64>) -> i64 {
        let r = self
            .post_json(
                "/api/v1/zones",
                serde_json::json!({ "name": name, "parent_id": parent_id }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_i64().expect("a zone id")
    }

    /// Provisions a node and returns its config file, parsed.
    pub async fn node(&self, id: &str, zone_id: i64) -> toml::Value {
        let r = self
            .post_json(
                "/api/v1/nodes",
                serde_json::json!({ "id": id, "name": format!("Loa {id}"), "zone_id": zone_id }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        let text = r.json()["config_toml"]
            .as_str()
            .expect("a config_toml string")
            .to_string();
        let cfg: toml::Value = toml::from_str(&text).expect("the node config parses");
        let key = loa_protocol::signing_key_from_b64(cfg["node_key"].as_str().expect("node_key"))
            .expect("a node key");
        self.node_keys
            .lock()
            .unwrap()
            .insert(id.to_string(), (key, 0));
        cfg
    }

    /// The key `node` signs with, as its config file says. A node provisioned some other way
    /// (through a page) is given new credentials through the API, and signs with their key.
    pub async fn node_key(&self, node: &str) -> ed25519_dalek::SigningKey {
        if let Some((k, _)) = self.node_keys.lock().unwrap().get(node) {
            return k.clone();
        }
        let r = self
            .post_json(
                &format!("/api/v1/nodes/{node}/credentials"),
                serde_json::json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let cfg: toml::Value = toml::from_str(
            r.json()["config_toml"]
                .as_str()
                .expect("a config_toml string"),
        )
        .expect("the node config parses");
        let key = loa_protocol::signing_key_from_b64(cfg["node_key"].as_str().expect("node_key"))
            .expect("a node key");
        self.node_keys
            .lock()
            .unwrap()
            .insert(node.to_string(), (key.clone(), 0));
        key
    }

    /// The next stamp (session 1, serial 1, 2, 3…) for a state from `node`.
    fn next_serial(&self, node: &str) -> u64 {
        let mut keys = self.node_keys.lock().unwrap();
        let entry = keys.get_mut(node).expect("the node's key was made first");
        entry.1 += 1;
        entry.1
    }

    /// Uploads a fixture and returns its SHA-256.
    pub async fn uploaded(&self, name: &str) -> String {
        let r = self.upload(name, fixture(name)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["sha256"].as_str().expect("a sha256").to_string()
    }

    /// The node's last published plan, verified with the controller's key.
    pub async fn plan(&self, node: &str) -> loa_protocol::Plan {
        let key = self.state.planner.keys().current().verifying_key();
        let sealed = self.state.store.sealed_plans().await.expect("stored plans");
        let (_, bytes) = sealed
            .iter()
            .find(|(n, _)| n == node)
            .unwrap_or_else(|| panic!("no plan for {node}"));
        loa_protocol::Plan::open(bytes, &[key], node, None, chrono::Utc::now())
            .expect("a valid plan")
            .0
    }

    /// The controller's ingest, sending into the harness's outbox (see the module comment).
    pub fn ingest_side(&self) -> loa_controller::mqtt::ingest::Ingest {
        loa_controller::mqtt::ingest::Ingest {
            store: self.state.store.clone(),
            topics: Topics::for_site(&self.state.cfg.site),
            outbox: self.outbox.clone(),
            planner: self.state.planner.clone(),
            counters: self.state.counters.clone(),
        }
    }

    /// What the planner and ingest have sent so far, in order, once the outbox is drained.
    pub async fn published(&self) -> Vec<Message> {
        // The drain task runs beside the test: let it take what is queued.
        while self.outbox.queued() > 0 {
            tokio::task::yield_now().await;
        }
        self.published.lock().expect("published lock").clone()
    }

    /// Hands `events` from `node` to the controller's ingest, as if they came over MQTT. Its
    /// acks go to the harness's outbox (see the module comment).
    pub async fn ingest(&self, node: &str, events: Vec<loa_protocol::Event>) {
        let key = self.node_key(node).await;
        let batch = loa_protocol::EventBatch {
            node: node.into(),
            events,
        };
        self.deliver(&self.topics().events(node), batch.seal(&key))
            .await;
    }

    /// The site's topics.
    pub fn topics(&self) -> Topics {
        Topics::for_site(&self.state.cfg.site)
    }

    /// Hands the ingest a raw message on `topic`, as if it came over MQTT (for messages a test
    /// forges).
    pub async fn deliver(&self, topic: &str, payload: Vec<u8>) {
        let ingest = self.ingest_side();
        ingest
            .handle_at(
                rumqttc::Publish::new(topic, rumqttc::QoS::AtLeastOnce, payload),
                chrono::Utc::now(),
            )
            .await;
    }

    /// Hands the ingest a state message from `node` saying `presence`, as if the controller
    /// received it at `received_at` (the time its presence history records).
    pub async fn presence_at(
        &self,
        node: &str,
        presence: loa_protocol::Presence,
        received_at: chrono::DateTime<chrono::Utc>,
    ) {
        self.state_at(node, |s| s.presence = presence, received_at)
            .await;
    }

    /// Hands the ingest a signed state from `node` (online, session 1, its next serial) that
    /// `shape` fills in, as if the controller received it at `received_at`.
    pub async fn state_at(
        &self,
        node: &str,
        shape: impl FnOnce(&mut loa_protocol::NodeState),
        received_at: chrono::DateTime<chrono::Utc>,
    ) {
        let key = self.node_key(node).await;
        let mut state = loa_protocol::NodeState::offline(node, 1);
        state.presence = loa_protocol::Presence::Online;
        shape(&mut state);
        state.serial = self.next_serial(node);
        let ingest = self.ingest_side();
        ingest
            .handle_at(
                rumqttc::Publish::new(
                    ingest.topics.state(node),
                    rumqttc::QoS::AtLeastOnce,
                    state.seal(&key),
                ),
                received_at,
            )
            .await;
    }

    /// Broadcasts `announcement` to `zones` (now, or at `at`) and returns the broadcast's id.
    pub async fn broadcast(
        &self,
        announcement: &Value,
        zones: &[i64],
        at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> i64 {
        let mut body = serde_json::json!({ "announcement_id": announcement, "zones": zones });
        if let Some(at) = at {
            body["at"] = at.to_rfc3339().into();
        }
        let r = self.post_json("/api/v1/broadcasts", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_i64().expect("a broadcast id")
    }

    /// Uploads the MP3 fixture, makes an announcement of it and returns the announcement's id.
    pub async fn announcement(&self, title: &str) -> i64 {
        let sha = self.uploaded("tone-44100-stereo.mp3").await;
        let r = self
            .post_json(
                "/api/v1/announcements",
                serde_json::json!({ "title": title, "media_sha256": sha }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        r.json()["id"].as_i64().expect("an announcement id")
    }
}

fn request(method: Method, uri: &str) -> axum::http::request::Builder {
    Request::builder().method(method).uri(uri)
}

/// The audio fixtures shared with the node's tests.
pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../node/tests/fixtures")
        .join(name)
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
