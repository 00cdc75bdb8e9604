//! The amplifier relay: a GPIO line (Linux character device) that powers the amplifier a lead
//! time before an item plays and cuts it a hold time after the last one ends, so the horns
//! neither hum all day nor clip the first words.
//!
//! - [`Switch`]: the switching logic, a state machine over instants with no I/O.
//! - [`RelayLine`]: one output line; [`GpioLine`] is the real one (the `gpiocdev` crate).
//! - [`Relay`]: what the runner holds: a `Switch` driving a line. Without a `[relay]` section in
//!   `node.toml` it does nothing; a line that cannot be opened is reported and the node plays on
//!   (the amplifier may be wired always-on).

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use std::path::PathBuf;

/// The `[relay]` section of `node.toml`. Absent: no relay is switched.
///
/// ```toml
/// [relay]
/// chip = "/dev/gpiochip0"  # the GPIO character device
/// line = 17                # the line offset on that chip (BCM number on a Raspberry Pi)
/// active_low = false       # true when the relay board closes on a low level
/// lead_ms = 1500           # on this long before an item's planned instant
/// hold_ms = 3000           # off this long after the last item ends
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RelayConfig {
    /// The GPIO character device (default `/dev/gpiochip0`).
    #[serde(default = "default_chip")]
    pub chip: PathBuf,
    /// The line offset on the chip. Required: a guessed pin could drive something else.
    pub line: u32,
    /// The relay closes when the line is low (many cheap relay boards do).
    #[serde(default)]
    pub active_low: bool,
    /// Milliseconds the amplifier is on before an item's planned instant (default 1500).
    #[serde(default = "default_lead_ms")]
    pub lead_ms: u64,
    /// Milliseconds the amplifier stays on after the last item ends (default 3000), so items
    /// close together do not click it off and on.
    #[serde(default = "default_hold_ms")]
    pub hold_ms: u64,
}

fn default_chip() -> PathBuf {
    PathBuf::from("/dev/gpiochip0")
}

fn default_lead_ms() -> u64 {
    1500
}

fn default_hold_ms() -> u64 {
    3000
}

impl RelayConfig {
    pub fn lead(&self) -> Duration {
        Duration::milliseconds(self.lead_ms.min(i64::MAX as u64) as i64)
    }

    pub fn hold(&self) -> Duration {
        Duration::milliseconds(self.hold_ms.min(i64::MAX as u64) as i64)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error("amplifier relay: cannot open GPIO line {line} on {chip}: {message}")]
    Open {
        chip: String,
        line: u32,
        message: String,
    },
    #[error("amplifier relay: cannot switch GPIO line {line} on {chip}: {message}")]
    Set {
        chip: String,
        line: u32,
        message: String,
    },
}

/// One output line that switches the amplifier.
pub trait RelayLine: Send {
    fn set(&mut self, on: bool) -> Result<(), RelayError>;
}

/// A real GPIO line, requested as an output through the Linux GPIO character device. The
/// request is held while the node runs; it starts off.
pub struct GpioLine {
    request: gpiocdev::Request,
    chip: String,
    line: u32,
}

impl GpioLine {
    pub fn open(cfg: &RelayConfig) -> Result<GpioLine, RelayError> {
        use gpiocdev::line::Value;
        let chip = cfg.chip.display().to_string();
        let mut b = gpiocdev::Request::builder();
        b.on_chip(&cfg.chip)
            .with_consumer(CONSUMER)
            .with_line(cfg.line)
            .as_output(Value::Inactive);
        if cfg.active_low {
            b.as_active_low();
        }
        let request = b.request().map_err(|e| RelayError::Open {
            chip: chip.clone(),
            line: cfg.line,
            message: describe(&e),
        })?;
        Ok(GpioLine {
            request,
            chip,
            line: cfg.line,
        })
    }
}

impl RelayLine for GpioLine {
    fn set(&mut self, on: bool) -> Result<(), RelayError> {
        let v = if on {
            gpiocdev::line::Value::Active
        } else {
            gpiocdev::line::Value::Inactive
        };
        self.request.set_lone_value(v).map_err(|e| RelayError::Set {
            chip: self.chip.clone(),
            line: self.line,
            message: describe(&e),
        })
    }
}

/// For `loa-node play`: the amplifier on `lead` before `play` and off after it. A line that
/// cannot be opened is reported on stderr and the file plays anyway.
pub fn around<T>(cfg: Option<&RelayConfig>, play: impl FnOnce() -> T) -> T {
    let Some(cfg) = cfg else {
        return play();
    };
    let mut line = match GpioLine::open(cfg) {
        Ok(line) => line,
        Err(e) => {
            eprintln!("{e}; playing without switching the amplifier");
            return play();
        }
    };
    if let Err(e) = line.set(true) {
        eprintln!("{e}");
    }
    std::thread::sleep(cfg.lead().to_std().unwrap_or_default());
    let out = play();
    if let Err(e) = line.set(false) {
        eprintln!("{e}");
    }
    out
}

/// The consumer name the node's request carries, as `gpioinfo` shows it.
const CONSUMER: &str = "loa-node amplifier";

/// For `loa-node check`: can the node drive this line? Looks without requesting it, so a
/// running node keeps it. Returns what was found, in words.
pub fn probe(cfg: &RelayConfig) -> Result<String, RelayError> {
    let fail = |message: String| RelayError::Open {
        chip: cfg.chip.display().to_string(),
        line: cfg.line,
        message,
    };
    let chip = gpiocdev::Chip::from_path(&cfg.chip).map_err(|e| fail(describe(&e)))?;
    let info = chip.line_info(cfg.line).map_err(|e| fail(describe(&e)))?;
    match (info.used, info.consumer.as_str()) {
        (false, _) => Ok("free for the node to switch".into()),
        (true, CONSUMER) => Ok("held by the running loa-node service".into()),
        (true, other) => Err(fail(format!(
            "the line is in use by another program ({other:?})"
        ))),
    }
}

/// gpiocdev's errors, with a hint for those an installer meets.
fn describe(e: &gpiocdev::Error) -> String {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if lower.contains("busy") {
        format!("{text} (another program holds this line: is loa-node already running?)")
    } else if lower.contains("no such file") {
        format!("{text} (no such GPIO chip here: `gpiodetect` lists the chips)")
    } else if lower.contains("permission") {
        format!("{text} (the service user needs access to the chip: add it to the `gpio` group)")
    } else {
        text
    }
}

/// The switching logic. The runner says when an item is handed to the player
/// ([`prepare`](Switch::prepare)) and when playback ends ([`ended`](Switch::ended)); [`poll`]
/// (Switch::poll) says what to set now, [`next_wake`](Switch::next_wake) when to ask again.
#[derive(Debug, Clone)]
pub struct Switch {
    lead: Duration,
    hold: Duration,
    /// What the line was last told.
    on: bool,
    /// When to switch on for the item being prepared.
    on_at: Option<DateTime<Utc>>,
    /// When to switch off, once the last item has ended.
    off_at: Option<DateTime<Utc>>,
}

impl Switch {
    pub fn new(lead: Duration, hold: Duration) -> Switch {
        Switch {
            lead,
            hold,
            on: false,
            on_at: None,
            off_at: None,
        }
    }

    /// An item will start at `start`: on at `start - lead`; a pending off is cancelled.
    pub fn prepare(&mut self, start: DateTime<Utc>) {
        self.off_at = None;
        self.on_at = Some(start - self.lead);
    }

    /// Playback ended (played, failed or stopped): off `hold` from now, unless an item is
    /// prepared before then.
    pub fn ended(&mut self, now: DateTime<Utc>) {
        self.on_at = None;
        if self.on {
            self.off_at = Some(now + self.hold);
        }
    }

    /// The change due at `now`, if any.
    pub fn poll(&mut self, now: DateTime<Utc>) -> Option<bool> {
        if self.on_at.is_some_and(|t| now >= t) {
            self.on_at = None;
            if !self.on {
                self.on = true;
                return Some(true);
            }
        }
        if self.off_at.is_some_and(|t| now >= t) {
            self.off_at = None;
            if self.on {
                self.on = false;
                return Some(false);
            }
        }
        None
    }

    /// When the next change is due.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        match (self.on_at, self.off_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }
}

/// The relay as the runner holds it: a [`Switch`] driving a line, or nothing.
pub struct Relay {
    switch: Switch,
    /// Absent: no `[relay]` section, or the line could not be opened.
    line: Option<Box<dyn RelayLine>>,
    /// The last failure to open or switch the line, for the node's state.
    error: Option<String>,
}

impl Relay {
    /// The relay `node.toml` describes. A line that cannot be opened is logged and kept as the
    /// relay's error; the node plays on without it.
    pub fn from_config(cfg: Option<&RelayConfig>) -> Relay {
        let Some(cfg) = cfg else {
            return Relay::disabled();
        };
        match GpioLine::open(cfg) {
            Ok(line) => {
                tracing::info!(chip = %cfg.chip.display(), line = cfg.line, lead_ms = cfg.lead_ms, hold_ms = cfg.hold_ms, "amplifier relay ready");
                Relay::with_line(Box::new(line), cfg.lead(), cfg.hold())
            }
            Err(e) => {
                tracing::error!(error = %e, "playing without switching the amplifier");
                Relay {
                    error: Some(e.to_string()),
                    ..Relay::disabled()
                }
            }
        }
    }

    /// No relay: every method does nothing.
    pub fn disabled() -> Relay {
        Relay {
            switch: Switch::new(Duration::zero(), Duration::zero()),
            line: None,
            error: None,
        }
    }

    pub fn with_line(line: Box<dyn RelayLine>, lead: Duration, hold: Duration) -> Relay {
        Relay {
            switch: Switch::new(lead, hold),
            line: Some(line),
            error: None,
        }
    }

    /// An item is handed to the player; it starts at `start`.
    pub fn prepare(&mut self, start: DateTime<Utc>) {
        if self.line.is_some() {
            self.switch.prepare(start);
        }
    }

    /// Playback ended at `now`.
    pub fn ended(&mut self, now: DateTime<Utc>) {
        if self.line.is_some() {
            self.switch.ended(now);
        }
    }

    /// Switches the line if a change is due at `now`; returns when to call again.
    pub fn drive(&mut self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let line = self.line.as_mut()?;
        while let Some(on) = self.switch.poll(now) {
            match line.set(on) {
                Ok(()) => {
                    tracing::info!(on, "amplifier relay switched");
                    self.error = None;
                }
                Err(e) => {
                    tracing::error!(error = %e, "amplifier relay");
                    self.error = Some(e.to_string());
                }
            }
        }
        self.switch.next_wake()
    }

    /// Switches off at once (the node is stopping).
    pub fn off(&mut self, now: DateTime<Utc>) {
        if self.switch.is_on() {
            self.switch.on_at = None;
            self.switch.off_at = Some(now);
            self.drive(now);
        }
    }

    /// How long before an item's instant the relay switches on (zero without a relay).
    pub fn lead(&self) -> Duration {
        if self.line.is_some() {
            self.switch.lead
        } else {
            Duration::zero()
        }
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
