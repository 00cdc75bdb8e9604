//! One node as a village runs it: the real `loa-node` process on a controller with Mosquitto.
//! Its idle traffic on the MQTT link (the kernel's byte counts of its socket, `ss -ti`) and its
//! cold start, from process start to the log line of its first plan applied.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use loa_e2e::procs::{bin, with_key};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::site::Site;
use crate::stats::median;

pub async fn bench(dir: &std::path::Path, rounds: usize, idle_secs: u64) -> anyhow::Result<()> {
    let site = Site::start_without_fleet(&dir.join("node"), 1).await?;
    let config = std::fs::read_to_string(site.dir.join("configs/sim-00000.toml"))?;
    let mut cold = Vec::new();
    for round in 0..rounds {
        let data = site.dir.join(format!("node-data-{round}"));
        let t0 = Utc::now();
        let (mut child, log) = start(&site, &config, &data)?;
        let applied = wait_log(&log, "plan applied", Duration::from_secs(60)).await;
        let _ = child.kill();
        let _ = child.wait();
        let ms = (applied? - t0).num_microseconds().unwrap_or(0) as f64 / 1e3;
        eprintln!("cold start {}: {ms:.0} ms", round + 1);
        cold.push(ms);
    }
    let data = site.dir.join("node-data-idle");
    let (mut child, log) = start(&site, &config, &data)?;
    wait_log(&log, "plan applied", Duration::from_secs(60)).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pid = child.id();
    let before = link_bytes(pid, site.mosquitto.port)?;
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let after = link_bytes(pid, site.mosquitto.port)?;
    let _ = child.kill();
    let _ = child.wait();
    let per_day = |b: u64| b as f64 * 86_400.0 / idle_secs as f64 / 1000.0;
    let (sent, received) = (after.0 - before.0, after.1 - before.1);
    println!(
        "| measure | median | runs |\n|---|---:|---|\n| cold start to plan applied | {:.0} ms | {} |",
        median(&cold),
        cold.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(", ")
    );
    println!(
        "\nIdle MQTT link over {idle_secs} s: {sent} bytes sent, {received} received \
         (TCP payload) = {:.1} KB per day ({:.1} sent, {:.1} received).",
        per_day(sent + received),
        per_day(sent),
        per_day(received)
    );
    Ok(())
}

/// Starts `loa-node run` on a copy of `config` with its own data directory and a paced null
/// sink; returns the child and its log file.
fn start(
    site: &Site,
    config: &str,
    data: &std::path::Path,
) -> anyhow::Result<(std::process::Child, std::path::PathBuf)> {
    let text = with_key(config, "data_dir", data.display().to_string().into())?;
    let text = loa_e2e::procs::with_audio(&text, {
        let mut t = toml::Table::new();
        t.insert("sink".into(), "null".into());
        t.insert("pace".into(), true.into());
        t
    })?;
    std::fs::create_dir_all(data)?;
    let path = data.with_extension("toml");
    std::fs::write(&path, text)?;
    let log = data.with_extension("log");
    let child = Command::new(bin("loa-node")?)
        .arg("run")
        .arg("--config")
        .arg(&path)
        .env("RUST_LOG", "info,rumqttc=warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .spawn()
        .context("starting loa-node")?;
    let _ = site;
    Ok((child, log))
}

/// The time stamped on the first line of `log` holding `what`.
async fn wait_log(
    log: &std::path::Path,
    what: &str,
    timeout: Duration,
) -> anyhow::Result<DateTime<Utc>> {
    let t = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(line) = text.lines().find(|l| l.contains(what)) {
            let plain = strip_colours(line);
            let stamp = plain.split_whitespace().next().unwrap_or("");
            return Ok(DateTime::parse_from_rfc3339(stamp)
                .with_context(|| format!("no time at the start of {line:?}"))?
                .with_timezone(&Utc));
        }
        anyhow::ensure!(
            t.elapsed() < timeout,
            "no {what:?} in {} after {timeout:?}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `line` without its terminal colour codes (`ESC [ … m`).
fn strip_colours(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|&c| c == 'm');
        } else {
            out.push(c);
        }
    }
    out
}

/// Bytes sent and received by process `pid` on its TCP connections to `port`, as the kernel
/// counts them (`ss -tinp`: `bytes_sent`, `bytes_received`, payload only).
fn link_bytes(pid: u32, port: u16) -> anyhow::Result<(u64, u64)> {
    let out = Command::new("ss")
        .args(["-tinpH", "state", "established"])
        .arg(format!("( dport = :{port} )"))
        .output()
        .context("running ss (iproute2)")?;
    let text = String::from_utf8(out.stdout)?;
    let mut lines = text.lines();
    let (mut sent, mut received, mut found) = (0, 0, false);
    while let Some(line) = lines.next() {
        if !line.contains(&format!("pid={pid},")) {
            continue;
        }
        let info = lines.next().unwrap_or("");
        let field = |name: &str| {
            info.split_whitespace()
                .find_map(|f| f.strip_prefix(name))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        sent += field("bytes_sent:");
        received += field("bytes_received:");
        found = true;
    }
    anyhow::ensure!(found, "no connection of process {pid} to port {port} in ss");
    Ok((sent, received))
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_codes_are_taken_off_a_log_line() {
        let line =
            "\u{1b}[2m2026-11-24T08:35:27.089159Z\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m plan applied";
        assert_eq!(
            super::strip_colours(line),
            "2026-11-24T08:35:27.089159Z  INFO plan applied"
        );
    }
}
