//! The agenda: the node's half of the delivery lifecycle, as one machine without I/O.
//!
//! Inputs go in ([`Input`]: a tick of the clock, a plan applied, a download's end, what the
//! player said, a playback found ended after a power cut) with the time, the plan and what the
//! cache holds; [`Action`]s come out (report a step, fetch, play, stop, clear an end mark) with
//! the time to look again. The runner carries the actions out and sleeps until then.
//!
//! The machine keeps the ledger (what was reported per item), what is on air, the downloads
//! under way and the retries; the runner saves the ledger when it has changed and writes the
//! events to the spool. [`due`] is the pure rule asked after every input: what is due now.
//!
//! Invariants:
//! - every step of an item is recorded in the ledger before its event leaves (the runner
//!   spools the `Report` after the machine recorded it), so a reboot never reports a step twice
//!   and never forgets one it sent;
//! - one item is on air at a time; only an emergency interrupts it, and the interrupted item
//!   is reported `preempted` once its playback has stopped, never before;
//! - an item is `played` once, whether its end is heard from the player or from an end mark
//!   found after a power cut.

pub mod due;

use chrono::{DateTime, Duration, Utc};
use loa_protocol::{AfterPreempt, Plan, PlanItem, Priority, Stage};
use std::collections::{HashMap, HashSet};

use crate::audio::{self, AudioError, Position};
use crate::cache::CORRUPT_REASON;
use crate::ledger::Ledger;
use crate::player::PlayerEvent;
use due::{decide, World};

pub use due::prepare_lead;

/// How long after a failed download or a failed playback to try again.
pub const RETRY_AFTER_SECS: i64 = 5;

/// What happened, for the machine to act on.
#[derive(Debug)]
pub enum Input {
    /// Only the clock moved (or a retry came due).
    Tick,
    /// A new plan was applied (the plan passed alongside is the new one).
    PlanApplied,
    /// A download ended: the media is cached and verified, or why not.
    Fetched {
        sha256: String,
        result: Result<(), String>,
    },
    /// The player said something.
    Player(PlayerEvent),
    /// At start: the player marked this item played to its end before the power went.
    Recovered(String),
}

/// What the runner is to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this step of a delivery (already in the ledger).
    Report {
        item: String,
        stage: Stage,
        reason: Option<String>,
        start_error_ms: Option<i64>,
    },
    /// Send that one part of an item (the chime, one language) was heard.
    PartPlayed {
        item: String,
        part: u32,
        label: String,
    },
    /// Send that a stream item played silence for a while, and why.
    StreamGap {
        item: String,
        gap: crate::stream::Gap,
    },
    /// Download this media into the cache.
    Fetch {
        sha256: String,
        url: String,
        size: u64,
    },
    /// Hand this item to the player, from `from`; a `restart` has no start error.
    Play {
        item: PlanItem,
        from: Position,
        restart: bool,
    },
    /// Stop the item on air, for this reason.
    Stop { item: String, why: StopWhy },
    /// The ledger records `item` as ended: its end mark can go.
    Recorded(String),
}

/// Why an item on air is stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopWhy {
    /// This emergency is due.
    Emergency(String),
    /// The new plan no longer lists it.
    Withdrawn,
}

/// The item on air (or handed to the player and waiting for its instant).
#[derive(Debug, Clone, PartialEq)]
pub struct OnAir {
    pub item: String,
    /// Its media, kept from eviction even if the item leaves the plan while it plays.
    pub media: Vec<String>,
    pub priority: Priority,
    /// The emergency that interrupted it, once one has.
    pub preempted_by: Option<String>,
}

/// What one input led to.
#[derive(Debug, Default)]
pub struct Step {
    pub actions: Vec<Action>,
    /// When to look again (absent: nothing waits on the clock).
    pub wake: Option<DateTime<Utc>>,
}

pub struct Agenda {
    ledger: Ledger,
    on_air: Option<OnAir>,
    /// Media being downloaded now.
    fetching: HashSet<String>,
    /// Media whose download failed, and when to try again.
    fetch_retry: HashMap<String, DateTime<Utc>>,
    /// Items whose playback failed for a reason that may pass, and when to try again.
    play_retry: HashMap<String, DateTime<Utc>>,
    /// The audio device's last error, until a playback starts again.
    device_error: Option<String>,
    /// How long before its instant an item goes to the player.
    prepare_lead: Duration,
}

impl Agenda {
    /// A machine with the ledger kept on disk and the player's lead ([`prepare_lead`]).
    pub fn new(ledger: Ledger, prepare_lead: Duration) -> Agenda {
        Agenda {
            ledger,
            on_air: None,
            fetching: HashSet::new(),
            fetch_retry: HashMap::new(),
            play_retry: HashMap::new(),
            device_error: None,
            prepare_lead,
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// For the runner to save it (the machine only changes it).
    pub fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    pub fn on_air(&self) -> Option<&OnAir> {
        self.on_air.as_ref()
    }

    pub fn device_error(&self) -> Option<&str> {
        self.device_error.as_deref()
    }

    /// Takes one input at `now`, with the plan in force (if any) and what the cache holds;
    /// returns what to do and when to look again.
    pub fn handle(
        &mut self,
        input: Input,
        now: DateTime<Utc>,
        plan: Option<&Plan>,
        cached: &dyn Fn(&str) -> bool,
    ) -> Step {
        let mut out = Vec::new();
        match input {
            Input::Tick => {}
            Input::PlanApplied => self.plan_applied(now, plan, &mut out),
            Input::Fetched { sha256, result } => self.fetched(now, plan, sha256, result, &mut out),
            Input::Player(ev) => self.player(now, plan, ev, &mut out),
            Input::Recovered(item) => self.recovered(now, plan, item, &mut out),
        }
        let wake = self.due(now, plan, cached, &mut out);
        Step { actions: out, wake }
    }

    /// What is due now, after the input: reports, downloads, the next item, an interruption.
    fn due(
        &mut self,
        now: DateTime<Utc>,
        plan: Option<&Plan>,
        cached: &dyn Fn(&str) -> bool,
        out: &mut Vec<Action>,
    ) -> Option<DateTime<Utc>> {
        self.fetch_retry.retain(|_, t| *t > now);
        self.play_retry.retain(|_, t| *t > now);
        let plan = plan?;
        let busy = |sha: &str| self.fetching.contains(sha) || self.fetch_retry.contains_key(sha);
        let held = |item: &str| self.play_retry.contains_key(item);
        let (due, mut wake) = decide(
            plan,
            &self.ledger,
            &World {
                now,
                cached,
                fetch_busy: &busy,
                downloading: self.fetching.len(),
                playing: self.on_air.as_ref().map(|p| p.item.as_str()),
                playing_priority: self.on_air.as_ref().map(|p| p.priority),
                held: &held,
                prepare_lead: self.prepare_lead,
            },
        );
        for d in due {
            match d {
                due::Action::Report {
                    item,
                    stage,
                    reason,
                } => self.report(now, Some(plan), &item, stage, reason, None, out),
                due::Action::Fetch { sha256, url, size } => {
                    self.fetching.insert(sha256.clone());
                    out.push(Action::Fetch { sha256, url, size });
                }
                due::Action::Play(item) => self.play(plan, item, out),
                due::Action::Preempt { item, by } => {
                    if let Some(p) = self
                        .on_air
                        .as_mut()
                        .filter(|p| p.item == item && p.preempted_by.is_none())
                    {
                        p.preempted_by = Some(by.clone());
                        out.push(Action::Stop {
                            item,
                            why: StopWhy::Emergency(by),
                        });
                    }
                }
            }
        }
        for t in self.fetch_retry.values().chain(self.play_retry.values()) {
            wake = Some(wake.map_or(*t, |w| w.min(*t)));
        }
        wake
    }

    /// Goes on air: where from (a resumed item), whether it is a restart.
    fn play(&mut self, plan: &Plan, item: PlanItem, out: &mut Vec<Action>) {
        let entry = self.ledger.get(&item.id);
        // Played before and cut by an emergency: a restart, not an on-time start.
        let restart = entry.is_some_and(|e| e.reported >= Stage::Playing);
        let from = match plan.after_preempt {
            // A stream goes on live whatever the plan says (nothing of it can be replayed).
            _ if item.stream.is_some() => entry.and_then(|e| e.resume_from).unwrap_or_default(),
            AfterPreempt::Resume => entry.and_then(|e| e.resume_from).unwrap_or_default(),
            AfterPreempt::Replay => Position::default(),
        };
        self.on_air = Some(OnAir {
            item: item.id.clone(),
            media: item.media().map(|m| m.sha256.clone()).collect(),
            priority: item.priority,
            preempted_by: None,
        });
        out.push(Action::Play {
            item,
            from,
            restart,
        });
    }

    fn plan_applied(&mut self, now: DateTime<Utc>, plan: Option<&Plan>, out: &mut Vec<Action>) {
        let Some(plan) = plan else { return };
        // An item withdrawn from the plan stops if it is on air.
        if let Some(p) = &self.on_air {
            if !plan.items.iter().any(|i| i.id == p.item) {
                out.push(Action::Stop {
                    item: p.item.clone(),
                    why: StopWhy::Withdrawn,
                });
            }
        }
        let in_plan: HashSet<&str> = plan.items.iter().map(|i| i.id.as_str()).collect();
        self.ledger.prune(now, &in_plan);
    }

    fn fetched(
        &mut self,
        now: DateTime<Utc>,
        plan: Option<&Plan>,
        sha256: String,
        result: Result<(), String>,
        out: &mut Vec<Action>,
    ) {
        self.fetching.remove(&sha256);
        let Err(reason) = result else { return };
        self.fetch_retry
            .insert(sha256.clone(), now + Duration::seconds(RETRY_AFTER_SECS));
        let Some(plan) = plan else { return };
        for item in plan
            .items
            .iter()
            .filter(|i| i.media().any(|m| m.sha256 == sha256))
        {
            let entry = self.ledger.get(&item.id);
            let already =
                entry.is_some_and(|e| e.done || e.last_failure.as_deref() == Some(reason.as_str()));
            if !already && now < item.expires_at {
                // Reported once per distinct reason; retried until the item expires.
                let id = item.id.clone();
                self.report(
                    now,
                    Some(plan),
                    &id,
                    Stage::Failed,
                    Some(reason.clone()),
                    None,
                    out,
                );
            }
        }
    }

    fn player(
        &mut self,
        now: DateTime<Utc>,
        plan: Option<&Plan>,
        ev: PlayerEvent,
        out: &mut Vec<Action>,
    ) {
        match ev {
            PlayerEvent::Started {
                item,
                start_error_ms,
            } => {
                self.report(now, plan, &item, Stage::Playing, None, start_error_ms, out);
                self.device_error = None;
            }
            PlayerEvent::PartDone { item, part, label } => out.push(Action::PartPlayed {
                item,
                part: part as u32,
                label,
            }),
            PlayerEvent::StreamGap { item, gap } => out.push(Action::StreamGap { item, gap }),
            PlayerEvent::Corrupt { item } => {
                self.on_air = None;
                // The due rule sees the file gone and fetches it; it plays if still in time.
                self.report(
                    now,
                    plan,
                    &item,
                    Stage::Failed,
                    Some(CORRUPT_REASON.into()),
                    None,
                    out,
                );
            }
            PlayerEvent::Finished { item, result } => {
                let preempted_by = self.on_air.take().and_then(|p| p.preempted_by);
                self.finished(now, plan, item, result, preempted_by, out);
            }
        }
    }

    fn finished(
        &mut self,
        now: DateTime<Utc>,
        plan: Option<&Plan>,
        item: String,
        result: Result<audio::ItemReport, AudioError>,
        preempted_by: Option<String>,
        out: &mut Vec<Action>,
    ) {
        match result {
            Ok(audio::ItemReport {
                stopped_at: None, ..
            }) => {
                self.report(now, plan, &item, Stage::Played, None, None, out);
                out.push(Action::Recorded(item));
            }
            Ok(audio::ItemReport {
                stopped_at: Some(at),
                ..
            }) => {
                // Stopped without an emergency: the item was withdrawn; nothing to report.
                let Some(by) = preempted_by else { return };
                // It replays or resumes after the emergency, if still in time.
                let resume = plan.map(|p| p.after_preempt) == Some(AfterPreempt::Resume);
                let stream_item = plan
                    .and_then(|p| p.items.iter().find(|i| i.id == item))
                    .is_some_and(|i| i.stream.is_some());
                let (how, from) = if stream_item {
                    // Live: it goes on with what is on air then, without its chime.
                    ("its stream goes on after it until its end", Some(at))
                } else if resume {
                    ("resumes", Some(at))
                } else {
                    ("replays from the start", None)
                };
                let reason = format!("interrupted by emergency item {by}; {how} after it");
                self.report(now, plan, &item, Stage::Preempted, Some(reason), None, out);
                self.ledger.set_resume(&item, from);
            }
            Err(AudioError::Decode(why)) => {
                // The file will not decode next time either.
                let reason = format!("cannot decode the media: {why}");
                self.report(now, plan, &item, Stage::Failed, Some(reason), None, out);
                self.ledger.finish(&item);
            }
            Err(AudioError::Stream(why)) => {
                // The stream gave nothing in its window: failed now, and missed when the due
                // rule sees its window closed.
                let reason = format!("no audio from the stream: {why}");
                self.report(now, plan, &item, Stage::Failed, Some(reason), None, out);
            }
            Err(e) => {
                let why = e.to_string();
                self.device_error = Some(why.clone());
                self.report(now, plan, &item, Stage::Failed, Some(why), None, out);
                self.play_retry
                    .insert(item, now + Duration::seconds(RETRY_AFTER_SECS));
            }
        }
    }

    /// An item the player marked played before the power went: reported `played` (and
    /// `playing` first, if the ledger lacks it) unless the ledger already has it ended.
    fn recovered(
        &mut self,
        now: DateTime<Utc>,
        plan: Option<&Plan>,
        item: String,
        out: &mut Vec<Action>,
    ) {
        if !self.ledger.is_done(&item) {
            if self
                .ledger
                .get(&item)
                .is_none_or(|e| e.reported < Stage::Playing)
            {
                // It started too, though when was not kept.
                self.report(now, plan, &item, Stage::Playing, None, None, out);
            }
            self.report(now, plan, &item, Stage::Played, None, None, out);
        }
        out.push(Action::Recorded(item));
    }

    /// Records a step in the ledger and sends it.
    #[allow(clippy::too_many_arguments)]
    fn report(
        &mut self,
        now: DateTime<Utc>,
        plan: Option<&Plan>,
        item: &str,
        stage: Stage,
        reason: Option<String>,
        start_error_ms: Option<i64>,
        out: &mut Vec<Action>,
    ) {
        let expires = plan
            .and_then(|p| p.items.iter().find(|i| i.id == item))
            .map_or(now, |i| i.expires_at);
        self.ledger.record(item, stage, expires, reason.as_deref());
        out.push(Action::Report {
            item: item.to_string(),
            stage,
            reason,
            start_error_ms,
        });
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
