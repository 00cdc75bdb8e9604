//! The README's first command, `scripts/demo.sh`, runs `loa-demo`: it must show the product.
//! The nodes play in real time, the standing programme is loaded, and the controller and nodes
//! stay up with a working account until stopped; `--once` ends by itself after the broadcasts.

use loa_e2e::procs::bin;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long the demo may take to build its commune and play both broadcasts.
const SHOW: Duration = Duration::from_secs(180);

/// The repository's root: the demo runs from there, as `scripts/demo.sh` does.
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A running `loa-demo`, its printed lines arriving on a channel; killed if the test fails.
struct Demo {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line read so far, for failure messages.
    printed: Vec<String>,
}

impl Demo {
    fn start(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Demo {
        let mut child = Command::new(bin("loa-demo").unwrap())
            .current_dir(repo())
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .env_remove("LOA_DEMO_ONCE")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Demo {
            child,
            lines,
            printed: Vec::new(),
        }
    }

    /// Reads until a line containing `text`, and returns it.
    async fn line_with(&mut self, text: &str) -> String {
        loop {
            match tokio::time::timeout(SHOW, self.lines.recv()).await {
                Ok(Some(line)) => {
                    self.printed.push(line.clone());
                    if line.contains(text) {
                        return line;
                    }
                }
                Ok(None) => panic!(
                    "the demo ended before printing {text:?}:\n{}",
                    self.printed.join("\n")
                ),
                Err(_) => panic!("no {text:?} within {SHOW:?}:\n{}", self.printed.join("\n")),
            }
        }
    }

    /// Waits for the process to end by itself.
    async fn ended(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the demo still runs after {within:?}:\n{}",
                self.printed.join("\n")
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Sends SIGTERM, as `kill` and systemd do: the demo then stops its controller and nodes.
fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .arg(child.id().to_string())
        .stderr(Stdio::null())
        .status();
}

impl Drop for Demo {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            terminate(&self.child);
            let _ = self.child.wait();
        }
    }
}

/// Processes whose command line mentions `dir`: the demo, its controller and its nodes.
fn processes_under(dir: &Path) -> Vec<String> {
    let dir = dir.display().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| std::fs::read(e.ok()?.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&dir))
        .collect()
}

/// The seconds between two `HH:MM:SS.mmm` times printed by the demo.
fn secs_between(a: &str, b: &str) -> f64 {
    let secs = |t: &str| -> f64 {
        let f: Vec<f64> = t.split(':').map(|p| p.parse().unwrap()).collect();
        f[0] * 3600.0 + f[1] * 60.0 + f[2]
    };
    secs(b) - secs(a)
}

/// The time at the start of a delivery-step line.
fn time_of(line: &str) -> String {
    line.split_whitespace().next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_plays_in_real_time_loads_the_programme_and_runs_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let mut demo = Demo::start(&run, &[], &[]);

    let loaded = demo.line_with("standing programmes from").await;
    let count: usize = loaded.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert!(count >= 4, "the shipped programme is loaded: {loaded}");
    // The first broadcast in Thôn Nà Sài: it lasts as long as its 7.6 s recording.
    let playing = demo.line_with("thon-na-sai   đang phát / playing").await;
    let played = demo.line_with("thon-na-sai   đã phát / played").await;
    let took = secs_between(&time_of(&playing), &time_of(&played));
    assert!(
        (7.0..15.0).contains(&took),
        "a 7.6 s announcement played in {took} s"
    );

    let web = demo.line_with("  web ").await;
    let url = web
        .split_whitespace()
        .last()
        .unwrap()
        .trim_end_matches("/ui/");
    let account = demo.line_with("sign in as").await;
    let (user, password) = {
        let rest = account.split("sign in as").nth(1).unwrap();
        let mut parts = rest.split('/').map(str::trim);
        (parts.next().unwrap(), parts.next().unwrap())
    };
    demo.line_with("Ctrl-C").await;

    // The printed account signs in, and its week view shows the standing programme.
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{url}/api/v1/login"))
        .json(&serde_json::json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200, "the printed account signs in");
    let cookie = login
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let week = http
        .get(format!("{url}/ui/schedules/week"))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(week.status(), 200);
    let week = week.text().await.unwrap();
    for name in ["Bản tin sáng", "Bản tin chiều"] {
        assert!(week.contains(name), "{name} is in the week view");
    }

    // Still up after the broadcasts, until stopped; then everything it started stops.
    let health = http.get(format!("{url}/healthz")).send().await.unwrap();
    assert!(health.status().is_success());
    let nodes = processes_under(&run)
        .into_iter()
        .filter(|c| c.contains("loa-node"))
        .count();
    assert_eq!(nodes, 3, "three village nodes run");
    terminate(&demo.child);
    let status = demo.ended(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    assert!(
        http.get(format!("{url}/healthz")).send().await.is_err(),
        "the controller stopped with the demo"
    );
    assert_eq!(
        processes_under(&run),
        Vec::<String>::new(),
        "nodes left running"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_loa_demo_once_the_demo_ends_by_itself_after_the_broadcasts() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = Demo::start(&dir.path().join("run"), &[], &[("LOA_DEMO_ONCE", "1")]);
    demo.line_with("heard at").await;
    let status = demo.ended(SHOW).await;
    assert!(status.success(), "{status}:\n{}", demo.printed.join("\n"));
    assert!(!demo.printed.iter().any(|l| l.contains("Ctrl-C")));
}
