//! A CAP 1.2 alert after its checks: the parts loa uses, typed. Elements loa does not use
//! (`eventCode`, `parameter`, `geocode`, …) are accepted and left out.

use chrono::{DateTime, FixedOffset};
use serde::Serialize;

use super::geo::Shape;

/// `<alert>`: the message.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub identifier: String,
    pub sender: String,
    pub sent: DateTime<FixedOffset>,
    pub status: Status,
    pub msg_type: MsgType,
    pub scope: Scope,
    /// `<references>`: the earlier messages an Update, Cancel, Ack or Error is about.
    pub references: Vec<Reference>,
    pub info: Vec<Info>,
}

/// One entry of `<references>`: `sender,identifier,sent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    pub sender: String,
    pub identifier: String,
    pub sent: String,
}

/// `<info>`: the alert in one language.
#[derive(Debug, Clone, Serialize)]
pub struct Info {
    /// RFC 3066 code; `en-US` when absent, as the specification says.
    pub language: String,
    pub event: String,
    pub urgency: Urgency,
    pub severity: Severity,
    pub certainty: String,
    pub expires: Option<DateTime<FixedOffset>>,
    pub headline: Option<String>,
    pub description: Option<String>,
    pub instruction: Option<String>,
    pub resources: Vec<Resource>,
    pub areas: Vec<Area>,
}

/// `<resource>`: a file that goes with the alert (audio, an image, …).
#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    pub desc: String,
    pub mime_type: String,
    pub uri: Option<String>,
    /// The file itself, base64, embedded in the message.
    #[serde(skip)]
    pub deref_uri: Option<String>,
}

impl Resource {
    pub fn is_audio(&self) -> bool {
        self.mime_type
            .trim()
            .to_ascii_lowercase()
            .starts_with("audio/")
    }
}

/// `<area>`: where the alert applies.
#[derive(Debug, Clone, Serialize)]
pub struct Area {
    pub desc: String,
    pub shapes: Vec<Shape>,
}

macro_rules! cap_enum {
    ($(#[$m:meta])* $name:ident { $($v:ident),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        pub enum $name { $($v),+ }

        impl $name {
            /// Every value the schema allows, as written in XML.
            pub const ALL: &'static [&'static str] = &[$(stringify!($v)),+];

            pub fn parse(s: &str) -> Option<$name> {
                match s { $(stringify!($v) => Some($name::$v),)+ _ => None }
            }

            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => stringify!($v)),+ }
            }
        }
    };
}

cap_enum!(
    /// `<status>`: only Actual alerts are played.
    Status { Actual, Exercise, System, Test, Draft }
);
cap_enum!(
    /// `<msgType>`.
    MsgType { Alert, Update, Cancel, Ack, Error }
);
cap_enum!(
    /// `<scope>`.
    Scope { Public, Restricted, Private }
);
cap_enum!(
    /// `<urgency>`.
    Urgency { Immediate, Expected, Future, Past, Unknown }
);
cap_enum!(
    /// `<severity>`.
    Severity { Extreme, Severe, Moderate, Minor, Unknown }
);
