//! The voices staff may choose: an allow-list, each with the language it speaks (the language
//! code its recording is filed under) and what the engine is told.

use serde::Serialize;

use super::TtsError;

/// One voice of the allow-list.
#[derive(utoipa::ToSchema, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Voice {
    /// What the API takes: `vi`, `en`…
    pub id: &'static str,
    /// The announcement language its recording is filed under (`vi`, `en`).
    pub language: &'static str,
    /// For the clerk choosing one.
    pub name: &'static str,
    /// espeak-ng's voice name (`espeak-ng --voices=vi` lists them).
    #[serde(skip)]
    pub espeak: &'static str,
    /// Words per minute. espeak-ng's default is 175; horns outdoors echo off hills and houses,
    /// so public address reads a little slower.
    #[serde(skip)]
    pub rate_wpm: u32,
}

/// The voice used when a request names none: Vietnamese (Northern, as the state broadcasters
/// read).
pub const DEFAULT_VOICE: &str = "vi";

/// Every voice a request may name, the default first.
pub const VOICES: &[Voice] = &[
    Voice {
        id: "vi",
        language: "vi",
        name: "Tiếng Việt (miền Bắc)",
        espeak: "vi",
        rate_wpm: 150,
    },
    Voice {
        id: "vi-central",
        language: "vi",
        name: "Tiếng Việt (miền Trung)",
        espeak: "vi-vn-x-central",
        rate_wpm: 150,
    },
    Voice {
        id: "vi-south",
        language: "vi",
        name: "Tiếng Việt (miền Nam)",
        espeak: "vi-vn-x-south",
        rate_wpm: 150,
    },
    Voice {
        id: "en",
        language: "en",
        name: "English",
        espeak: "en",
        rate_wpm: 150,
    },
];

/// The voice named `id`, or the default when `None`; an unknown name is refused with the list.
pub fn voice(id: Option<&str>) -> Result<&'static Voice, TtsError> {
    let id = id.map(str::trim).unwrap_or(DEFAULT_VOICE);
    VOICES
        .iter()
        .find(|v| v.id == id)
        .ok_or_else(|| TtsError::UnknownVoice {
            given: id.to_owned(),
            known: VOICES.iter().map(|v| v.id).collect::<Vec<_>>().join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_voice_named_means_vietnamese() {
        let v = voice(None).unwrap();
        assert_eq!((v.id, v.language, v.espeak), ("vi", "vi", "vi"));
    }

    #[test]
    fn english_is_filed_under_en() {
        assert_eq!(voice(Some("en")).unwrap().language, "en");
    }

    #[test]
    fn an_unknown_voice_is_refused_with_the_list() {
        let e = voice(Some("fr")).unwrap_err();
        assert_eq!(e.code(), "tts.unknown_voice");
        assert!(
            e.to_string().contains("vi, vi-central, vi-south, en"),
            "{e}"
        );
        // Engine voice names are not API voices: only the allow-list is.
        assert!(voice(Some("vi-vn-x-south")).is_err());
    }

    #[test]
    fn every_voice_files_a_valid_language_code() {
        for v in VOICES {
            loa_protocol::check_language(v.language).unwrap();
        }
    }
}
