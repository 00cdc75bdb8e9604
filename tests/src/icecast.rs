//! A throwaway Icecast (Debian's `icecast2`) on a loopback port, with its own XML config in a
//! temporary directory (never the system service), and ffmpeg feeding it a recording in real
//! time (`-re`) as a source client: a radio station, for the relay tests.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;

use crate::procs::unused_port;
use crate::wait;

pub const SOURCE_PASSWORD: &str = "nguon-thu";

/// A running `icecast2`.
pub struct Icecast {
    child: Option<Child>,
    dir: PathBuf,
    pub port: u16,
}

impl Icecast {
    /// Starts Icecast in `dir` (made writable for the unprivileged user it runs as).
    pub async fn start(dir: &Path) -> anyhow::Result<Icecast> {
        std::fs::create_dir_all(dir)?;
        let mut ice = Icecast {
            child: None,
            dir: dir.to_path_buf(),
            port: unused_port(),
        };
        ice.spawn().await?;
        Ok(ice)
    }

    fn config(&self) -> String {
        let dir = self.dir.display();
        // Icecast refuses to run as root; `changeowner` drops to nobody after binding.
        let owner = if running_as_root() {
            "<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
        } else {
            ""
        };
        format!(
            r#"<icecast>
  <location>loa tests</location>
  <limits><clients>50</clients><sources>4</sources><burst-size>65536</burst-size><source-timeout>10</source-timeout></limits>
  <authentication>
    <source-password>{SOURCE_PASSWORD}</source-password>
    <admin-user>admin</admin-user><admin-password>{SOURCE_PASSWORD}</admin-password>
  </authentication>
  <hostname>127.0.0.1</hostname>
  <listen-socket><port>{port}</port><bind-address>127.0.0.1</bind-address></listen-socket>
  <fileserve>1</fileserve>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>{dir}</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging><accesslog>access.log</accesslog><errorlog>error.log</errorlog><loglevel>3</loglevel></logging>
  <security><chroot>0</chroot>{owner}</security>
</icecast>
"#,
            port = self.port,
        )
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let conf = self.dir.join("icecast.xml");
        std::fs::write(&conf, self.config())?;
        // The unprivileged user writes its logs here.
        Command::new("chmod").arg("777").arg(&self.dir).status()?;
        let log = std::fs::File::create(self.dir.join("icecast.out"))?;
        let child = Command::new("icecast2")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting icecast2 (scripts/setup.sh test installs it)")?;
        self.child = Some(child);
        let url = format!("http://127.0.0.1:{}/status-json.xsl", self.port);
        wait::until("Icecast to answer", Duration::from_secs(15), || {
            let url = url.clone();
            async move { Ok(reqwest::get(&url).await.ok().map(|_| ())) }
        })
        .await
        .map_err(|e| anyhow::anyhow!("{e}; icecast: {}", self.log_tail()))
    }

    pub fn url(&self, mount: &str) -> String {
        format!("http://127.0.0.1:{}{mount}", self.port)
    }

    /// Listeners Icecast counts on `mount` now; `None` while the mount has no source.
    pub async fn listeners(&self, mount: &str) -> anyhow::Result<Option<u64>> {
        let url = format!("http://127.0.0.1:{}/status-json.xsl", self.port);
        let v: serde_json::Value = reqwest::get(&url).await?.json().await?;
        // One source is an object, several an array.
        let sources = match &v["icestats"]["source"] {
            serde_json::Value::Array(a) => a.clone(),
            serde_json::Value::Null => vec![],
            one => vec![one.clone()],
        };
        Ok(sources
            .iter()
            .find(|s| s["listenurl"].as_str().is_some_and(|u| u.ends_with(mount)))
            .and_then(|s| s["listeners"].as_u64()))
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills it and starts it again on the same port.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn().await
    }

    pub fn log_tail(&self) -> String {
        crate::procs::tail(&self.dir.join("icecast.out"), 20)
            + &crate::procs::tail(&self.dir.join("error.log"), 20)
    }
}

impl Drop for Icecast {
    fn drop(&mut self) {
        self.kill();
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// ffmpeg playing `recording` in a loop, in real time, to an Icecast mount.
pub struct Feeder {
    child: Option<Child>,
    args: Vec<String>,
    log: PathBuf,
}

/// What the station sends.
#[derive(Debug, Clone, Copy)]
pub enum Codec {
    Mp3,
    Aac,
}

impl Feeder {
    pub fn start(
        ice: &Icecast,
        mount: &str,
        recording: &Path,
        codec: Codec,
        log: &Path,
    ) -> anyhow::Result<Feeder> {
        let (c, format, content_type) = match codec {
            Codec::Mp3 => ("libmp3lame", "mp3", "audio/mpeg"),
            Codec::Aac => ("aac", "adts", "audio/aac"),
        };
        let mut args: Vec<String> = ["-loglevel", "error", "-re", "-stream_loop", "-1", "-i"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(recording.display().to_string());
        for a in [
            "-c:a",
            c,
            "-b:a",
            "96k",
            "-content_type",
            content_type,
            "-f",
            format,
        ] {
            args.push(a.into());
        }
        args.push(format!(
            "icecast://source:{SOURCE_PASSWORD}@127.0.0.1:{}{mount}",
            ice.port
        ));
        let mut f = Feeder {
            child: None,
            args,
            log: log.to_path_buf(),
        };
        f.spawn()?;
        Ok(f)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        self.child = Some(
            Command::new("ffmpeg")
                .args(&self.args)
                .stdin(Stdio::null())
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                .spawn()
                .context("starting ffmpeg (scripts/setup.sh test installs it)")?,
        );
        Ok(())
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill();
        self.spawn()
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.kill();
    }
}
