//! loa-node: the village side of loa. A tour of the rooms:
//!
//! - [`config`]: `node.toml`, as the controller writes it at provisioning.
//! - [`link`]: the MQTT session (persistent, last will `offline`, backoff with jitter).
//! - [`intake`]: plan verification against the trusted keys, the version and the validity;
//!   the last valid plan kept on disk.
//! - [`trust`]: the controller keys the node trusts (rotation) and the highest plan version.
//! - [`session`]: the (session, serial) stamp on the node's signed states.
//! - [`agenda`]: the node's half of the delivery lifecycle, one machine without I/O: inputs
//!   (tick, plan applied, fetched, player event, recovered end mark) in, actions out.
//! - [`ledger`]: what was already reported per item, kept on disk.
//! - [`player`]: the player actor on its own thread (play, stop, events back), owning the end
//!   marks of playbacks that reached their end.
//! - [`spool`]: every event on disk until the controller acknowledges it; [`sender`] sends them.
//! - [`fetch`]: media download with resume and SHA-256 check.
//! - [`cache`]: the media cache: byte budget, least-recently-used eviction that spares the
//!   plan's media, and a hash check before each playback.
//! - [`audio`]: decode → resample → sink (`cpal`, `wav`, `null`), and the installer tools.
//! - [`stream`]: stream items (live and relayed audio): the stream read over HTTP(S), decoded
//!   into a jitter buffer, played with silence through stalls, and each gap reported.
//! - [`relay`]: the amplifier relay (a GPIO line): on a lead time before playing, off a hold
//!   time after.
//! - [`check`]: `loa-node check`, the installer's test of config, key, disk, broker, controller,
//!   media token and audio output.
//! - [`location`]: where the node stands, set by the installer's check and reported in its
//!   state.
//! - [`speaker`]: the speaker check (a quiet test signal played and listened for through the
//!   microphone input) and the installers' test tone.
//! - [`clock`]: the node clock against the controller's (an NTP-style exchange over HTTP).
//! - [`runner`]: the I/O loop tying them together; [`run`] is its entry point.
//! - [`update`]: over-the-air updates: the release state, the idle check, the install, and the
//!   keeper that tries a new version and rolls it back.
//! - [`disk`]: atomic writes for the small files above.
//! - [`tls`]: the commune's CA, trusted for HTTPS and MQTT over TLS.

pub mod agenda;
pub mod audio;
pub mod cache;
pub mod check;
pub mod clock;
pub mod config;
pub mod disk;
pub mod fetch;
pub mod intake;
pub mod ledger;
pub mod link;
pub mod location;
pub mod player;
pub mod relay;
pub mod runner;
pub mod sender;
pub mod session;
pub mod speaker;
pub mod spool;
pub mod stream;
pub mod tls;
pub mod trust;
pub mod update;

pub use runner::{run, run_node, Exit};
