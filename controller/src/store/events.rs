//! Node events, stored once per (node, seq), and the acknowledgement high-water mark.

use chrono::{DateTime, Utc};
use loa_protocol::{Event, EventBody};
use serde::Serialize;
use sqlx::SqliteConnection;

use super::{ts, Result, Store};

/// How long a village had a stream item on air, and the gaps in it.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq)]
pub struct OnAir {
    /// From its start to its end (or now, while it plays), less the gaps, in milliseconds.
    pub ms: u64,
    pub gaps: Vec<StreamGap>,
}

/// A stretch of silence a node reported inside a stream item.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq)]
pub struct StreamGap {
    /// When it began, by the node's clock.
    pub from: DateTime<Utc>,
    pub ms: u64,
    /// Why, in the node's words (`the stream stalled …`, `the connection broke …`).
    pub cause: String,
}

impl Store {
    /// The gaps `node` reported in `item`, in order.
    pub async fn stream_gaps(&self, node: &str, item: &str) -> Result<Vec<StreamGap>> {
        let bodies: Vec<String> = sqlx::query_scalar(
            "SELECT body FROM events WHERE node_id = ? \
             AND json_extract(body, '$.kind') = 'stream_gap' AND json_extract(body, '$.item') = ? \
             ORDER BY seq",
        )
        .bind(node)
        .bind(item)
        .fetch_all(&self.pool)
        .await?;
        Ok(bodies
            .iter()
            .filter_map(|b| serde_json::from_str::<Event>(b).ok())
            .filter_map(|e| match e.body {
                EventBody::StreamGap {
                    from, ms, cause, ..
                } => Some(StreamGap { from, ms, cause }),
                _ => None,
            })
            .collect())
    }
}

/// Stores an event unless (node, seq) is already stored; true when it is new.
pub async fn insert_event(conn: &mut SqliteConnection, node_id: &str, ev: &Event) -> Result<bool> {
    let body = serde_json::to_string(ev).expect("events serialise");
    let r = sqlx::query(
        "INSERT OR IGNORE INTO events (node_id, seq, at, stored_at, body) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(node_id)
    .bind(ev.seq as i64)
    .bind(ts(ev.at))
    .bind(ts(Utc::now()))
    .bind(body)
    .execute(&mut *conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Moves the node's acknowledged sequence number over every event now stored without a gap,
/// and returns it. A gap (an event lost on the way) holds the mark until the node resends.
pub async fn advance_ack(conn: &mut SqliteConnection, node_id: &str) -> Result<u64> {
    let mut acked: i64 = sqlx::query_scalar("SELECT acked_seq FROM nodes WHERE id = ?")
        .bind(node_id)
        .fetch_one(&mut *conn)
        .await?;
    let seqs: Vec<i64> =
        sqlx::query_scalar("SELECT seq FROM events WHERE node_id = ? AND seq > ? ORDER BY seq")
            .bind(node_id)
            .bind(acked)
            .fetch_all(&mut *conn)
            .await?;
    let start = acked;
    for s in seqs {
        if s == acked + 1 {
            acked = s;
        } else {
            break;
        }
    }
    if acked != start {
        sqlx::query("UPDATE nodes SET acked_seq = ? WHERE id = ?")
            .bind(acked)
            .bind(node_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(acked as u64)
}
