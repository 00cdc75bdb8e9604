//! The UI's texts in Vietnamese (the default) and English, from `controller/i18n/{vi,en}.toml`
//! (embedded in the binary). Keys are flat (`nav.dashboard`); a file may group them in TOML
//! tables, which are read as dotted keys (`"auth.bad_login"` under `[error]` is
//! `error.auth.bad_login`). An API error's `code` is looked up as
//! `error.<code>`, with the API's own English message when no translation exists.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A language the pages speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Vi,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Vi, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Vi => "vi",
            Lang::En => "en",
        }
    }

    /// `vi` or `en`; anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "vi" => Some(Lang::Vi),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    fn source(self) -> &'static str {
        match self {
            Lang::Vi => include_str!("../../../i18n/vi.toml"),
            Lang::En => include_str!("../../../i18n/en.toml"),
        }
    }
}

type Catalog = BTreeMap<String, String>;

fn catalog(lang: Lang) -> &'static Catalog {
    static VI: OnceLock<Catalog> = OnceLock::new();
    static EN: OnceLock<Catalog> = OnceLock::new();
    let cell = match lang {
        Lang::Vi => &VI,
        Lang::En => &EN,
    };
    cell.get_or_init(|| {
        let table: toml::Table = toml::from_str(lang.source())
            .unwrap_or_else(|e| panic!("i18n/{}.toml does not parse: {e}", lang.code()));
        let mut out = Catalog::new();
        flatten("", &toml::Value::Table(table), &mut out);
        out
    })
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut Catalog) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_owned(), s.clone());
        }
        other => {
            out.insert(prefix.to_owned(), other.to_string());
        }
    }
}

/// Every key of a language's file, for the test that both files agree.
pub fn keys(lang: Lang) -> Vec<String> {
    catalog(lang).keys().cloned().collect()
}

/// The text for `key`, if the language has it.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    catalog(lang).get(key).map(String::as_str)
}

/// The text for `key`; the key itself when missing (a test keeps that from happening).
pub fn t(lang: Lang, key: &str) -> String {
    lookup(lang, key).unwrap_or(key).to_owned()
}

/// What to tell a clerk about an API error: the translation of its code (its `{detail}`
/// replaced by the API's message), else the API's own text.
pub fn error_text(lang: Lang, code: &str, message: &str) -> String {
    lookup(lang, &format!("error.{code}"))
        .map(|t| t.replace("{detail}", message))
        .unwrap_or_else(|| message.to_owned())
}
