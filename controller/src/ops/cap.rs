//! CAP alerts taken in, by POST from an authorised sender or from the configured feed: the
//! message is checked (`crate::cap::parse`), decided (`crate::cap::decide`), acted on (a
//! broadcast to exactly the stations inside its area, at once; earlier broadcasts cancelled
//! for an Update or Cancel), recorded with the message as received, and written to the audit
//! log with why, whether it was taken or refused.

use base64::Engine;
use chrono::Duration;
use loa_protocol::Priority;
use serde::Serialize;

use super::cap_fetch::same_host;
use super::{App, Kind, OpError};
use crate::cap::decide::chosen_info;
use crate::cap::{self, Alert, CapError, Decision, Info, Station, World};
use crate::schedule::materializer::quiet_nodes;
use crate::store::accounts::User;
use crate::store::cap_alerts::{CapAlertRow, NewCapAlert};
use crate::store::occurrences::NewOccurrence;
use crate::store::parts::Recording;

/// Who handed the alert in.
pub enum Via<'a> {
    /// `POST /api/v1/cap` by this account (a person or an API token's owner).
    Api(&'a User),
    /// The configured feed, at this URL. Audio `<resource>`s whose `uri` is on the feed's
    /// host may be fetched.
    Feed(&'a str),
}

impl Via<'_> {
    fn label(&self) -> String {
        match self {
            Via::Api(u) => format!("api:{}", u.username),
            Via::Feed(url) => format!("feed:{url}"),
        }
    }

    fn user(&self) -> Option<&User> {
        match self {
            Via::Api(u) => Some(u),
            Via::Feed(_) => None,
        }
    }
}

/// An alert taken (or kept as not played): what was decided and where it played.
#[derive(utoipa::ToSchema, Serialize)]
pub struct Taken {
    /// played, cancelled, recorded or refused.
    pub decision: String,
    pub why: String,
    /// The stations it plays on (none unless played).
    pub nodes: Vec<String>,
    /// khẩn cấp (`emergency`) or ưu tiên (`priority`), when played.
    pub priority: Option<Priority>,
    /// The broadcast made for it, when played.
    pub broadcast_id: Option<i64>,
    /// The broadcasts whose deliveries not yet played were cancelled (Update, Cancel).
    pub cancelled: Vec<i64>,
    /// The record of the alert.
    pub alert: CapAlertRow,
}

/// The audit log's action for alerts.
pub const AUDIT_ACTION: &str = "CAP alert";

/// Takes one CAP 1.2 message. A malformed or invalid message is an `Invalid` error naming the
/// element; a duplicate is a `Conflict` (both audited). Anything else answers the decision.
pub async fn take(s: &App, via: Via<'_>, xml: &str) -> Result<Taken, OpError> {
    let alert = match cap::parse(xml) {
        Ok(a) => a,
        Err(e) => {
            let code = match e {
                CapError::Malformed(_) => "cap.malformed",
                CapError::Invalid { .. } => "cap.invalid",
            };
            audit(s, &via, 422, &format!("refused: {e}")).await;
            return Err(OpError::new(Kind::Invalid, code, e.to_string()));
        }
    };
    let duplicate = s
        .store
        .cap_alert_taken(&alert.sender, &alert.identifier)
        .await?;
    let mut referenced = Vec::new();
    for r in &alert.references {
        referenced.extend(s.store.cap_occurrences(&r.sender, &r.identifier).await?);
    }
    let stations: Vec<Station> = s
        .store
        .nodes()
        .await?
        .into_iter()
        .filter_map(|n| {
            n.location.map(|l| Station {
                node_id: n.id,
                latitude: l.latitude,
                longitude: l.longitude,
            })
        })
        .collect();
    let now = s.clock.now();
    let decision = cap::decide(
        &alert,
        &World {
            now,
            stations: &stations,
            duplicate,
            referenced,
            default_expiry: Duration::minutes(s.cfg.default_expiry_minutes),
        },
    );
    let acted = act(s, &via, &alert, &decision).await;
    let (decision_kind, why, acted) = match acted {
        Ok(a) => match &a.overruled {
            Some(why) => ("recorded", why.clone(), a),
            None => (decision.kind(), decision.why().to_owned(), a),
        },
        Err(e) => {
            // The audio could not be made: nothing plays, and the records say why.
            let why = format!("not played: {e}");
            record(s, &via, &alert, xml, "refused", &why, None).await?;
            audit(s, &via, 503, &format!("refused: {why} ({})", who(&alert))).await;
            return Err(e);
        }
    };
    let row = record(s, &via, &alert, xml, decision_kind, &why, acted.broadcast).await?;
    if let Decision::Refuse {
        duplicate: true, ..
    } = decision
    {
        audit(s, &via, 409, &format!("refused: {why}")).await;
        return Err(OpError::conflict("cap.duplicate", why));
    }
    audit(
        s,
        &via,
        201,
        &format!("{decision_kind}: {why} ({})", who(&alert)),
    )
    .await;
    Ok(Taken {
        decision: decision_kind.into(),
        why,
        nodes: acted.nodes,
        priority: acted.priority,
        broadcast_id: acted.broadcast,
        cancelled: acted.cancelled,
        alert: row,
    })
}

fn who(a: &Alert) -> String {
    format!("{} from {}", a.identifier, a.sender)
}

#[derive(Default)]
struct Acted {
    /// Set when what was done differs from the decision (every station in quiet hours): why,
    /// and the alert is recorded, not played.
    overruled: Option<String>,
    nodes: Vec<String>,
    priority: Option<Priority>,
    broadcast: Option<i64>,
    cancelled: Vec<i64>,
}

async fn act(s: &App, via: &Via<'_>, alert: &Alert, d: &Decision) -> Result<Acted, OpError> {
    match d {
        Decision::Play {
            info,
            priority,
            nodes,
            expires,
            replaces,
            ..
        } => {
            let info = &alert.info[*info];
            let now = s.clock.now();
            let quiet = quiet_nodes(&s.store, nodes, *priority, now, s.tz).await?;
            let nodes: Vec<String> = nodes
                .iter()
                .filter(|n| !quiet.contains(n))
                .cloned()
                .collect();
            let cancelled = cancel(
                s,
                replaces,
                &format!("replaced by CAP alert {}", who(alert)),
            )
            .await?;
            if nodes.is_empty() {
                return Ok(Acted {
                    cancelled,
                    overruled: Some(format!(
                        "not played: every station inside the area is in quiet hours now (only \
                         emergencies play then); {}",
                        d.why()
                    )),
                    ..Acted::default()
                });
            }
            let recording = audio(s, via, info).await?;
            let title = format!(
                "CAP: {}",
                info.headline.as_deref().unwrap_or(info.event.as_str())
            );
            let title: String = title.chars().take(200).collect();
            let announcement = s.store.create_announcement(&title, &[recording]).await?;
            let mut zones = Vec::new();
            for n in &nodes {
                let z = s.store.node(n).await?.zone_id;
                if !zones.contains(&z) {
                    zones.push(z);
                }
            }
            let occ = s
                .store
                .create_occurrence(
                    &NewOccurrence {
                        announcement_id: announcement.id,
                        priority: *priority,
                        start_at: now,
                        expires_at: *expires,
                        chime: None,
                        volume: None,
                    },
                    &zones,
                    &nodes,
                )
                .await?;
            s.planner.publish_all(&nodes).await;
            tracing::info!(alert = %alert.identifier, sender = %alert.sender, nodes = nodes.len(), quiet = quiet.len(), priority = %priority, "CAP alert played");
            Ok(Acted {
                overruled: None,
                nodes,
                priority: Some(*priority),
                broadcast: Some(occ.id),
                cancelled,
            })
        }
        Decision::Cancel { occurrences, .. } => Ok(Acted {
            cancelled: cancel(
                s,
                occurrences,
                &format!("cancelled by CAP alert {}", who(alert)),
            )
            .await?,
            ..Acted::default()
        }),
        Decision::Record { .. } | Decision::Refuse { .. } => Ok(Acted::default()),
    }
}

/// Cancels what is not yet played of each broadcast (one already over or cancelled is left
/// as it is) and sends the nodes touched their new plans.
async fn cancel(s: &App, ids: &[i64], reason: &str) -> Result<Vec<i64>, OpError> {
    let mut done = Vec::new();
    let mut touched = Vec::new();
    for &id in ids {
        match s.store.cancel_occurrence(id, reason).await {
            Ok(nodes) => {
                done.push(id);
                touched.extend(nodes);
            }
            Err(crate::store::StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !touched.is_empty() {
        s.planner.publish_all(&touched).await;
    }
    Ok(done)
}

/// The alert's audio: its first audio `<resource>` (embedded as `derefUri`, or fetched from
/// the feed's own host), else the headline and description read out.
async fn audio(s: &App, via: &Via<'_>, info: &Info) -> Result<Recording, OpError> {
    let language = info
        .language
        .split('-')
        .next()
        .unwrap_or("vi")
        .to_ascii_lowercase();
    if let Some(res) = info.resources.iter().find(|r| r.is_audio()) {
        let bytes = if let Some(d) = &res.deref_uri {
            let clean: String = d.chars().filter(|c| !c.is_whitespace()).collect();
            Some(
                base64::engine::general_purpose::STANDARD
                    .decode(clean)
                    .map_err(|e| {
                        OpError::new(
                            Kind::Invalid,
                            "cap.invalid",
                            format!("<resource>/<derefUri> is not base64: {e}"),
                        )
                    })?,
            )
        } else if let (Some(uri), Via::Feed(feed)) = (&res.uri, via) {
            if same_host(uri, feed) {
                Some(super::cap_fetch::fetch(s, uri).await?)
            } else {
                tracing::warn!(
                    uri,
                    feed,
                    "CAP audio on another host than the feed: not fetched, read out instead"
                );
                None
            }
        } else {
            None
        };
        if let Some(bytes) = bytes {
            let media =
                super::media::keep_bytes(s, &bytes, Some(format!("cap-{}", res.desc))).await?;
            return Ok(Recording {
                language,
                media_sha256: media.sha256,
            });
        }
    }
    let text = speech_text(info);
    let voice = if language == "vi" { "vi" } else { "en" };
    let r = s.tts.render(&text, Some(voice)).await.map_err(|e| {
        let kind = match e {
            crate::tts::TtsError::EngineMissing(_) | crate::tts::TtsError::VoiceMissing(_) => {
                Kind::Unavailable
            }
            _ => Kind::Internal,
        };
        OpError::new(kind, e.code(), e.to_string())
    })?;
    let bytes = tokio::fs::read(&r.path)
        .await
        .map_err(crate::media::MediaError::from)?;
    let media =
        super::media::keep_bytes(s, &bytes, Some(format!("cap-tts-{}.wav", r.voice.id))).await?;
    Ok(Recording {
        language: r.voice.language.to_owned(),
        media_sha256: media.sha256,
    })
}

/// What is read out: the headline, then the description (or the event when neither is
/// given), cut to what text-to-speech reads (2,000 characters).
pub fn speech_text(info: &Info) -> String {
    let parts: Vec<&str> = [info.headline.as_deref(), info.description.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let text = if parts.is_empty() {
        info.event.clone()
    } else {
        parts.join(". ")
    };
    text.chars().take(2000).collect()
}

async fn record(
    s: &App,
    via: &Via<'_>,
    a: &Alert,
    xml: &str,
    decision: &str,
    why: &str,
    occurrence_id: Option<i64>,
) -> Result<CapAlertRow, OpError> {
    let expires = chosen_info(a)
        .and_then(|(_, i)| i.expires)
        .map(|e| e.to_rfc3339());
    let via = via.label();
    let row = s
        .store
        .record_cap_alert(&NewCapAlert {
            identifier: &a.identifier,
            sender: &a.sender,
            sent: &a.sent.to_rfc3339(),
            msg_type: a.msg_type.as_str(),
            status: a.status.as_str(),
            expires,
            decision,
            why,
            occurrence_id,
            via: &via,
            xml,
        })
        .await;
    match row {
        Ok(r) => Ok(r),
        Err(crate::store::StoreError::Conflict(m)) => Err(OpError::conflict("cap.duplicate", m)),
        Err(e) => Err(e.into()),
    }
}

async fn audit(s: &App, via: &Via<'_>, status: u16, detail: &str) {
    let detail = format!("{detail} [via {}]", via.label());
    let detail: String = detail.chars().take(1000).collect();
    if let Err(e) = s
        .store
        .audit(via.user(), AUDIT_ACTION, status, Some(&detail), None)
        .await
    {
        tracing::error!(error = %e, "cannot write the audit log");
    }
}
