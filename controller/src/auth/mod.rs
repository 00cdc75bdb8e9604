//! Who is asking, and may they: staff accounts in the browser and scripts with API tokens.
//!
//! - [`password`]: argon2id hashes of staff passwords.
//! - [`throttle`]: login attempts per user name and per address, slowed after failures.
//! - [`policy`]: the role each route needs (deny by default).
//!
//! The middleware that finds the [`Actor`] for each request is the HTTP side's
//! (`crate::http::guard`); what it decides with lives here. Zone scope is checked where the
//! data is known, by the operations, with [`Actor::check_zones`]. Refusals are an
//! [`AuthError`], which each adapter maps to its own terms.

pub mod password;
pub mod policy;
pub mod throttle;

use std::time::Duration;

use crate::store::accounts::{Role, User};
use crate::store::{Store, StoreError};

/// Why a request is refused before it is carried out.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("sign in first (or send an API token: Authorization: Bearer loa_…)")]
    Unauthenticated,
    #[error("this needs the {} role", .0.as_str())]
    ForbiddenRole(Role),
    #[error("that is outside the zones of your account")]
    ForbiddenZone,
    #[error("the page's security token is missing or old; reload the page and try again")]
    Csrf,
    #[error("too many failed sign-ins; try again in {} minute(s)", .0.as_secs().div_ceil(60).max(1))]
    Throttled(Duration),
    /// The accounts could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AuthError {
    /// The stable key the pages translate.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Unauthenticated => "auth.required",
            AuthError::ForbiddenRole(_) => "auth.forbidden",
            AuthError::ForbiddenZone => "auth.zone",
            AuthError::Csrf => "auth.csrf",
            AuthError::Throttled(_) => "auth.throttled",
            AuthError::Store(_) => "internal",
        }
    }
}

/// The cookie holding a browser session's token.
pub const SESSION_COOKIE: &str = "loa_session";

/// The header a browser page sends its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The prefix of API tokens, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "loa_";

/// The person (or script) behind a request.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user: User,
    /// The session's CSRF token, for pages to embed; `None` for an API token.
    pub csrf: Option<String>,
}

impl Actor {
    pub fn role(&self) -> Role {
        self.user.role
    }

    /// Refuses (403) unless the account has at least `need`.
    pub fn require(&self, need: Role) -> Result<(), AuthError> {
        if self.role() >= need {
            Ok(())
        } else {
            Err(AuthError::ForbiddenRole(need))
        }
    }

    /// Checks the CSRF token a page's form sent (field `_csrf`) against the session's.
    pub fn check_form_csrf(&self, sent: Option<&str>) -> Result<(), AuthError> {
        match &self.csrf {
            Some(mine) if sent == Some(mine.as_str()) => Ok(()),
            Some(_) => Err(AuthError::Csrf),
            // An API token needs none.
            None => Ok(()),
        }
    }

    /// Limited to some zones (else the whole commune).
    pub fn is_scoped(&self) -> bool {
        !self.user.zone_ids.is_empty()
    }

    /// Whether the account may see or act on `zone`: one of its zones or below one.
    pub async fn sees_zone(&self, store: &Store, zone: i64) -> Result<bool, AuthError> {
        if !self.is_scoped() {
            return Ok(true);
        }
        Ok(store.zone_within(zone, &self.user.zone_ids).await?)
    }

    /// Refuses (403) unless every zone is within the account's zones.
    pub async fn check_zones(&self, store: &Store, zones: &[i64]) -> Result<(), AuthError> {
        for &z in zones {
            if !self.sees_zone(store, z).await? {
                return Err(AuthError::ForbiddenZone);
            }
        }
        Ok(())
    }

    /// Whether a record aimed at `zones` concerns the account: a target within its zones, or
    /// a target that covers one of them (a broadcast to the whole commune reached its village).
    pub async fn concerns(&self, store: &Store, zones: &[i64]) -> Result<bool, AuthError> {
        if !self.is_scoped() {
            return Ok(true);
        }
        for &z in zones {
            if self.sees_zone(store, z).await? {
                return Ok(true);
            }
            for &mine in &self.user.zone_ids {
                if store.zone_within(mine, &[z]).await? {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Refuses (403) a record that does not concern the account (see [`Actor::concerns`]).
    pub async fn check_concerns(&self, store: &Store, zones: &[i64]) -> Result<(), AuthError> {
        if self.concerns(store, zones).await? {
            Ok(())
        } else {
            Err(AuthError::ForbiddenZone)
        }
    }
}
