//! The configuration's `[relay]` section (how a station's stream is passed on to the villages,
//! and the Icecast it may be handed to) and `[live]` section (a sound card live sessions may
//! speak from). Part of [`crate::config`], which re-exports both.

use serde::{Deserialize, Serialize};

/// `[live]`: a sound card on the controller's machine that live sessions may speak from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveConfig {
    /// The centre's microphone or mixer input, an ALSA name as `arecord -L` lists it
    /// (`default`, `plughw:CARD=USB,DEV=0`). Unset: live sessions speak from browsers only.
    pub capture_device: Option<String>,
    /// Hold the reading to real time: for an input without a clock (tests reading a file).
    pub capture_pace: bool,
}

/// `[relay]`: how a station's stream is passed on to the villages.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelayConfig {
    /// The Opus bitrate the villages are sent, in bits a second (mono). 32000 keeps speech and
    /// news clear at about 240 KB a minute per village on a paid 3G/4G link.
    pub bitrate: u32,
    /// Seconds a relay runs on after its last village left, so a node that reconnects finds
    /// it still up; then it stops and its recording is kept.
    pub linger_secs: u64,
    /// An Icecast server the stations' relays are handed to as a source, for a province's
    /// scale: `http://source:PASSWORD@icecast.example:8000`. Each relay then goes to the mount
    /// `/loa-{site}-{source}.ogg`, and the villages pull it from there. Unset: the villages
    /// pull from this controller (`/streams/{id}`). Live sessions always come from here.
    pub icecast_url: Option<String>,
    /// The address villages reach that Icecast at, when it is not `icecast_url`'s
    /// (`https://radio.example.vn`).
    pub icecast_public_url: Option<String>,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            bitrate: crate::opus::DEFAULT_BITRATE,
            linger_secs: crate::relay::LINGER.as_secs(),
            icecast_url: None,
            icecast_public_url: None,
        }
    }
}

impl RelayConfig {
    /// `icecast_url`, when set, is `http://USER:PASSWORD@HOST:PORT`.
    pub fn check(&self) -> Result<(), String> {
        if let Some(u) = &self.icecast_url {
            let ok = reqwest::Url::parse(u)
                .is_ok_and(|u| u.scheme() == "http" && u.has_host() && u.password().is_some());
            if !ok {
                return Err(
                    "[relay] icecast_url is http://USER:PASSWORD@HOST:PORT (the source \
                            account of the Icecast server)"
                        .into(),
                );
            }
        }
        Ok(())
    }

    /// Where the villages pull the relays from when they are handed to Icecast: its public
    /// address, or `icecast_url` without the credentials.
    pub fn handoff_public(&self) -> Option<String> {
        if let Some(p) = &self.icecast_public_url {
            return Some(p.trim_end_matches('/').to_owned());
        }
        let mut u = reqwest::Url::parse(self.icecast_url.as_ref()?).ok()?;
        let _ = u.set_username("");
        let _ = u.set_password(None);
        Some(u.as_str().trim_end_matches('/').to_owned())
    }
}
