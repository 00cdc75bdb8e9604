//! The controller's records in SQLite (sqlx, WAL, migrations under `controller/migrations`).
//!
//! One file per table family: [`zones`], [`nodes`], [`media`], [`occurrences`] (with their
//! deliveries), [`parts`] (recordings per language, chime, parts played), [`schedules`],
//! [`settings`] (the commune's settings, each with its default), [`sources`] (relay sources), [`live`] (live sessions), [`releases`] (node releases and their rollouts), [`events`], [`accounts`] (staff, sessions, tokens, audit log) and [`report`] (what the
//! delivery report counts; the presence history is written with the node's state, in
//! [`nodes`]); [`security`] (node keys, state stamps, refusals, decommissioning);
//! [`faults`] (the facts the fault rules read, the thresholds, the fault history);
//! [`overview`] reads across them for the staff pages. Times are stored as
//! RFC 3339 text in UTC with milliseconds, so text order is time order.

pub mod accounts;
pub mod cap_alerts;
pub mod events;
pub mod faults;
pub mod live;
pub mod locations;
pub mod media;
pub mod nodes;
pub mod occurrences;
pub mod overview;
pub mod parts;
pub mod presence;
pub mod recordings;
pub mod releases;
pub mod report;
pub mod schedules;
pub mod security;
pub mod settings;
pub mod sources;
pub mod zones;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, SqlitePool};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Limit(#[from] crate::limits::LimitError),
}

impl StoreError {
    /// The disk under the database is full (SQLite's SQLITE_FULL, "database or disk is full"),
    /// or a write failed with ENOSPC: not the caller's fault nor a bug, and it passes once
    /// there is room again.
    pub fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Db(e) => db_disk_full(e),
            StoreError::Migrate(sqlx::migrate::MigrateError::Execute(e)) => db_disk_full(e),
            _ => false,
        }
    }
}

/// SQLITE_FULL, the primary result code SQLite gives when it cannot grow a file.
const SQLITE_FULL: &str = "13";

fn db_disk_full(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            d.code().as_deref() == Some(SQLITE_FULL)
                || d.message().contains("database or disk is full")
        }
        sqlx::Error::Io(io) => {
            matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        }
        _ => false,
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// A statement whose text depends on the size of a batch (`IN (?, ?, …)`, `VALUES (…), (…)`),
/// not kept prepared: sqlx keeps up to 100 prepared statements per connection, and each of
/// these is a new one, some with thousands of placeholders.
fn batch_query(
    sql: &str,
) -> sqlx::query::Query<'_, sqlx::Sqlite, sqlx::sqlite::SqliteArguments<'_>> {
    sqlx::query(sql).persistent(false)
}

/// A [`batch_query`] whose rows are read as a [`sqlx::FromRow`] type.
fn batch_query_as<T>(
    sql: &str,
) -> sqlx::query::QueryAs<'_, sqlx::Sqlite, T, sqlx::sqlite::SqliteArguments<'_>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    sqlx::query_as(sql).persistent(false)
}

/// The database handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: SqlitePool,
    /// Taken by the two writers that write in bulk (the planner's plan batches, ingest's
    /// message batches) for the length of their transaction. SQLite lets one writer in at a
    /// time and makes the others sleep and retry (1, 2, 5, 10… ms); waiting here instead
    /// hands the database over the moment it is free. At 2,000 nodes that sleeping tripled
    /// the time to send a broadcast's plans.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl Store {
    /// A transaction that takes SQLite's write lock at once (`BEGIN IMMEDIATE`), waiting
    /// for it as long as the busy timeout allows. Every transaction here writes, and most
    /// read first: begun the default way (deferred), one that read before another writer
    /// committed cannot take the write lock at all, and SQLite fails it at once with
    /// SQLITE_BUSY instead of waiting (the busy timeout does not cover that). Cancelling a
    /// schedule while a node's events were being stored answered 500 so.
    pub async fn write_tx(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Waits for the bulk writers' turn; hold it until the transaction is committed.
    pub async fn bulk_write_turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.writer.clone().lock_owned().await
    }

    /// Opens (creating if needed) `loa.db` in `data_dir` and runs the migrations.
    pub async fn open(data_dir: &Path) -> Result<Store> {
        let url = format!("sqlite://{}", data_dir.join("loa.db").display());
        let opts = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            // When the disk fills up, SQLite rolls a failed transaction back by itself; sqlx
            // does not know, its own ROLLBACK then fails, and it goes on counting the
            // connection as in a transaction. Its next BEGIN becomes a SAVEPOINT, whose
            // failure leaves a real transaction open and the database locked for everyone
            // ("database is locked" long after the disk has room again). Such a connection
            // is closed, not reused. The ping lets the queued rollback run first.
            .after_release(|conn, _| {
                Box::pin(async move {
                    conn.ping().await?;
                    if conn.is_in_transaction() {
                        tracing::warn!("a database connection lost track of its transaction (a full disk?); closing it");
                        return Ok(false);
                    }
                    Ok(true)
                })
            })
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store {
            pool,
            writer: Default::default(),
        })
    }

    /// A quick round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// The stored text of an instant.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads a stored instant back.
pub fn parse_ts(s: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Invalid(format!("bad stored time {s:?}: {e}")))
}

pub fn parse_opt_ts(s: Option<String>) -> Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The row types read stored times as `DateTime<Utc>` through sqlx; what [`ts`] writes
    /// must come back exactly as [`parse_ts`] reads it, milliseconds included.
    #[tokio::test]
    async fn stored_times_read_back_through_sqlx_as_parse_ts_reads_them() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let instants = [
            Utc.with_ymd_and_hms(2026, 12, 5, 15, 34, 13).unwrap(),
            Utc.timestamp_millis_opt(1_796_485_453_007).unwrap(),
            Utc.timestamp_opt(1_796_485_453, 999_999_999).unwrap(),
            Utc.timestamp_opt(0, 1_000_000).unwrap(),
        ];
        for t in instants {
            let text = ts(t);
            let read: DateTime<Utc> = sqlx::query_scalar("SELECT ?")
                .bind(&text)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            assert_eq!(read, parse_ts(&text).unwrap(), "{text}");
            assert_eq!(ts(read), text);
        }
        let offset = "2026-12-05T22:34:13.250+07:00";
        let read: DateTime<Utc> = sqlx::query_scalar("SELECT ?")
            .bind(offset)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(read, parse_ts(offset).unwrap());
    }

    #[tokio::test]
    async fn a_bad_stored_time_is_an_error_naming_its_column() {
        #[derive(Debug, sqlx::FromRow)]
        struct Record {
            #[allow(dead_code)]
            start_at: DateTime<Utc>,
        }
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        let e = sqlx::query_as::<_, Record>("SELECT 'soon' AS start_at")
            .fetch_one(&mut conn)
            .await
            .unwrap_err();
        assert!(e.to_string().contains("\"start_at\""), "{e}");
    }
}
