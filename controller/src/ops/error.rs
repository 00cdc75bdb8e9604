//! The operations' error: what went wrong in words staff can read, a stable code the pages
//! translate, and a kind that each adapter maps to its own terms (the HTTP side to a status,
//! the CLI to a message and an exit code). No HTTP type lives here.

use crate::auth::AuthError;
use crate::limits::LimitError;
use crate::media::MediaError;
use crate::mqtt::planner::PlanError;
use crate::store::StoreError;

/// The code of a full disk, the same in every adapter.
pub const DISK_FULL: &str = "disk.full";

/// What kind of refusal, for the adapters to map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The caller's request is wrong (a field, a time, a limit).
    Invalid,
    /// Nothing by that id.
    NotFound,
    /// The request clashes with what is there (a duplicate, a state that does not allow it).
    Conflict,
    /// Not signed in, or the sign-in failed.
    Unauthenticated,
    /// Signed in, but the account may not.
    Forbidden,
    /// Too many attempts; try again later.
    Throttled,
    /// Larger than allowed (an upload).
    TooLarge,
    /// Something the controller depends on is not there now (the TTS engine, the broker).
    Unavailable,
    /// The controller's disk is full.
    DiskFull,
    /// Our mistake: logged, and shown without detail.
    Internal,
}

/// The error every operation returns.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct OpError {
    pub kind: Kind,
    /// A stable key (`zone.too_deep`, `keys.not_seen`) the pages translate.
    pub code: &'static str,
    pub message: String,
}

impl OpError {
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        OpError {
            kind,
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        OpError::new(Kind::Invalid, "invalid", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        OpError::new(Kind::Conflict, code, message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        OpError::new(Kind::NotFound, code, message)
    }

    /// The controller's disk (database or media store) is full.
    pub fn disk_full(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "disk full: a request could not be stored");
        OpError::new(
            Kind::DiskFull,
            DISK_FULL,
            "the controller's disk is full: nothing can be saved until space is freed on it; \
             then try again",
        )
    }

    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "internal error");
        OpError::new(
            Kind::Internal,
            "internal",
            "internal error; the controller's log has the details",
        )
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => {
                OpError::not_found("not_found", format!("{what} not found"))
            }
            StoreError::Conflict(m) => OpError::conflict("conflict", m),
            StoreError::Invalid(m) => OpError::invalid(m),
            StoreError::Limit(l) => l.into(),
            other if other.is_disk_full() => OpError::disk_full(other),
            other => OpError::internal(other),
        }
    }
}

impl From<LimitError> for OpError {
    fn from(e: LimitError) -> Self {
        OpError::new(Kind::Invalid, e.code(), e.to_string())
    }
}

impl From<MediaError> for OpError {
    fn from(e: MediaError) -> Self {
        let kind = match &e {
            MediaError::Io(_) if e.is_disk_full() => return OpError::disk_full(e),
            MediaError::Io(_) => return OpError::internal(e),
            MediaError::TooLarge { .. } => Kind::TooLarge,
            _ => Kind::Invalid,
        };
        OpError::new(kind, e.code(), e.to_string())
    }
}

impl From<PlanError> for OpError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Store(s) => s.into(),
            PlanError::TooLarge(_) => OpError::new(Kind::Invalid, "plan.too_large", e.to_string()),
            other => OpError::internal(other),
        }
    }
}

impl From<AuthError> for OpError {
    fn from(e: AuthError) -> Self {
        let kind = match e {
            AuthError::Store(s) => return s.into(),
            AuthError::Unauthenticated => Kind::Unauthenticated,
            AuthError::Throttled(_) => Kind::Throttled,
            AuthError::ForbiddenRole(_) | AuthError::ForbiddenZone | AuthError::Csrf => {
                Kind::Forbidden
            }
        };
        OpError::new(kind, e.code(), e.to_string())
    }
}
