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
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::sync::{Arc, Mutex};

    fn t(ms: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 6, 0, 0).unwrap() + Duration::milliseconds(ms)
    }

    #[derive(Debug, Clone, Copy)]
    enum Ev {
        Prepare(i64),
        Ended,
    }

    /// Runs a script of (instant ms, event) through a `Switch` with lead 1500 and hold 3000,
    /// polling at every wake-up it asks for; returns the changes as (instant ms, on).
    fn simulate(script: &[(i64, Ev)], until: i64) -> Vec<(i64, bool)> {
        let mut s = Switch::new(Duration::milliseconds(1500), Duration::milliseconds(3000));
        let mut out = Vec::new();
        let mut i = 0;
        let mut now = script.first().map_or(0, |e| e.0);
        loop {
            while i < script.len() && script[i].0 <= now {
                match script[i].1 {
                    Ev::Prepare(start) => s.prepare(t(start)),
                    Ev::Ended => s.ended(t(now)),
                }
                i += 1;
            }
            while let Some(on) = s.poll(t(now)) {
                out.push((now, on));
            }
            let next_script = script.get(i).map(|e| e.0);
            let next_wake = s.next_wake().map(|w| (w - t(0)).num_milliseconds());
            now = match (next_script, next_wake) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(x) => x,
                    None => break,
                },
            };
            if now > until {
                break;
            }
        }
        out
    }

    #[test]
    fn switching_table() {
        use Ev::*;
        // (what, script of (ms, event), switching wanted as (ms, on))
        type Case = (&'static str, Vec<(i64, Ev)>, Vec<(i64, bool)>);
        let cases: &[Case] = &[
            (
                "one item: on lead before, off hold after",
                vec![(8_500, Prepare(10_000)), (12_000, Ended)],
                vec![(8_500, true), (15_000, false)],
            ),
            (
                "handed over late: on at once",
                vec![(10_200, Prepare(10_000)), (12_000, Ended)],
                vec![(10_200, true), (15_000, false)],
            ),
            (
                "prepared earlier than the lead: waits for start - lead",
                vec![(5_000, Prepare(10_000)), (12_000, Ended)],
                vec![(8_500, true), (15_000, false)],
            ),
            (
                "back to back: stays on across both",
                vec![
                    (8_500, Prepare(10_000)),
                    (12_000, Ended),
                    (12_000, Prepare(12_000)),
                    (14_000, Ended),
                ],
                vec![(8_500, true), (17_000, false)],
            ),
            (
                "the next one due within the hold: stays on",
                vec![
                    (8_500, Prepare(10_000)),
                    (12_000, Ended),
                    (14_000, Prepare(15_500)),
                    (17_500, Ended),
                ],
                vec![(8_500, true), (20_500, false)],
            ),
            (
                "a later one: off after the hold, on again its lead before",
                vec![
                    (8_500, Prepare(10_000)),
                    (12_000, Ended),
                    (28_500, Prepare(30_000)),
                    (32_000, Ended),
                ],
                vec![
                    (8_500, true),
                    (15_000, false),
                    (28_500, true),
                    (35_000, false),
                ],
            ),
            (
                "failed before the relay was due: never switched",
                vec![(5_000, Prepare(10_000)), (6_000, Ended)],
                vec![],
            ),
        ];
        for (what, script, want) in cases {
            assert_eq!(&simulate(script, 100_000), want, "{what}");
        }
    }

    /// What a fake line was told, stamped with the test's clock.
    type Log = Arc<Mutex<Vec<(DateTime<Utc>, bool)>>>;

    /// A fake line: there is no GPIO chip on this machine. It records what it was told,
    /// stamped with the test's clock.
    struct FakeLine {
        clock: Arc<Mutex<DateTime<Utc>>>,
        log: Log,
    }

    impl RelayLine for FakeLine {
        fn set(&mut self, on: bool) -> Result<(), RelayError> {
            let now = *self.clock.lock().unwrap();
            self.log.lock().unwrap().push((now, on));
            Ok(())
        }
    }

    struct BrokenLine;

    impl RelayLine for BrokenLine {
        fn set(&mut self, _on: bool) -> Result<(), RelayError> {
            Err(RelayError::Set {
                chip: "/dev/gpiochip9".into(),
                line: 4,
                message: "Input/output error".into(),
            })
        }
    }

    /// The runner-level relay through two back-to-back items and one later item, as the runner
    /// drives it: `prepare` when the player gets an item, `ended` when it reports, `drive` at
    /// every wake-up it asks for. A fake line: there is no GPIO chip on this machine.
    #[test]
    fn relay_switches_on_before_back_to_back_items_and_off_after_the_hold() {
        let clock = Arc::new(Mutex::new(t(0)));
        let log = Arc::new(Mutex::new(Vec::new()));
        let lead = Duration::milliseconds(400);
        let hold = Duration::milliseconds(700);
        let line = FakeLine {
            clock: clock.clone(),
            log: log.clone(),
        };
        let mut relay = Relay::with_line(Box::new(line), lead, hold);
        // (start, end) of each item; the player gets each one `prepare_lead` before its start
        // or when the previous one ends, whichever is later.
        let items = [(2_000, 3_000), (3_000, 4_500), (9_000, 10_000)];
        let prepare_lead = 1_500;
        let mut events: Vec<(i64, Option<i64>)> = Vec::new(); // (at, Some(start) = prepare)
        let mut free_at = 0;
        for (start, end) in items {
            events.push(((start - prepare_lead).max(free_at), Some(start)));
            events.push((end, None));
            free_at = end;
        }
        let mut next_wake: Option<DateTime<Utc>> = None;
        let mut i = 0;
        loop {
            let next_event = events.get(i).map(|e| t(e.0));
            let now = match (next_event, next_wake) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(x) => x,
                    None => break,
                },
            };
            *clock.lock().unwrap() = now;
            while i < events.len() && t(events[i].0) <= now {
                match events[i].1 {
                    Some(start) => relay.prepare(t(start)),
                    None => relay.ended(now),
                }
                i += 1;
            }
            next_wake = relay.drive(now);
        }
        let got: Vec<(i64, bool)> = log
            .lock()
            .unwrap()
            .iter()
            .map(|(at, on)| ((*at - t(0)).num_milliseconds(), *on))
            .collect();
        assert_eq!(
            got,
            [
                (2_000 - 400, true),  // lead before the first
                (4_500 + 700, false), // hold after the second, back to back with the first
                (9_000 - 400, true),  // lead before the later one
                (10_000 + 700, false),
            ]
        );
        assert_eq!(relay.error(), None);
    }

    #[test]
    fn a_line_that_fails_is_reported_and_playback_goes_on() {
        let mut relay = Relay::with_line(Box::new(BrokenLine), Duration::zero(), Duration::zero());
        relay.prepare(t(0));
        relay.drive(t(0));
        let e = relay
            .error()
            .expect("the failure is kept for the node state");
        assert!(e.contains("cannot switch GPIO line 4"), "{e}");
    }

    #[test]
    fn a_chip_that_is_not_there_is_a_clear_error_and_no_relay() {
        let cfg = RelayConfig {
            chip: "/dev/gpiochip-not-here".into(),
            line: 17,
            active_low: false,
            lead_ms: 1500,
            hold_ms: 3000,
        };
        let mut relay = Relay::from_config(Some(&cfg));
        let e = relay.error().expect("an error").to_string();
        assert!(
            e.contains("cannot open GPIO line 17 on /dev/gpiochip-not-here"),
            "{e}"
        );
        relay.prepare(t(0));
        assert_eq!(relay.drive(t(0)), None, "no line: nothing to do");
        assert_eq!(relay.lead(), Duration::zero());
    }

    #[test]
    fn config_defaults_and_unknown_keys() {
        let cfg: RelayConfig = toml::from_str("line = 17").unwrap();
        assert_eq!(cfg.chip, PathBuf::from("/dev/gpiochip0"));
        assert_eq!(
            (cfg.active_low, cfg.lead_ms, cfg.hold_ms),
            (false, 1500, 3000)
        );
        assert!(toml::from_str::<RelayConfig>("line = 17\nlead = 3").is_err());
        assert!(toml::from_str::<RelayConfig>("chip = \"/dev/gpiochip0\"").is_err());
    }
}
