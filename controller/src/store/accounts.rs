//! Staff accounts: users with a role and (optionally) the zones they are limited to, browser
//! sessions and API tokens (only their SHA-256 is kept), and the audit log of every change.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::str::FromStr;

use super::{ts, Result, Store, StoreError};

/// What an account may do; each role may do everything the ones before it may.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[derive(utoipa::ToSchema)]
pub enum Role {
    /// Officials: status and reports.
    Viewer,
    /// Announcements, schedules, broadcasts.
    Operator,
    /// Users, zones, nodes, settings.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role {other:?}: use admin, operator or viewer"
            )),
        }
    }
}

#[derive(utoipa::ToSchema, Debug, Clone, Serialize, PartialEq)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub language: String,
    /// Empty: the whole commune.
    pub zone_ids: Vec<i64>,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// A new account, as an admin or `loa-controller user add` gives it.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub role: Role,
    pub language: &'a str,
    pub zone_ids: &'a [i64],
}

/// One line of the audit log.
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub user_id: Option<i64>,
    pub username: String,
    pub action: String,
    pub status: u16,
    pub detail: Option<String>,
    pub ip: Option<String>,
}

/// An API token as listed (the token itself is shown once, at creation).
#[derive(utoipa::ToSchema, Debug, Clone, Serialize, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A `users` row as stored; the role is text, read by [`UserRecord::into_user`].
#[derive(sqlx::FromRow)]
struct UserRecord {
    id: i64,
    username: String,
    display_name: String,
    role: String,
    language: String,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
}

/// A `users` row with its password hash, for a login.
#[derive(sqlx::FromRow)]
struct LoginRecord {
    #[sqlx(flatten)]
    user: UserRecord,
    password_hash: String,
}

/// How long a browser session lives without use.
pub const SESSION_IDLE_HOURS: i64 = 12;

fn check_username(u: &str) -> Result<()> {
    let ok = (2..=64).contains(&u.chars().count())
        && u.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid(
            "a user name is 2 to 64 letters, digits, '.', '_', '-' or '@'".into(),
        ))
    }
}

impl Store {
    pub async fn create_user(&self, u: &NewUser<'_>) -> Result<User> {
        check_username(u.username)?;
        let display_name = crate::limits::DISPLAY_NAME.check(u.display_name)?;
        if !matches!(u.language, "vi" | "en") {
            return Err(StoreError::Invalid("language is vi or en".into()));
        }
        for z in u.zone_ids {
            self.zone(*z).await?;
        }
        let mut tx = self.write_tx().await?;
        let r = sqlx::query(
            "INSERT INTO users (username, display_name, password_hash, role, language, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(u.username)
        .bind(display_name)
        .bind(u.password_hash)
        .bind(u.role.as_str())
        .bind(u.language)
        .bind(ts(Utc::now()))
        .execute(&mut *tx)
        .await;
        let id = match r {
            Ok(r) => r.last_insert_rowid(),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!(
                    "the user name {:?} is taken",
                    u.username
                )))
            }
            Err(e) => return Err(e.into()),
        };
        for z in u.zone_ids {
            sqlx::query("INSERT INTO user_zones (user_id, zone_id) VALUES (?, ?)")
                .bind(id)
                .bind(z)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.user(id).await
    }

    pub async fn user(&self, id: i64) -> Result<User> {
        let row = sqlx::query_as::<_, UserRecord>("SELECT * FROM users WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("user {id}")))?;
        self.user_from(row).await
    }

    pub async fn users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query_as::<_, UserRecord>("SELECT * FROM users ORDER BY username")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(self.user_from(r).await?);
        }
        Ok(out)
    }

    /// The account and its password hash, for a login (disabled accounts included: the caller
    /// refuses them with the same answer as a wrong password).
    pub async fn user_for_login(&self, username: &str) -> Result<Option<(User, String)>> {
        let row = sqlx::query_as::<_, LoginRecord>("SELECT * FROM users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some((self.user_from(r.user).await?, r.password_hash))),
            None => Ok(None),
        }
    }

    /// Changes what is given; `None` leaves a field as it is.
    pub async fn update_user(
        &self,
        id: i64,
        role: Option<Role>,
        zone_ids: Option<&[i64]>,
        password_hash: Option<&str>,
        disabled: Option<bool>,
    ) -> Result<User> {
        self.user(id).await?;
        if let Some(z) = zone_ids {
            for zone in z {
                self.zone(*zone).await?;
            }
        }
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "UPDATE users SET role = COALESCE(?, role), password_hash = COALESCE(?, password_hash),
                 disabled_at = CASE WHEN ? IS NULL THEN disabled_at WHEN ? THEN COALESCE(disabled_at, ?) ELSE NULL END
             WHERE id = ?",
        )
        .bind(role.map(Role::as_str))
        .bind(password_hash)
        .bind(disabled)
        .bind(disabled)
        .bind(ts(Utc::now()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if let Some(z) = zone_ids {
            sqlx::query("DELETE FROM user_zones WHERE user_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for zone in z {
                sqlx::query("INSERT INTO user_zones (user_id, zone_id) VALUES (?, ?)")
                    .bind(id)
                    .bind(zone)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        if disabled == Some(true) || password_hash.is_some() {
            // A disabled account, or a changed password, ends every session.
            sqlx::query("DELETE FROM sessions WHERE user_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.user(id).await
    }

    async fn user_from(&self, row: UserRecord) -> Result<User> {
        let zone_ids =
            sqlx::query_scalar("SELECT zone_id FROM user_zones WHERE user_id = ? ORDER BY zone_id")
                .bind(row.id)
                .fetch_all(&self.pool)
                .await?;
        Ok(User {
            id: row.id,
            username: row.username,
            display_name: row.display_name,
            role: row.role.parse().map_err(StoreError::Invalid)?,
            language: row.language,
            zone_ids,
            created_at: row.created_at,
            disabled_at: row.disabled_at,
        })
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf: &str,
        ip: Option<&str>,
    ) -> Result<()> {
        let now = Utc::now();
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at, ip)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(ts(now))
        .bind(ts(now + Duration::hours(SESSION_IDLE_HOURS)))
        .bind(ip)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The live session's user and CSRF token; each use extends it.
    pub async fn session(&self, token_hash: &str) -> Result<Option<(User, String)>> {
        let now = Utc::now();
        let row = sqlx::query_as::<_, (i64, String)>(
            "SELECT s.user_id, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some((user_id, csrf)) = row else {
            return Ok(None);
        };
        let extended = sqlx::query("UPDATE sessions SET expires_at = ? WHERE token_hash = ?")
            .bind(ts(now + Duration::hours(SESSION_IDLE_HOURS)))
            .bind(token_hash)
            .execute(&self.pool)
            .await;
        bookkeeping(extended, "extend a session")?;
        let user = self.user(user_id).await?;
        Ok(Some((user, csrf)))
    }

    pub async fn end_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn create_token(
        &self,
        user_id: i64,
        name: &str,
        token_hash: &str,
    ) -> Result<TokenRow> {
        let name = crate::limits::TOKEN_NAME.check(name)?;
        self.user(user_id).await?;
        let id = sqlx::query(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(ts(Utc::now()))
        .execute(&self.pool)
        .await?
        .last_insert_rowid();
        Ok(self
            .tokens()
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .expect("just made"))
    }

    pub async fn tokens(&self) -> Result<Vec<TokenRow>> {
        Ok(
            sqlx::query_as::<_, TokenRow>("SELECT * FROM api_tokens ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The user behind a live token (not revoked, account not disabled); notes its use.
    pub async fn token_user(&self, token_hash: &str) -> Result<Option<User>> {
        let row = sqlx::query_as::<_, (i64, i64)>(
            "SELECT t.id, t.user_id FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = ? AND t.revoked_at IS NULL AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some((token_id, user_id)) = row else {
            return Ok(None);
        };
        let noted = sqlx::query("UPDATE api_tokens SET last_used = ? WHERE id = ?")
            .bind(ts(Utc::now()))
            .bind(token_id)
            .execute(&self.pool)
            .await;
        bookkeeping(noted, "note a token's use")?;
        Ok(Some(self.user(user_id).await?))
    }

    pub async fn revoke_token(&self, id: i64) -> Result<()> {
        let r =
            sqlx::query("UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(ts(Utc::now()))
                .bind(id)
                .execute(&self.pool)
                .await?;
        if r.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("live token {id}")));
        }
        Ok(())
    }

    pub async fn audit(
        &self,
        user: Option<&User>,
        action: &str,
        status: u16,
        detail: Option<&str>,
        ip: Option<&str>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, user_id, username, action, status, detail, ip)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(ts(Utc::now()))
        .bind(user.map(|u| u.id))
        .bind(user.map_or("-", |u| u.username.as_str()))
        .bind(action)
        .bind(i64::from(status))
        .bind(detail)
        .bind(ip)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The newest entries first.
    pub async fn audit_log(&self, limit: i64) -> Result<Vec<AuditEntry>> {
        Ok(
            sqlx::query_as::<_, AuditEntry>("SELECT * FROM audit_log ORDER BY id DESC LIMIT ?")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Whether `zone_id` is one of `scope` or lies below one of them.
    pub async fn zone_within(&self, zone_id: i64, scope: &[i64]) -> Result<bool> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "WITH RECURSIVE up(id, parent_id) AS (
                SELECT id, parent_id FROM zones WHERE id = ?
                UNION ALL SELECT z.id, z.parent_id FROM zones z JOIN up ON z.id = up.parent_id
             ) SELECT id FROM up",
        )
        .bind(zone_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.iter().any(|id| scope.contains(id)))
    }
}

/// A write that only keeps books on a request (a session's extension, a token's last use):
/// when the disk is full it is skipped with a warning, so that signed-in staff can still read
/// what the controller holds; any other failure is the request's.
fn bookkeeping(
    r: std::result::Result<sqlx::sqlite::SqliteQueryResult, sqlx::Error>,
    what: &str,
) -> Result<()> {
    match r.map_err(StoreError::from) {
        Err(e) if e.is_disk_full() => {
            tracing::warn!(error = %e, "disk full: cannot {what}; the request goes on");
            Ok(())
        }
        other => other.map(|_| ()),
    }
}
