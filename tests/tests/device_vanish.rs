//! A node whose loudspeaker output goes away: the broadcast is reported `failed` with a reason
//! naming the device, the node keeps running and shows the device error in its state, retries
//! every few seconds, and plays the announcement once the device is back. ALSA's `file` plugin
//! stands in for the loudspeaker (see `loa_e2e::alsa`): the node plays through cpal and the
//! real ALSA library into pcm `loa_usb`, defined in the node's `$HOME/.asoundrc`.
//!
//! How the device vanishes, honestly. When `~/.asoundrc` changes, alsa-lib does *not* re-read it
//! for `snd_pcm_open`: it loads the configuration once and re-reads it only when a top-level
//! file (`/usr/share/alsa/alsa.conf`) changes (alsa-lib 1.2.8, checked with strace). Device
//! enumeration (`snd_device_name_hint`), though, parses the configuration afresh at each call,
//! and cpal finds a device by name through it — as the node does. So when the test rewrites
//! the `.asoundrc` without `loa_usb`, the node finds no output device of that name: what it
//! sees when a USB sound card is unplugged, whose pcm leaves the list the same way. Restoring
//! the file brings the name back, and the pcm opens as before.
//!
//! The other two make the device fail while it plays. The `file` plugin writes into a FIFO the
//! test reads; after half a second of audio the test either hangs up, so the plugin's writes
//! fail and `snd_pcm_writei` returns EIO, as a card that dies mid-announcement does; or stops
//! reading with the FIFO still open, so the writes block, as a hung driver's do. Both must end
//! in `failed` and a retry that plays the whole announcement. (The stalled case used to leave
//! the node `playing` forever: the sink waited for a stream stuck in a write to close.)

mod common;

use common::*;
use loa_e2e::alsa::{self, wav_stats};
use loa_e2e::api::Api;
use loa_e2e::procs::{with_audio, Broker, Controller, Node};
use loa_e2e::wait;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEVICE: &str = "loa_usb";
const LONG: Duration = Duration::from_secs(60);

/// A controller on its embedded broker, one village, and its node playing on [`DEVICE`]
/// through cpal with `HOME` at `{dir}/node/home` (whose `.asoundrc` the caller writes first).
struct Site {
    _controller: Controller,
    api: Api,
    zone: i64,
    node: Node,
    home: PathBuf,
}

impl Site {
    async fn start(dir: &Path, asoundrc: impl FnOnce(&Path)) -> Site {
        let controller = Controller::start(&dir.join("controller"), Broker::embedded())
            .await
            .unwrap();
        let api = controller.api();
        let zone = api.zone("Bản Khoang", None).await.unwrap();
        let node_dir = dir.join("node");
        let home = node_dir.join("home");
        std::fs::create_dir_all(&home).unwrap();
        asoundrc(&home);
        let cfg = api
            .provision("ban-khoang", "Loa bản", zone, &node_dir.join("data"))
            .await
            .unwrap();
        let mut audio = toml::toml! { sink = "cpal" };
        audio.insert("device".into(), DEVICE.into());
        let cfg = with_audio(&cfg, audio).unwrap();
        let node = Node::start("ban-khoang", &node_dir, &cfg, Some(&home)).unwrap();
        Site {
            _controller: controller,
            api,
            zone,
            node,
            home,
        }
    }

    async fn broadcast(&self, announcement: i64) -> i64 {
        self.api
            .broadcast(json!({"announcement_id": announcement, "zones": [self.zone]}))
            .await
            .unwrap()
    }

    /// Waits until the broadcast's only delivery is at `stage`; returns it.
    async fn wait_stage(&self, broadcast: i64, stage: &str) -> Value {
        self.api
            .wait_stage(broadcast, stage, LONG)
            .await
            .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", self.node.log_tail()))
    }

    /// Waits until the node's retained state, as the controller stored it, shows a device
    /// error that `pred` accepts (`None`: no error); returns it.
    async fn wait_device_error(
        &self,
        what: &str,
        pred: impl Fn(Option<&str>) -> bool,
    ) -> Option<String> {
        let (api, path) = (&self.api, format!("/api/v1/nodes/{}", self.node.id));
        let pred = &pred;
        wait::until(what, LONG, || {
            let path = path.clone();
            async move {
                let v = api.get(&path).await?;
                let e = v["state"]["device_error"].as_str().map(str::to_owned);
                Ok(pred(e.as_deref()).then_some(e))
            }
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\nnode log:\n{}", self.node.log_tail()))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vanished_device_fails_the_broadcast_and_the_retry_plays_it_once_the_device_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("node/home/capture.wav");
    let asoundrc = |home: &Path| alsa::write_asoundrc(home, &[(DEVICE, &capture)]).unwrap();
    let mut site = Site::start(dir.path(), asoundrc).await;
    let a = site
        .api
        .announcement("Thông báo tiêm chủng", &fixture(TONE))
        .await
        .unwrap();

    // Present: it plays.
    let first = site.broadcast(a).await;
    site.wait_stage(first, "played").await;
    assert_heard_tone(&capture);

    // Unplugged.
    alsa::write_asoundrc(&site.home, &[]).unwrap();
    std::fs::remove_file(&capture).unwrap();
    let second = site.broadcast(a).await;
    let failed = site.wait_stage(second, "failed").await;
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(DEVICE) && reason.contains("no output device"),
        "the reason names the device and what is wrong: {failed:#}"
    );
    let error = site
        .wait_device_error("the node's state to show the device error", |e| {
            e.is_some_and(|e| e.contains(DEVICE))
        })
        .await;
    assert!(site.node.is_running(), "the node must outlive its device");
    // It keeps trying: more failures are numbered while the delivery stays failed.
    let numbered = events_numbered(&site.node);
    wait::until("the node to try again", LONG, || async {
        Ok((events_numbered(&site.node) > numbered).then_some(()))
    })
    .await
    .unwrap();
    assert_eq!(
        site.api.stages(second).await.unwrap()[0].1,
        "failed",
        "nothing can play while the device is gone (state said: {error:?})"
    );
    assert!(!capture.exists(), "nothing reached the device");

    // Plugged back in: the next retry plays it, and the error clears.
    asoundrc(&site.home);
    let played = site.wait_stage(second, "played").await;
    assert!(played["times"]["playing"].is_string(), "{played:#}");
    assert_heard_tone(&capture);
    site.wait_device_error("the device error to clear", |e| e.is_none())
        .await;
    assert!(site.node.is_running());
}

/// The far end of the FIFO the `file` plugin writes into: each opening of the pcm is a session
/// (a WAV stream). Told to, it hangs up mid-session and stays away until [`LineOut::restore`]:
/// while nobody reads, the plugin's writes fail. (If it came back at once, the plugin would
/// lose a few writes, log them on stderr and carry on: ALSA reports nothing to the program.)
struct LineOut {
    sessions: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Hang up a session once it has delivered this many bytes (0: never); then back to 0.
    hang_up_after: Arc<AtomicUsize>,
    /// Hung up: not reading until restored.
    dead: Arc<AtomicBool>,
    /// Hang up by no longer reading, the FIFO kept open: the plugin's writes block.
    stall: Arc<AtomicBool>,
}

impl LineOut {
    /// Makes the FIFO and listens on it from a thread of its own, left running to the end of
    /// the test process (it waits in `open` for the next writer).
    fn listen(fifo: &Path) -> LineOut {
        let status = std::process::Command::new("mkfifo")
            .arg(fifo)
            .status()
            .expect("mkfifo (coreutils)");
        assert!(status.success(), "mkfifo {}: {status}", fifo.display());
        let line = LineOut {
            sessions: Arc::new(Mutex::new(Vec::new())),
            hang_up_after: Arc::new(AtomicUsize::new(0)),
            dead: Arc::new(AtomicBool::new(false)),
            stall: Arc::new(AtomicBool::new(false)),
        };
        let (s, h, dead, stall) = (
            line.sessions.clone(),
            line.hang_up_after.clone(),
            line.dead.clone(),
            line.stall.clone(),
        );
        let fifo = fifo.to_owned();
        std::thread::spawn(move || loop {
            while dead.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            // Blocks until the plugin opens the FIFO for writing.
            let Ok(mut f) = std::fs::File::open(&fifo) else {
                return;
            };
            let index = {
                let mut s = s.lock().unwrap();
                s.push(Vec::new());
                s.len() - 1
            };
            let mut buf = vec![0u8; 8192];
            // Until every writer closes (end of file), or we hang up.
            while let Ok(n @ 1..) = f.read(&mut buf) {
                let len = {
                    let mut s = s.lock().unwrap();
                    s[index].extend_from_slice(&buf[..n]);
                    s[index].len()
                };
                let limit = h.load(Ordering::SeqCst);
                if limit > 0 && len >= limit {
                    h.store(0, Ordering::SeqCst);
                    dead.store(true, Ordering::SeqCst);
                    if !stall.load(Ordering::SeqCst) {
                        break;
                    }
                    // Holding the line open without listening, then listening again.
                    while dead.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            }
        });
        line
    }

    fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// Reads again, whole sessions from now on.
    fn restore(&self) {
        self.dead.store(false, Ordering::SeqCst);
    }

    /// The sessions so far that carried at least `bytes`.
    fn sessions_over(&self, bytes: usize) -> Vec<Vec<u8>> {
        let s = self.sessions.lock().unwrap();
        s.iter().filter(|b| b.len() >= bytes).cloned().collect()
    }
}

/// 48 kHz stereo S16 (what cpal gets from `plug`): bytes per second.
const BYTES_PER_SEC: usize = 48_000 * 2 * 2;

#[tokio::test(flavor = "multi_thread")]
async fn a_device_that_fails_mid_announcement_is_reported_and_the_retry_plays_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("line-out");
    let line = LineOut::listen(&fifo);
    // Half a second of audio (and the 44-byte header), then the line goes dead.
    line.hang_up_after
        .store(44 + BYTES_PER_SEC / 2, Ordering::SeqCst);
    let asoundrc = |home: &Path| alsa::write_asoundrc(home, &[(DEVICE, &fifo)]).unwrap();
    let mut site = Site::start(dir.path(), asoundrc).await;
    let a = site
        .api
        .announcement("Thông báo mất điện", &fixture(TONE))
        .await
        .unwrap();

    let b = site.broadcast(a).await;
    let failed = site.wait_stage(b, "failed").await;
    assert!(
        failed["times"]["playing"].is_string(),
        "it had started playing: {failed:#}"
    );
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(DEVICE),
        "the reason names the device: {failed:#}"
    );
    assert!(line.is_dead(), "the failure is the hang-up");
    let cut = line.sessions_over(BYTES_PER_SEC / 2);
    assert_eq!(cut.len(), 1, "one session was cut short");
    let cut_wav = dir.path().join("cut.wav");
    std::fs::write(&cut_wav, &cut[0]).unwrap();
    let heard = wav_stats(&cut_wav).unwrap().audible_secs();
    assert!(
        (0.4..1.0).contains(&heard),
        "{heard:.3} s were heard before the line went dead"
    );
    site.wait_device_error("the node's state to show the device error", |e| {
        e.is_some_and(|e| e.contains(DEVICE))
    })
    .await;

    assert!(site.node.is_running(), "the node must outlive its device");

    // The line works again: the retry plays it all.
    line.restore();
    site.wait_stage(b, "played").await;
    let whole = line.sessions_over(BYTES_PER_SEC);
    assert_eq!(whole.len(), 1, "one full playback after the cut one");
    let whole_wav = dir.path().join("whole.wav");
    std::fs::write(&whole_wav, &whole[0]).unwrap();
    assert_heard_tone(&whole_wav);
    site.wait_device_error("the device error to clear", |e| e.is_none())
        .await;
    assert!(site.node.is_running());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_that_stops_taking_audio_is_reported_and_the_retry_plays_it_whole() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("line-out");
    let line = LineOut::listen(&fifo);
    // Half a second of audio, then nobody reads: the plugin's writes block, as a device whose
    // driver hangs stops taking audio without reporting an error.
    line.stall.store(true, Ordering::SeqCst);
    line.hang_up_after
        .store(44 + BYTES_PER_SEC / 2, Ordering::SeqCst);
    let asoundrc = |home: &Path| alsa::write_asoundrc(home, &[(DEVICE, &fifo)]).unwrap();
    let mut site = Site::start(dir.path(), asoundrc).await;
    let a = site
        .api
        .announcement("Thông báo lịch cắt nước", &fixture(TONE))
        .await
        .unwrap();

    let b = site.broadcast(a).await;
    let failed = site.wait_stage(b, "failed").await;
    assert!(line.is_dead(), "the failure is the stall");
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(DEVICE) && reason.contains("took no audio"),
        "the reason names the device and what is wrong: {failed:#}"
    );
    site.wait_device_error("the node's state to show the device error", |e| {
        e.is_some_and(|e| e.contains(DEVICE))
    })
    .await;
    assert!(site.node.is_running(), "the node must outlive its device");

    // The device takes audio again: the retry plays it all.
    line.stall.store(false, Ordering::SeqCst);
    line.restore();
    site.wait_stage(b, "played").await;
    let whole = line.sessions_over(BYTES_PER_SEC);
    assert!(!whole.is_empty(), "a full playback after the stalled one");
    let whole_wav = dir.path().join("whole.wav");
    std::fs::write(&whole_wav, whole.last().unwrap()).unwrap();
    assert_heard_tone(&whole_wav);
    site.wait_device_error("the device error to clear", |e| e.is_none())
        .await;
}
