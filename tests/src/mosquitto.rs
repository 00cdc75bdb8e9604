//! A throwaway Mosquitto (Debian's package) on a free port, for tests against a real,
//! external broker.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::procs::unused_port;
use crate::wait;

pub struct Mosquitto {
    child: Option<Child>,
    pub port: u16,
    conf: PathBuf,
    log: PathBuf,
}

/// Where Debian puts the broker.
pub fn binary() -> anyhow::Result<PathBuf> {
    for p in ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"] {
        if Path::new(p).is_file() {
            return Ok(PathBuf::from(p));
        }
    }
    anyhow::bail!(
        "mosquitto is not installed (apt-get install mosquitto); scripts/test.sh installs it"
    )
}

impl Mosquitto {
    /// Starts Mosquitto with anonymous access on 127.0.0.1 and `extra` config lines (queue
    /// limits, for instance). Persistence is off: a restart loses retained messages, as a
    /// broker that crashed would.
    pub async fn start(dir: &Path, extra: &str) -> anyhow::Result<Mosquitto> {
        Mosquitto::start_conf(dir, &format!("allow_anonymous true\n{extra}")).await
    }

    /// Starts Mosquitto as deploy/mosquitto/loa.conf sets it up: no anonymous access, the
    /// password file and ACL file `loa-controller mosquitto-config` wrote, the username as
    /// client id. Started as root, Mosquitto drops to its `mosquitto` user before reading the
    /// files, as on a real site, so they and their directories must be reachable by it.
    pub async fn start_with_files(
        dir: &Path,
        password_file: &Path,
        acl_file: &Path,
    ) -> anyhow::Result<Mosquitto> {
        Mosquitto::start_conf(
            dir,
            &format!(
                "allow_anonymous false\npassword_file {}\nacl_file {}\n\
                 use_username_as_clientid true\n",
                password_file.display(),
                acl_file.display()
            ),
        )
        .await
    }

    async fn start_conf(dir: &Path, access: &str) -> anyhow::Result<Mosquitto> {
        std::fs::create_dir_all(dir)?;
        let port = unused_port();
        let conf = dir.join("mosquitto.conf");
        let log = dir.join("mosquitto.log");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\npersistence false\n\
                 max_packet_size {}\n{access}\n",
                loa_protocol::MAX_PACKET_BYTES + 1024
            ),
        )?;
        let mut m = Mosquitto {
            child: None,
            port,
            conf,
            log,
        };
        m.spawn().await?;
        Ok(m)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let child = Command::new(binary()?)
            .arg("-c")
            .arg(&self.conf)
            .stdout(Stdio::from(f.try_clone()?))
            .stderr(Stdio::from(f))
            .spawn()?;
        // Mosquitto writes no pid file when it runs in the foreground; this one stands in
        // for the one a site's service manager keeps.
        std::fs::write(self.pid_file(), child.id().to_string())?;
        self.child = Some(child);
        let port = self.port;
        wait::until(
            "mosquitto to listen",
            Duration::from_secs(10),
            || async move {
                Ok(tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .ok()
                    .map(|_| ()))
            },
        )
        .await
    }

    /// A file holding the running broker's process id.
    pub fn pid_file(&self) -> PathBuf {
        self.conf.with_file_name("mosquitto.pid")
    }

    /// The broker's log so far.
    pub fn log_tail(&self) -> String {
        crate::procs::tail(&self.log, 40)
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops and starts the broker on the same port (its retained messages are gone).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.spawn().await
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}
