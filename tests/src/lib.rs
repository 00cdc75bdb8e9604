//! loa's end-to-end harness: real controller and node processes, a real broker (the embedded
//! rumqttd or a Mosquitto started here), and real ALSA capture of what nodes play.
//!
//! - [`procs`]: find the built binaries; start, kill (SIGKILL) and restart controller and nodes.
//! - [`api`]: a small client of the controller's REST API.
//! - [`fault_proxy`]: a TCP proxy whose faults (delay, black hole, cut, throttle) are switched
//!   at run time, for the chaos suite.
//! - [`icecast`]: a throwaway Icecast on a free port and ffmpeg feeding it a recording: a
//!   radio station for the relay tests.
//! - [`hls`]: an HLS station: ffmpeg cutting a recording into segments and a live playlist,
//!   served on a loopback port.
//! - [`station`]: the recording a test station plays, and recognising it in what a node heard.
//! - [`mosquitto`]: a throwaway Mosquitto on a free port, anonymous or with loa's files.
//! - [`probe`]: a bare MQTT client, for tests of a broker's access rules and for intruders
//!   (a stolen node's account speaking for another node).
//! - [`alsa`]: the capture pcm and WAV statistics.
//! - [`pcm`]: reading captured WAVs, splitting them at silences by pitch, making test tones.
//! - [`xcorr`]: finding a source inside a capture by cross-correlation, and melodies that
//!   line up only one way.
//! - [`rebuild`]: a second real build of the node with another version string (OTA tests).
//! - [`release`]: release keys and signed node release bundles, made by the controller's CLI.
//! - [`browser`]: headless Chromium over WebDriver, for the web UI's tests.
//! - [`wait`]: waiting for a condition with a deadline (never a bare sleep).
//! - [`tmpfs`]: a small tmpfs that a test fills up and frees again (needs root).
//!
//! The `loa-demo` binary uses the same pieces to show the whole path to a newcomer.

pub mod alsa;
pub mod api;
pub mod browser;
pub mod fault_proxy;
pub mod hls;
pub mod icecast;
pub mod mosquitto;
pub mod pcm;
pub mod probe;
pub mod procs;
pub mod rebuild;
pub mod release;
pub mod station;
pub mod tmpfs;
pub mod wait;
pub mod xcorr;
