//! A small client of the controller's REST API, as a script or the web UI would use it.

use serde_json::{json, Value};
use std::path::Path;

#[derive(Clone)]
pub struct Api {
    pub base: String,
    http: reqwest::Client,
    /// Sent as `Authorization: Bearer …` when set.
    token: Option<String>,
}

impl Api {
    pub fn new(base: &str) -> Api {
        Api {
            base: base.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
            token: None,
        }
    }

    /// The same client, trusting this CA certificate (PEM) for an `https://` controller.
    pub fn with_ca(mut self, ca_pem: &[u8]) -> anyhow::Result<Api> {
        self.http = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(ca_pem)?)
            .build()?;
        Ok(self)
    }

    /// The same client, sending this API token.
    pub fn with_token(mut self, token: &str) -> Api {
        self.token = Some(token.to_owned());
        self
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let req = match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        };
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        anyhow::ensure!(status.is_success(), "{status}: {text}");
        Ok(serde_json::from_str(&text)?)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(self.http.post(format!("{}{path}", self.base)).json(&body))
            .await
    }

    /// `POST` raw bytes (an upload that is not JSON: a release bundle).
    pub async fn post_bytes(&self, path: &str, bytes: Vec<u8>) -> anyhow::Result<Value> {
        self.post_body(path, "application/octet-stream", bytes)
            .await
    }

    /// POSTs a body that is not JSON (a CAP alert's XML, a release bundle) with its content type.
    pub async fn post_body(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> anyhow::Result<Value> {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body),
        )
        .await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.delete(format!("{}{path}", self.base)))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(self.http.put(format!("{}{path}", self.base)).json(&body))
            .await
    }

    pub async fn patch(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.send(self.http.patch(format!("{}{path}", self.base)).json(&body))
            .await
    }

    /// Creates a zone and returns its id.
    pub async fn zone(&self, name: &str, parent: Option<i64>) -> anyhow::Result<i64> {
        let v = self
            .post("/api/v1/zones", json!({"name": name, "parent_id": parent}))
            .await?;
        v["id"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("no zone id in {v}"))
    }

    /// Registers a relay source (a station's stream) and returns its id.
    pub async fn source(&self, name: &str, url: &str) -> anyhow::Result<i64> {
        let v = self
            .post("/api/v1/sources", json!({"name": name, "url": url}))
            .await?;
        v["id"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("no source id in {v}"))
    }

    /// Makes a staff account with `role`, its password `mat-khau-{username}` (as
    /// [`crate::browser::Browser::sign_in`] types it).
    pub async fn account(&self, username: &str, role: &str) -> anyhow::Result<Value> {
        self.post(
            "/api/v1/users",
            json!({"username": username, "password": format!("mat-khau-{username}"), "role": role}),
        )
        .await
    }

    /// Provisions a node and returns its config file.
    pub async fn provision(
        &self,
        id: &str,
        name: &str,
        zone: i64,
        data_dir: &Path,
    ) -> anyhow::Result<String> {
        let v = self
            .post(
                "/api/v1/nodes",
                json!({"id": id, "name": name, "zone_id": zone, "data_dir": data_dir}),
            )
            .await?;
        v["config_toml"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("no config in {v}"))
    }

    /// Uploads a media file; returns the response (with `sha256`), or the refusal.
    pub async fn upload(&self, path: &Path) -> anyhow::Result<Value> {
        let bytes = std::fs::read(path)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("upload");
        self.upload_bytes(name, bytes).await
    }

    pub async fn upload_bytes(&self, name: &str, bytes: Vec<u8>) -> anyhow::Result<Value> {
        self.send(
            self.http
                .post(format!("{}/api/v1/media?name={name}", self.base))
                .body(bytes),
        )
        .await
    }

    /// Uploads a file and makes an announcement of it; returns the announcement id.
    pub async fn announcement(&self, title: &str, path: &Path) -> anyhow::Result<i64> {
        let media = self.upload(path).await?;
        let a = self
            .post(
                "/api/v1/announcements",
                json!({"title": title, "media_sha256": media["sha256"]}),
            )
            .await?;
        a["id"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("no announcement id in {a}"))
    }

    /// Broadcasts; returns the broadcast id.
    pub async fn broadcast(&self, body: Value) -> anyhow::Result<i64> {
        let b = self.post("/api/v1/broadcasts", body).await?;
        b["id"]
            .as_i64()
            .ok_or_else(|| anyhow::anyhow!("no broadcast id in {b}"))
    }

    /// Waits until the broadcast's first (in these tests: only) delivery is at `stage`;
    /// returns that delivery.
    pub async fn wait_stage(
        &self,
        broadcast: i64,
        stage: &str,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Value> {
        crate::wait::until(
            &format!("broadcast {broadcast} to reach {stage}"),
            timeout,
            || async move {
                let v = self.broadcast_status(broadcast).await?;
                let d = v["deliveries"][0].clone();
                Ok((d["stage"] == stage).then_some(d))
            },
        )
        .await
    }

    pub async fn broadcast_status(&self, id: i64) -> anyhow::Result<Value> {
        self.get(&format!("/api/v1/broadcasts/{id}")).await
    }

    /// The stage of every delivery of a broadcast, by node id.
    pub async fn stages(&self, id: i64) -> anyhow::Result<Vec<(String, String)>> {
        let v = self.broadcast_status(id).await?;
        Ok(v["deliveries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|d| {
                        (
                            d["node_id"].as_str().unwrap_or_default().to_string(),
                            d["stage"].as_str().unwrap_or_default().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    }
}
