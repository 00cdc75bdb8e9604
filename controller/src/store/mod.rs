//! The controller's records in SQLite (sqlx, WAL, migrations under `controller/migrations`).
//!
//! One file per table family: [`zones`], [`nodes`], [`media`], [`occurrences`] (with their
//! deliveries), [`parts`] (recordings per language, chime, parts played), [`schedules`],
//! [`events`], [`accounts`] (staff, sessions, tokens, audit log) and [`report`] (what the
//! delivery report counts; the presence history is written with the node's state, in
//! [`nodes`]); [`security`] (node keys, state stamps, refusals, decommissioning);
//! [`overview`] reads across them for the staff pages. Times are stored as
//! RFC 3339 text in UTC with milliseconds, so text order is time order.

pub mod accounts;
pub mod events;
pub mod media;
pub mod nodes;
pub mod occurrences;
pub mod overview;
pub mod parts;
pub mod report;
pub mod schedules;
pub mod security;
pub mod zones;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlitePool;
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

pub type Result<T> = std::result::Result<T, StoreError>;

/// The database handle; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: SqlitePool,
}

impl Store {
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
            .connect_with(opts)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Store { pool })
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
