//! Tests of [`super`] (`relay.rs`).

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
