//! A real headless browser for the web UI's tests: Debian's Chromium driven over WebDriver
//! (Debian's `chromedriver`, started here on a free port) with the `fantoccini` client.
//!
//! Chromium runs headless with a fresh profile and without its background networking (this
//! machine's closed network refuses those connections). Screenshots of the main pages are
//! kept in `target/ui-screenshots/` as test artifacts, to be looked at by eye.

use anyhow::Context as _;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::procs::unused_port;
use crate::wait;

/// A browser session; the driver process ends with it.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium (window 1280×900, like an office PC).
    pub async fn start() -> anyhow::Result<Browser> {
        Browser::start_sized(1280, 900).await
    }

    /// Starts with a given window size (e.g. 390×844 for a phone).
    pub async fn start_sized(width: u32, height: u32) -> anyhow::Result<Browser> {
        Browser::start_with(width, height, &[]).await
    }

    /// Starts at 1280×900 with a WAV file as the microphone: Chromium's fake capture device
    /// plays it in a loop, and the permission is granted without asking.
    pub async fn with_microphone(wav: &std::path::Path) -> anyhow::Result<Browser> {
        Browser::start_with(
            1280,
            900,
            &[
                "--use-fake-ui-for-media-stream".into(),
                "--use-fake-device-for-media-stream".into(),
                format!("--use-file-for-fake-audio-capture={}", wav.display()),
                "--autoplay-policy=no-user-gesture-required".into(),
            ],
        )
        .await
    }

    /// Starts with a window size and more Chromium switches.
    pub async fn start_with(width: u32, height: u32, extra: &[String]) -> anyhow::Result<Browser> {
        let port = unused_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context(
                "chromedriver is needed for the browser tests (apt install chromium-driver)",
            )?;
        let profile = tempfile::tempdir()?;
        let mut args = serde_json::json!([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--lang=vi-VN",
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ]);
        args.as_array_mut()
            .expect("a list")
            .extend(extra.iter().map(|a| serde_json::json!(a)));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            serde_json::json!({ "binary": "/usr/bin/chromium", "args": args }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let client = wait::until(
            "chromedriver to accept a session",
            Duration::from_secs(30),
            || {
                let (caps, url) = (caps.clone(), url.clone());
                async move {
                    // chromedriver speaks plain HTTP on loopback: no TLS needed.
                    let connector = HttpConnector::new();
                    match ClientBuilder::new(connector)
                        .capabilities(caps)
                        .connect(&url)
                        .await
                    {
                        Ok(c) => Ok(Some(c)),
                        Err(_) => Ok(None),
                    }
                }
            },
        )
        .await?;
        Ok(Browser {
            client,
            driver,
            _profile: profile,
        })
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        Ok(self.client.goto(url).await?)
    }

    /// Waits (up to 20 s) for an element matching the CSS selector.
    pub async fn find(&self, css: &str) -> anyhow::Result<fantoccini::elements::Element> {
        let found = self
            .client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(e) => Ok(e),
            Err(e) => Err(anyhow::anyhow!(
                "no element {css:?} on {}: {e}",
                self.url().await
            )),
        }
    }

    /// Types `text` into the element matching `css` (a file input takes a path).
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        Ok(self.find(css).await?.send_keys(text).await?)
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        Ok(self.find(css).await?.click().await?)
    }

    /// Chooses the option with `value` in the `<select>` matching `css`.
    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        Ok(self.find(css).await?.select_by_value(value).await?)
    }

    pub async fn url(&self) -> String {
        self.client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// The page's visible text.
    pub async fn text(&self) -> anyhow::Result<String> {
        Ok(self.find("body").await?.text().await?)
    }

    /// Saves a PNG of the window as `target/ui-screenshots/{name}.png`; returns the path.
    pub async fn screenshot(&self, name: &str) -> anyhow::Result<PathBuf> {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }

    /// Waits (up to 30 s) until the JavaScript expression `js` is true in the page.
    pub async fn wait_js(&self, what: &str, js: &str) -> anyhow::Result<()> {
        let script = format!("return !!({js});");
        wait::until(what, Duration::from_secs(30), || {
            let script = script.clone();
            async move {
                let v = self.client.execute(&script, vec![]).await?;
                Ok(v.as_bool().unwrap_or(false).then_some(()))
            }
        })
        .await
    }

    /// Sets an input's value as a date or time picker would (typing into those depends on
    /// the browser's locale).
    pub async fn set_value(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.find(css).await?;
        self.client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![serde_json::json!(css), serde_json::json!(value)],
            )
            .await?;
        Ok(())
    }

    /// Signs in on the login page as `username`, whose password the tests make
    /// `mat-khau-{username}`; returns once the page shows the account.
    pub async fn sign_in(&self, base: &str, username: &str) -> anyhow::Result<()> {
        self.goto(&format!("{base}/ui/")).await?;
        self.find("#login-form").await?;
        self.fill("#login-username", username).await?;
        self.fill("#login-password", &format!("mat-khau-{username}"))
            .await?;
        self.click("#login-submit").await?;
        self.find("#user-name").await?;
        Ok(())
    }

    /// Signs out with the header's button; returns on the login form.
    pub async fn sign_out(&self) -> anyhow::Result<()> {
        self.click("#logout-button").await?;
        self.find("#login-form").await?;
        Ok(())
    }

    /// Downloads `href` as the page would (its session's cookie): status, the
    /// `content-disposition` header, and the body as text.
    pub async fn download(&self, href: &str) -> anyhow::Result<(u16, String, String)> {
        let got = self
            .client
            .execute(
                "return fetch(arguments[0]).then(r => r.text().then(t => [r.status, r.headers.get('content-disposition'), t]));",
                vec![serde_json::json!(href)],
            )
            .await?;
        Ok((
            got[0].as_u64().unwrap_or(0) as u16,
            got[1].as_str().unwrap_or("").to_owned(),
            got[2].as_str().unwrap_or("").to_owned(),
        ))
    }

    pub async fn close(mut self) -> anyhow::Result<()> {
        let r = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        Ok(r?)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where screenshots go: `target/ui-screenshots` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots")
}
