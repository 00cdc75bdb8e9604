//! What the benchmarks read from the controller's own records: its SQLite database, opened
//! read-only beside the running controller (WAL lets both work at once). Times are the
//! controller's (`stored_at`) or the node's (`received_at`, `playing_at`); every process runs
//! on this one machine, so they share one clock.

use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::path::Path;
use std::str::FromStr as _;

pub struct Db {
    pool: SqlitePool,
}

/// One delivery's times, as the node reported them.
pub struct Delivery {
    pub playing_at: Option<DateTime<Utc>>,
    pub start_error_ms: Option<i64>,
}

impl Db {
    pub async fn open(path: &Path) -> anyhow::Result<Db> {
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await?;
        Ok(Db { pool })
    }

    /// Nodes online whose state says they applied the last plan published to them.
    pub async fn nodes_settled(&self) -> anyhow::Result<usize> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM nodes WHERE revoked_at IS NULL AND presence = 'online' \
             AND json_extract(state_json, '$.plan_version') = plan_version",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(n as usize)
    }

    /// The last time the controller stored an event or a node's state.
    pub async fn last_write(&self) -> anyhow::Result<DateTime<Utc>> {
        let (events, states): (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT (SELECT max(stored_at) FROM events), (SELECT max(last_seen) FROM nodes)",
        )
        .fetch_one(&self.pool)
        .await?;
        let times: Vec<DateTime<Utc>> = [events, states]
            .iter()
            .flatten()
            .map(|t| parse(t))
            .collect::<anyhow::Result<_>>()?;
        Ok(times.into_iter().max().unwrap_or(DateTime::<Utc>::MIN_UTC))
    }

    /// How many of the broadcast's deliveries have reached `column` (`received_at`, …).
    pub async fn count_reached(&self, broadcast: i64, column: &str) -> anyhow::Result<usize> {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM deliveries WHERE occurrence_id = ? AND {column} IS NOT NULL"
        ))
        .bind(broadcast)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as usize)
    }

    /// When the controller stored the last event about `item` at `stage`.
    pub async fn last_stored(&self, item: &str, stage: &str) -> anyhow::Result<DateTime<Utc>> {
        let at: Option<String> = sqlx::query_scalar(
            "SELECT max(stored_at) FROM events WHERE json_extract(body, '$.item') = ? \
             AND json_extract(body, '$.stage') = ?",
        )
        .bind(item)
        .bind(stage)
        .fetch_one(&self.pool)
        .await?;
        parse(&at.ok_or_else(|| anyhow::anyhow!("no {stage} event stored for {item}"))?)
    }

    pub async fn deliveries(&self, broadcast: i64) -> anyhow::Result<Vec<Delivery>> {
        let rows: Vec<(Option<String>, Option<i64>)> = sqlx::query_as(
            "SELECT playing_at, start_error_ms FROM deliveries \
             WHERE occurrence_id = ?",
        )
        .bind(broadcast)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(p, e)| {
                Ok(Delivery {
                    playing_at: p.as_deref().map(parse).transpose()?,
                    start_error_ms: e,
                })
            })
            .collect()
    }

    /// Events stored in `[from, to)`, and the gap between each one's node time and the time
    /// the controller stored it, in milliseconds.
    pub async fn events_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> anyhow::Result<Vec<(DateTime<Utc>, f64)>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT at, stored_at FROM events WHERE stored_at >= ? AND stored_at < ?",
        )
        .bind(stamp(from))
        .bind(stamp(to))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|(at, stored)| {
                let (at, stored) = (parse(at)?, parse(stored)?);
                Ok((
                    stored,
                    (stored - at).num_microseconds().unwrap_or(0) as f64 / 1e3,
                ))
            })
            .collect()
    }
}

/// The controller's time format, whichever way sqlx wrote it.
fn parse(s: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    Ok(DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z")
        .map_err(|e| anyhow::anyhow!("time {s:?}: {e}"))?
        .with_timezone(&Utc))
}

/// A time as the controller stores it, for comparisons in SQL.
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
