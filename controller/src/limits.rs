//! Every limit on what staff and scripts send, in one place, each refused with an error that
//! names the field and the limit. `docs/limits.md` is the table of them all, with the limits
//! that live elsewhere: the upload size (`max_upload_bytes` in [`crate::config`]), the text
//! read out by text-to-speech ([`crate::tts::text::MAX_CHARS`]), the plan size
//! ([`crate::mqtt::planner::MAX_PLAN_ITEMS`], `loa_protocol::MAX_PACKET_BYTES`), the events in one
//! node message (`loa_protocol::limits::MAX_EVENTS_PER_BATCH`), failed sign-ins
//! ([`crate::auth::throttle`]) and the request rate ([`crate::http::rate`], configured here
//! by [`LimitsConfig`]).

use serde::{Deserialize, Serialize};

/// A text staff type: at most `max` characters (Unicode scalar values), counted after trimming.
#[derive(Debug, Clone, Copy)]
pub struct TextLimit {
    /// What the field is called in the error: "zone name".
    pub field: &'static str,
    pub max: usize,
}

pub const ANNOUNCEMENT_TITLE: TextLimit = TextLimit {
    field: "announcement title",
    max: 200,
};
/// The category an announcement is filed under: a few words.
pub const ANNOUNCEMENT_CATEGORY: TextLimit = TextLimit {
    field: "category",
    max: 60,
};
pub const ZONE_NAME: TextLimit = TextLimit {
    field: "zone name",
    max: 100,
};
pub const NODE_NAME: TextLimit = TextLimit {
    field: "node name",
    max: 100,
};
pub const SCHEDULE_NAME: TextLimit = TextLimit {
    field: "schedule name",
    max: 100,
};
pub const DISPLAY_NAME: TextLimit = TextLimit {
    field: "display name",
    max: 100,
};
pub const TOKEN_NAME: TextLimit = TextLimit {
    field: "token name",
    max: 100,
};
pub const SOURCE_NAME: TextLimit = TextLimit {
    field: "source name",
    max: 100,
};
/// A relay source's address (long enough for any station's stream URL with its query).
pub const SOURCE_URL: TextLimit = TextLimit {
    field: "source URL",
    max: 2000,
};
/// Why a broadcast was withdrawn: a sentence, kept with each cancelled delivery.
pub const CANCEL_REASON: TextLimit = TextLimit {
    field: "reason",
    max: 500,
};

/// How deep zones nest: the commune is level 1, a village 2, a loudspeaker cluster 3; three
/// more levels are spare for hamlets or groups a commune wants.
pub const MAX_ZONE_DEPTH: usize = 6;

/// Largest JSON request body (every JSON request of the API is far smaller; uploads are not
/// JSON and have their own limit, `max_upload_bytes`).
pub const JSON_BODY_BYTES: usize = 1024 * 1024;

/// Largest CAP alert (`POST /api/v1/cap`): room for a minute or two of audio embedded as
/// base64 in `<derefUri>`.
pub const CAP_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Why something staff sent is over a limit.
#[derive(Debug, thiserror::Error)]
pub enum LimitError {
    #[error("the {field} is empty; give 1 to {max} characters")]
    Empty { field: &'static str, max: usize },
    #[error("the {field} is at most {max} characters; this one has {chars}")]
    TooLong {
        field: &'static str,
        max: usize,
        chars: usize,
    },
    #[error("zones nest at most {max} levels deep (commune, village, cluster…); this zone would be level {level}")]
    ZoneTooDeep { max: usize, level: usize },
}

impl LimitError {
    /// A stable key for the UI's translation files.
    pub fn code(&self) -> &'static str {
        match self {
            LimitError::Empty { .. } => "invalid",
            LimitError::TooLong { .. } => "text.too_long",
            LimitError::ZoneTooDeep { .. } => "zone.too_deep",
        }
    }
}

impl TextLimit {
    /// The text trimmed, if it has 1 to `max` characters.
    pub fn check<'a>(&self, text: &'a str) -> Result<&'a str, LimitError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(LimitError::Empty {
                field: self.field,
                max: self.max,
            });
        }
        self.check_max(text)?;
        Ok(text)
    }

    /// Only the upper bound: for a field that may be left empty.
    pub fn check_max(&self, text: &str) -> Result<(), LimitError> {
        let chars = text.trim().chars().count();
        if chars > self.max {
            return Err(LimitError::TooLong {
                field: self.field,
                max: self.max,
                chars,
            });
        }
        Ok(())
    }
}

/// `[limits]` in the controller's config: the request rate each client may keep up.
///
/// A client is an API token, a browser session, or (signed out) an address; IPv6 addresses
/// count per /64, the block one household or phone is given. The defaults never hold up a
/// person: a page is the page and its stylesheet and script, and a busy clerk opens one every
/// few seconds; a script or test suite polling twice a second stays far below them. They stop
/// a runaway script or a flood from one place before it slows the controller for everyone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Requests per minute each client may keep up on `/api/v1/*` and `/ui/*` (not on
    /// `/media/*`, which nodes use, nor `/healthz` and `/metrics`); 0 turns the limit off.
    pub requests_per_minute: u32,
    /// How many requests a client may send at once before the rate applies.
    pub burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            requests_per_minute: 1200,
            burst: 300,
        }
    }
}

impl LimitsConfig {
    pub fn validate(&self) -> Result<(), String> {
        if self.requests_per_minute > 0 && self.burst == 0 {
            return Err(
                "limits.burst must be at least 1 (or requests_per_minute 0 for no limit)".into(),
            );
        }
        Ok(())
    }
}

/// A size in bytes for a clerk: "64 MB", "64 KB", "1.5 MB", else in bytes.
pub fn megabytes(bytes: usize) -> String {
    const MB: usize = 1024 * 1024;
    // Remainders named, not `x % y == 0`: `is_multiple_of` is newer than the MSRV (1.80).
    let (past_mb, past_kb) = (bytes % MB, bytes % 1024);
    if past_mb == 0 {
        format!("{} MB", bytes / MB)
    } else if bytes < MB && past_kb == 0 {
        format!("{} KB", bytes / 1024)
    } else if bytes >= MB / 10 {
        format!("{:.1} MB", bytes as f64 / MB as f64)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_limit_names_its_field_and_its_maximum() {
        assert_eq!(ZONE_NAME.check("  Thôn Nà Sài ").unwrap(), "Thôn Nà Sài");
        let long = "ệ".repeat(101);
        let e = ZONE_NAME.check(&long).unwrap_err();
        assert_eq!(e.code(), "text.too_long");
        assert_eq!(
            e.to_string(),
            "the zone name is at most 100 characters; this one has 101"
        );
        assert!(ZONE_NAME.check(&"ệ".repeat(100)).is_ok());
        let e = ZONE_NAME.check("   ").unwrap_err();
        assert_eq!(e.code(), "invalid");
        assert!(e.to_string().contains("1 to 100"), "{e}");
        assert!(CANCEL_REASON.check_max("").is_ok());
    }

    #[test]
    fn sizes_read_in_megabytes() {
        assert_eq!(megabytes(64 * 1024 * 1024), "64 MB");
        assert_eq!(megabytes(1536 * 1024), "1.5 MB");
        assert_eq!(megabytes(64 * 1024), "64 KB");
        assert_eq!(megabytes(10_000), "10000 bytes");
    }

    #[test]
    fn a_burst_of_nothing_is_refused_unless_the_limit_is_off() {
        let mut c = LimitsConfig::default();
        assert!(c.validate().is_ok());
        c.burst = 0;
        assert!(c.validate().is_err());
        c.requests_per_minute = 0;
        assert!(c.validate().is_ok());
    }
}
