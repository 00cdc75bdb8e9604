//! What a text must be before it is read out, and the one form it is read in.
//!
//! Vietnamese keyboards do not agree on Unicode: some send "ề" as one character (NFC), others
//! as "e" plus two combining marks (NFD). espeak-ng reads the decomposed form wrongly ("nhân"
//! loses its circumflex), so every text is brought to NFC first; the cache key is taken over
//! that form too, so both spellings share one recording.

use unicode_normalization::UnicodeNormalization;

use super::TtsError;

/// Most characters read out in one text: about two and a half minutes of speech.
pub const MAX_CHARS: usize = 2000;

/// The text as it will be read: NFC, trimmed; refused when empty or longer than
/// [`MAX_CHARS`] characters (counted after normalising, so both spellings count alike).
pub fn prepare(text: &str) -> Result<String, TtsError> {
    let text: String = text.trim().nfc().collect();
    let chars = text.chars().count();
    if chars == 0 {
        return Err(TtsError::TextEmpty);
    }
    if chars > MAX_CHARS {
        return Err(TtsError::TextTooLong {
            chars,
            max: MAX_CHARS,
        });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposed_vietnamese_becomes_composed() {
        // "nhân dân" typed with combining marks: n h a + U+0302 n …
        let nfd = "nha\u{302}n da\u{302}n";
        assert_eq!(prepare(nfd).unwrap(), "nhân dân");
    }

    #[test]
    fn blank_text_is_empty() {
        assert!(matches!(prepare(""), Err(TtsError::TextEmpty)));
        assert!(matches!(prepare(" \n\t "), Err(TtsError::TextEmpty)));
    }

    #[test]
    fn the_limit_counts_characters_not_bytes() {
        // "ệ" is 3 bytes in UTF-8: 2,000 of them are allowed, 2,001 are not.
        assert!(prepare(&"ệ".repeat(MAX_CHARS)).is_ok());
        match prepare(&"ệ".repeat(MAX_CHARS + 1)) {
            Err(TtsError::TextTooLong { chars, max }) => assert_eq!((chars, max), (2001, 2000)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decomposed_text_is_measured_after_composing() {
        // 2,000 "ệ" typed as e + two combining marks are 6,000 code points, but 2,000 letters.
        assert!(prepare(&"e\u{323}\u{302}".repeat(MAX_CHARS)).is_ok());
    }

    #[test]
    fn surrounding_space_is_dropped() {
        assert_eq!(prepare("  Xin chào.\n").unwrap(), "Xin chào.");
    }
}
