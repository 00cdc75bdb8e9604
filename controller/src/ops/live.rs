//! Live sessions (*phát trực tiếp*): a member of staff speaks to chosen villages from the
//! browser's microphone. A session is a relay of its own source, fed by the speaker instead of
//! pulled from a station (`crate::relay::feed`), broadcast now to the chosen zones at the
//! chosen priority: the chime, priorities, emergencies, deliveries, proof of play and the
//! kept recording are the ones every relay has.
//!
//! It ends when staff stop it, when the speaker has sent nothing for [`SPEAKER_GONE`] (the
//! browser or its link went away), when its longest length is reached, or when the controller
//! restarts. Ending stops the relay with a short fade; the nodes' streams end, which they
//! report as `played`; after [`SETTLE`] what has not ended (a node that was cut off) is
//! withdrawn, so no node is left `playing`.

use chrono::{DateTime, Utc};
use loa_protocol::Priority;
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::announcements::{create_relay, NewRelay};
use super::broadcasts::{self, create_broadcast, BroadcastView, NewBroadcast};
use super::{App, OpError};
use crate::auth::Actor;
use crate::store::live::LiveSession;

/// A speaker who has sent nothing for this long is gone (tab closed, browser crashed, link
/// lost): the session ends and the villages fade out.
pub const SPEAKER_GONE: Duration = Duration::from_secs(5);
/// After a session ends, how long the nodes have to end their stream and say so before what
/// is left is withdrawn.
pub const SETTLE: Duration = Duration::from_secs(5);
/// The longest session when none is asked for: an hour.
pub const DEFAULT_MINUTES: u32 = 60;
/// The longest session that may be asked for: 4 hours.
pub const MAX_MINUTES: u32 = 240;

/// "Speak to zones Z at priority P": the API's body, and what the page sends.
#[derive(utoipa::ToSchema, Deserialize)]
pub struct NewLive {
    /// Zone ids; every node under each is reached.
    pub zones: Vec<i64>,
    #[serde(default = "normal")]
    pub priority: Priority,
    /// The longest the session may last, 1 to 240; 60 when absent. It ends sooner when
    /// stopped.
    pub minutes: Option<u32>,
    /// With the commune's chime first (`true`), without (`false`), or as each node is set.
    pub chime: Option<bool>,
    /// Where the voice comes from: the speaker's browser (default), or the sound card of the
    /// controller's machine (`[live] capture_device`).
    #[serde(default)]
    pub input: LiveInput,
}

#[derive(utoipa::ToSchema, Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LiveInput {
    /// The browser sends the microphone on `/api/v1/live/{id}/audio`.
    #[default]
    Browser,
    /// The centre's microphone or mixer, wired to the controller's machine.
    SoundCard,
}

fn normal() -> Priority {
    Priority::Normal
}

/// A session with each village's delivery.
#[derive(utoipa::ToSchema, Serialize)]
pub struct LiveView {
    #[serde(flatten)]
    pub session: LiveSession,
    /// The broadcast carrying it: each node's delivery, and the recording once it ended.
    pub broadcast: BroadcastView,
}

/// Starts a session: its source, its relay announcement (archived: it is not for reuse),
/// and its broadcast now. What cannot be made (no loudspeaker in the zones, all in quiet
/// hours) leaves nothing behind.
pub async fn start(s: &App, actor: &Actor, new: &NewLive) -> Result<LiveSession, OpError> {
    let minutes = new.minutes.unwrap_or(DEFAULT_MINUTES);
    if !(1..=MAX_MINUTES).contains(&minutes) {
        return Err(OpError::new(
            super::Kind::Invalid,
            "live.length",
            format!("a live session's longest length is 1 to {MAX_MINUTES} minutes"),
        ));
    }
    let now = s.clock.now();
    let who = &actor.user.username;
    let local = now.with_timezone(&s.tz).format("%H:%M:%S %d/%m/%Y");
    let card = match new.input {
        LiveInput::Browser => None,
        LiveInput::SoundCard => Some(s.cfg.live.capture_device.clone().ok_or_else(|| {
            OpError::new(
                super::Kind::Invalid,
                "live.no_sound_card",
                "this controller has no sound card for live sessions ([live] capture_device)",
            )
        })?),
    };
    let source = s
        .store
        .create_live_source(&format!("{who} {local} #{}", rand::random::<u16>()))
        .await?;
    if let Some(device) = card {
        let (feed, pace) = (s.hub.feed(source.id), s.cfg.live.capture_pace);
        // Opening a device blocks: not on the runtime's threads.
        let opened =
            tokio::task::spawn_blocking(move || crate::relay::capture::start(&device, pace, feed))
                .await
                .unwrap_or_else(|e| Err(format!("the capture could not start: {e}")));
        if let Err(why) = opened {
            abandon(s, source.id, None).await;
            return Err(OpError::new(super::Kind::Invalid, "live.sound_card", why));
        }
    }
    let made = make_broadcast(s, actor, new, source.id, minutes, &who_at(who, &local)).await;
    let occ = match made {
        Ok(o) => o,
        Err((e, announcement)) => {
            abandon(s, source.id, announcement).await;
            return Err(e);
        }
    };
    let on_air = occ.start_at + chime_length(s, new.chime).await?;
    let session = s
        .store
        .create_live_session(source.id, occ.id, who, occ.start_at, on_air)
        .await?;
    // The speaker has SPEAKER_GONE from now to start sending.
    s.hub.feed(source.id);
    tracing::info!(session = session.id, broadcast = occ.id, source = source.id, user = %who, priority = %new.priority, minutes, "live session started");
    tokio::spawn(watch(
        s.clone(),
        session.id,
        on_air + chrono::Duration::minutes(i64::from(minutes)),
    ));
    Ok(session)
}

/// Takes back what a session that could not start made: its feed (a sound card lets go), its
/// source and its announcement.
async fn abandon(s: &App, source: i64, announcement: Option<i64>) {
    s.hub.end(source);
    if let Err(d) = s.store.discard_live_source(source, announcement).await {
        tracing::error!(source, error = %d, "a live session that could not start left its source");
    }
}

fn who_at(who: &str, local: &impl std::fmt::Display) -> String {
    format!("Phát trực tiếp: {who}, {local}")
}

/// The session's relay announcement (archived: not for reuse) and its broadcast now; on an
/// error, the announcement made so far, for [`start`] to take back.
async fn make_broadcast(
    s: &App,
    actor: &Actor,
    new: &NewLive,
    source: i64,
    minutes: u32,
    title: &str,
) -> Result<crate::store::occurrences::OccurrenceRow, (OpError, Option<i64>)> {
    let relay = NewRelay {
        source_id: source,
        seconds: minutes * 60,
    };
    let a = create_relay(s, title, &relay)
        .await
        .map_err(|e| (e, None))?;
    let with_it = |e: OpError| (e, Some(a.id));
    s.store
        .set_announcement_archived(a.id, Some(s.clock.now()))
        .await
        .map_err(|e| with_it(e.into()))?;
    let b = NewBroadcast {
        announcement_id: a.id,
        zones: new.zones.clone(),
        at: None,
        priority: new.priority,
        expires_in_minutes: Some(i64::from(minutes)),
        chime: new.chime,
        volume: None,
    };
    create_broadcast(s, actor, &b).await.map_err(with_it)
}

/// How long the chime plays before the voice, when the commune has one and the session
/// does not leave it out.
async fn chime_length(s: &App, chime: Option<bool>) -> Result<chrono::Duration, OpError> {
    if chime == Some(false) {
        return Ok(chrono::Duration::zero());
    }
    Ok(match s.store.chime_media().await? {
        Some(sha) => chrono::Duration::milliseconds(s.store.media(&sha).await?.duration_ms as i64),
        None => chrono::Duration::zero(),
    })
}

/// A session the account may see (its zones), with each village's delivery.
pub async fn view(s: &App, actor: &Actor, id: i64) -> Result<LiveView, OpError> {
    let session = s.store.live_session(id).await?;
    let occ = s.store.occurrence(session.broadcast_id).await?;
    actor.check_zones(&s.store, &occ.zone_ids).await?;
    Ok(LiveView {
        broadcast: broadcasts::view(s, actor, occ).await?,
        session,
    })
}

/// The session whose speaker the account may be: the one who started it, or an admin.
pub async fn speaker_session(s: &App, actor: &Actor, id: i64) -> Result<LiveSession, OpError> {
    let session = s.store.live_session(id).await?;
    if session.started_by != actor.user.username
        && actor.require(crate::store::accounts::Role::Admin).is_err()
    {
        return Err(OpError::new(
            super::Kind::Forbidden,
            "live.not_yours",
            "only the one who started a live session speaks in it",
        ));
    }
    if session.ended_at.is_some() {
        return Err(ended(&session));
    }
    Ok(session)
}

/// The error for a session that is over.
pub fn ended(session: &LiveSession) -> OpError {
    OpError::conflict(
        "live.ended",
        format!(
            "this live session has ended ({})",
            session.end_reason.as_deref().unwrap_or("stopped")
        ),
    )
}

/// Stops a session by staff (within the account's zones).
pub async fn stop_by(s: &App, actor: &Actor, id: i64) -> Result<LiveSession, OpError> {
    let session = s.store.live_session(id).await?;
    let occ = s.store.occurrence(session.broadcast_id).await?;
    actor.check_zones(&s.store, &occ.zone_ids).await?;
    let why = format!("stopped by {}", actor.user.username);
    end(s, &session, &why).await?;
    Ok(s.store.live_session(id).await?)
}

/// Ends a session once, for `why`: the relay fades out (the nodes' streams end), and after
/// [`SETTLE`] what has not ended is withdrawn.
pub async fn end(s: &App, session: &LiveSession, why: &str) -> Result<(), OpError> {
    if !s.store.end_live_session(session.id, why).await? {
        return Ok(());
    }
    tracing::info!(session = session.id, reason = why, "live session ended");
    s.hub.end(session.source_id);
    let (app, broadcast, why) = (s.clone(), session.broadcast_id, why.to_string());
    tokio::spawn(async move {
        tokio::time::sleep(SETTLE).await;
        withdraw_rest(&app, broadcast, &why).await;
    });
    Ok(())
}

/// Withdraws the deliveries of a session's broadcast that have not ended.
async fn withdraw_rest(s: &App, broadcast: i64, why: &str) {
    match s.store.cancel_occurrence(broadcast, why).await {
        Ok(touched) => s.planner.publish_all(&touched).await,
        Err(e) => {
            tracing::error!(broadcast, error = %e, "a live session's last deliveries could not be withdrawn")
        }
    }
}

/// Watches one session: it ends when the speaker is gone or its longest length is reached.
async fn watch(s: App, id: i64, until: DateTime<Utc>) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        tick.tick().await;
        let session = match s.store.live_session(id).await {
            Ok(x) => x,
            Err(e) => {
                tracing::error!(session = id, error = %e, "cannot read a live session");
                continue;
            }
        };
        if session.ended_at.is_some() {
            return;
        }
        let why = if s.hub.feed(session.source_id).silent_for() >= SPEAKER_GONE {
            format!(
                "the speaker sent nothing for {} s (the browser or its link went away)",
                SPEAKER_GONE.as_secs()
            )
        } else if Utc::now() >= until {
            "its longest length was reached".to_string()
        } else {
            continue;
        };
        if let Err(e) = end(&s, &session, &why).await {
            tracing::error!(session = id, error = %e, "cannot end a live session");
        }
        return;
    }
}

/// At start-up: sessions left on air by a controller that stopped have no speaker any more.
pub async fn end_left_open(s: App) {
    let open = match s.store.open_live_sessions().await {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the live sessions left open");
            return;
        }
    };
    for session in open {
        let why = "the controller restarted";
        if let Err(e) = s.store.end_live_session(session.id, why).await {
            tracing::error!(session = session.id, error = %e, "cannot end a live session");
            continue;
        }
        withdraw_rest(&s, session.broadcast_id, why).await;
    }
}
