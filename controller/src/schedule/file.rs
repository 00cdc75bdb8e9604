//! The standing programme as files: `schedules/*.toml` (chương trình phát thanh thường kỳ).
//!
//! Each file holds any number of programmes, one `[[programme]]` table each:
//!
//! ```toml
//! [[programme]]
//! name = "Bản tin sáng"                  # required, 1–100 characters, unique in the file
//! zones = ["Xã Demo"]                    # required: zone names, or paths "Xã Demo / Thôn Nà Sài"
//! cron = "0 0 6 * * Mon-Sat"             # the time rule: exactly one of
//!                                        #   cron = "…"   (6–7 fields, seconds first; 1 = Sunday)
//!                                        #   rrule = "FREQ=MONTHLY;BYDAY=-1FR" with start = "2026-01-30T16:00"
//!                                        #   at = "2026-12-01T07:00"   (once)
//! announcement = "../demo/thong-bao-mau.mp3"   # required: the recording, relative to this file
//! priority = "normal"                    # normal | priority | emergency (default normal)
//! repeat = { times = 2, gap_minutes = 10 }     # optional: each firing plays twice, 10 min apart
//! valid_from = "2026-01-01"              # optional, local date, inclusive
//! valid_until = "2026-12-31"             # optional, local date, inclusive
//! expires_in_minutes = 30                # optional: how late it may still play (default 30)
//! ```
//!
//! Times are the commune's local times; dates and times may be quoted or TOML literals.
//! `text = "…"` in place of `announcement` is refused until text-to-speech exists.
//!
//! Every error names the file, the line and what is wrong, and a file reports all its errors,
//! not just the first: values are read with their spans (`toml::Spanned`) and checked one by
//! one. [`check_dir`] (behind `loa-controller schedules check`) also decodes each recording.
//!
//! Longer than 500 lines on purpose: one parser, with the error message for every wrong
//! field that names the file, the line and the fix, reads best in one place (tests: file_tests.rs).

use crate::schedule::rule::{Recurrence, Repeat, RuleError, TimeRule};
use chrono::{NaiveDate, NaiveDateTime};
use loa_protocol::Priority;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use toml::{Spanned, Value};

const KEYS: [&str; 13] = [
    "name",
    "zones",
    "cron",
    "rrule",
    "start",
    "at",
    "announcement",
    "text",
    "priority",
    "repeat",
    "valid_from",
    "valid_until",
    "expires_in_minutes",
];
const DEFAULT_EXPIRES_IN_MINUTES: i64 = 30;

/// One standing programme read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammeSpec {
    pub file: PathBuf,
    /// 1-based line of its `[[programme]]` header.
    pub line: usize,
    pub name: String,
    /// Zone names or paths, each with its line.
    pub zones: Vec<(String, usize)>,
    pub recurrence: Recurrence,
    /// Resolved against the file's directory.
    pub announcement: PathBuf,
    pub priority: Priority,
    pub expires_in_minutes: i64,
}

/// What is wrong, where. `line` is 1-based; 0 when the whole file (or directory) is at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {message}", file = .file.display())]
pub struct FileError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

/// Reads every `*.toml` in `dir` (sorted by name). Returns every programme, or every error
/// found (not just the first).
pub fn load_dir(dir: &Path) -> Result<Vec<ProgrammeSpec>, Vec<FileError>> {
    let (loaded, errors) = load_all(dir);
    if errors.is_empty() {
        Ok(loaded.into_iter().map(|l| l.spec).collect())
    } else {
        Err(errors)
    }
}

/// Reads one file.
pub fn load_file(path: &Path) -> Result<Vec<ProgrammeSpec>, Vec<FileError>> {
    load(path).map(|loaded| loaded.into_iter().map(|l| l.spec).collect())
}

/// `loa-controller schedules check DIR`: everything [`load_dir`] checks, and that each
/// announcement exists and decodes. Returns the errors (empty = all good).
pub fn check_dir(dir: &Path) -> Vec<FileError> {
    let (loaded, mut errors) = load_all(dir);
    // One decode per recording, however many programmes use it.
    let mut probed: HashMap<PathBuf, Option<String>> = HashMap::new();
    for l in &loaded {
        let path = &l.spec.announcement;
        let problem = probed
            .entry(path.clone())
            .or_insert_with(|| announcement_problem(path));
        if let Some(problem) = problem {
            errors.push(FileError {
                file: l.spec.file.clone(),
                line: l.announcement_line,
                message: problem.clone(),
            });
        }
    }
    errors.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    errors
}

fn announcement_problem(path: &Path) -> Option<String> {
    let shown = path.display();
    if !path.exists() {
        return Some(format!("the announcement file {shown} does not exist"));
    }
    if !path.is_file() {
        return Some(format!(
            "the announcement {shown} is a folder, not a recording"
        ));
    }
    let hint = path.file_name().and_then(|n| n.to_str());
    crate::media::probe(path, hint)
        .err()
        .map(|e| format!("the announcement {shown} cannot be played: {e}"))
}

/// A programme and the line of its `announcement`, for errors about the recording.
struct Loaded {
    spec: ProgrammeSpec,
    announcement_line: usize,
}

fn load_all(dir: &Path) -> (Vec<Loaded>, Vec<FileError>) {
    let whole = |message: String| FileError {
        file: dir.to_path_buf(),
        line: 0,
        message,
    };
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
            .collect(),
        Err(e) => {
            return (
                Vec::new(),
                vec![whole(format!("cannot read the schedules folder: {e}"))],
            )
        }
    };
    files.sort();
    let (mut loaded, mut errors) = (Vec::new(), Vec::new());
    for file in files {
        match load(&file) {
            Ok(l) => loaded.extend(l),
            Err(e) => errors.extend(e),
        }
    }
    (loaded, errors)
}

fn load(path: &Path) -> Result<Vec<Loaded>, Vec<FileError>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![FileError {
            file: path.to_path_buf(),
            line: 0,
            message: format!("cannot read the file: {e}"),
        }]
    })?;
    parse(path, &text)
}

/// Parses a file's text; `path` names it in errors and anchors relative announcements.
fn parse(path: &Path, text: &str) -> Result<Vec<Loaded>, Vec<FileError>> {
    let lines = Lines::new(text);
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| lines.of(s.start));
        vec![FileError {
            file: path.to_path_buf(),
            line,
            message: format!("not valid TOML: {}", e.message().trim_end()),
        }]
    })?;
    let mut cx = Context {
        file: path,
        dir: path.parent().unwrap_or(Path::new("")),
        lines: &lines,
        errors: Vec::new(),
    };
    for key in &raw.unknown {
        cx.error(
            key.span(),
            format!(
                "unknown key `{}` at the top of the file: each programme starts with [[programme]]",
                key.get_ref()
            ),
        );
    }
    if let Some(span) = &raw.not_tables {
        cx.error(
            span.clone(),
            "`programme` must be a list of [[programme]] tables".into(),
        );
    }
    let mut loaded: Vec<Loaded> = Vec::new();
    for entry in raw.programmes {
        let header = cx.lines.of(entry.span().start);
        let Some(fields) = entry.into_inner().0 else {
            cx.error_at(
                header,
                "a [[programme]] entry must be a table of keys".into(),
            );
            continue;
        };
        if let Some(l) = cx.programme(header, fields) {
            if let Some(same) = loaded.iter().find(|o| o.spec.name == l.spec.name) {
                cx.error_at(
                    header,
                    format!(
                        "the programme on line {} is also named `{}`: names must differ within a file",
                        same.spec.line, l.spec.name
                    ),
                );
            }
            loaded.push(l);
        }
    }
    if cx.errors.is_empty() {
        Ok(loaded)
    } else {
        cx.errors.sort_by_key(|e| e.line);
        Err(cx.errors)
    }
}

/// Byte offset → 1-based line.
struct Lines(Vec<usize>);

impl Lines {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines(starts.collect())
    }
    fn of(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset)
    }
}

struct Context<'a> {
    file: &'a Path,
    dir: &'a Path,
    lines: &'a Lines,
    errors: Vec<FileError>,
}

/// A value and the line it is on.
struct At<T> {
    value: T,
    line: usize,
}

impl Context<'_> {
    fn error(&mut self, span: Range<usize>, message: String) {
        let line = self.lines.of(span.start);
        self.error_at(line, message);
    }

    /// Records an error; returns `None` for the caller to return.
    fn fail<T>(&mut self, line: usize, message: impl Into<String>) -> Option<T> {
        self.error_at(line, message.into());
        None
    }

    fn error_at(&mut self, line: usize, message: String) {
        self.errors.push(FileError {
            file: self.file.to_path_buf(),
            line,
            message,
        });
    }

    /// One `[[programme]]` entry; its errors go to `self.errors`.
    fn programme(
        &mut self,
        header: usize,
        fields: Vec<(Spanned<String>, RawField)>,
    ) -> Option<Loaded> {
        let before = self.errors.len();
        let mut values: HashMap<&'static str, At<Value>> = HashMap::new();
        let mut zones = None;
        for (key, field) in fields {
            let Some(&known) = KEYS.iter().find(|k| **k == key.get_ref().as_str()) else {
                let hint = closest(key.get_ref())
                    .map_or(String::new(), |k| format!("; did you mean `{k}`?"));
                self.error(key.span(), format!("unknown key `{}`{hint}", key.get_ref()));
                continue;
            };
            let line = self.lines.of(key.span().start);
            match field {
                RawField::Zones(list) => zones = Some((line, list.into_inner().0)),
                RawField::Value(v) => {
                    values.insert(
                        known,
                        At {
                            value: v.into_inner(),
                            line,
                        },
                    );
                }
            }
        }
        let name = self.name(header, values.remove("name"));
        let zones = self.zones(header, zones);
        let rule = self.time_rule(header, &mut values);
        let announcement =
            self.announcement(header, values.remove("announcement"), values.remove("text"));
        let priority = self.priority(values.remove("priority"));
        let repeat = values.remove("repeat").map(|v| (v.line, self.repeat(v)));
        let valid_from = values
            .remove("valid_from")
            .map(|v| (v.line, self.date("valid_from", v)));
        let valid_until = values
            .remove("valid_until")
            .map(|v| (v.line, self.date("valid_until", v)));
        let expires = values
            .remove("expires_in_minutes")
            .map_or(Some(DEFAULT_EXPIRES_IN_MINUTES), |v| self.expires(v));
        // Each part is None when it was wrong (already reported), Some(None) when absent.
        let repeat_part = repeat.map_or(Some(None), |(_, r)| r.map(Some));
        let from_part = valid_from.map_or(Some(None), |(_, d)| d.map(Some));
        let until_part = valid_until.map_or(Some(None), |(_, d)| d.map(Some));
        let recurrence = match (rule, repeat_part, from_part, until_part) {
            (Some((rule, rule_line)), Some(repeat_value), Some(from), Some(until)) => {
                let recurrence = Recurrence {
                    rule,
                    repeat: repeat_value,
                    valid_from: from,
                    valid_until: until,
                };
                match recurrence.validate() {
                    Ok(()) => Some(recurrence),
                    Err(e) => {
                        let line = match e {
                            RuleError::UntilBeforeFrom { .. } => {
                                valid_until.map_or(header, |(l, _)| l)
                            }
                            RuleError::RepeatZero
                            | RuleError::RepeatTooMany(_)
                            | RuleError::RepeatNoGap
                            | RuleError::RepeatTooLong { .. } => repeat.map_or(header, |(l, _)| l),
                            _ => rule_line,
                        };
                        self.fail(line, e.to_string())
                    }
                }
            }
            _ => None,
        };
        if self.errors.len() > before {
            return None;
        }
        let (announcement, announcement_line) = announcement?;
        Some(Loaded {
            spec: ProgrammeSpec {
                file: self.file.to_path_buf(),
                line: header,
                name: name?,
                zones: zones?,
                recurrence: recurrence?,
                announcement,
                priority: priority?,
                expires_in_minutes: expires?,
            },
            announcement_line,
        })
    }

    fn text(&mut self, key: &str, v: &At<Value>, example: &str) -> Option<String> {
        match &v.value {
            Value::String(s) => Some(s.trim().to_string()),
            other => {
                let found = other.type_str();
                self.fail(
                    v.line,
                    format!(
                        "`{key}` must be text in quotes, e.g. {key} = \"{example}\"; found {found}"
                    ),
                )
            }
        }
    }

    fn name(&mut self, header: usize, v: Option<At<Value>>) -> Option<String> {
        let Some(v) = v else {
            return self.fail(
                header,
                "missing `name`: every programme needs one, e.g. name = \"Bản tin sáng\"",
            );
        };
        let name = self.text("name", &v, "Bản tin sáng")?;
        let n = name.chars().count();
        let max = crate::limits::SCHEDULE_NAME.max;
        if !(1..=max).contains(&n) {
            return self.fail(
                v.line,
                format!("`name` must be 1 to {max} characters; it has {n}"),
            );
        }
        Some(name)
    }

    fn zones(
        &mut self,
        header: usize,
        zones: Option<(usize, Option<Vec<Spanned<Value>>>)>,
    ) -> Option<Vec<(String, usize)>> {
        let example = "zones = [\"Xã Demo\"] or zones = [\"Xã Demo / Thôn Nà Sài\"]";
        let Some((line, list)) = zones else {
            return self.fail(
                header,
                format!("missing `zones`: the zones to play in, e.g. {example}"),
            );
        };
        let Some(list) = list else {
            return self.fail(
                line,
                format!("`zones` must be a list of zone names, e.g. {example}"),
            );
        };
        if list.is_empty() {
            return self.fail(
                line,
                format!("`zones` is empty: name at least one zone, e.g. {example}"),
            );
        }
        let (mut out, mut bad) = (Vec::new(), false);
        for item in list {
            let line = self.lines.of(item.span().start);
            match item.into_inner() {
                Value::String(s) if !s.trim().is_empty() => out.push((s.trim().to_string(), line)),
                Value::String(_) => {
                    bad = true;
                    self.error_at(line, "an empty zone name in `zones`".into());
                }
                other => {
                    bad = true;
                    let found = other.type_str();
                    self.error_at(
                        line,
                        format!("`zones` must hold zone names in quotes; found {found}"),
                    );
                }
            }
        }
        (!bad).then_some(out)
    }

    /// The one time rule, and the line to blame for its errors.
    fn time_rule(
        &mut self,
        header: usize,
        values: &mut HashMap<&'static str, At<Value>>,
    ) -> Option<(TimeRule, usize)> {
        let start = values.remove("start");
        let mut given: Vec<(&str, At<Value>)> = ["cron", "rrule", "at"]
            .into_iter()
            .filter_map(|k| values.remove(k).map(|v| (k, v)))
            .collect();
        given.sort_by_key(|(_, v)| v.line);
        if given.len() > 1 {
            let (first, second) = (&given[0], &given[1]);
            let msg = format!(
                "two time rules: `{}` (line {}) and `{}`; give only one of `cron`, `rrule` (with `start`) or `at`",
                first.0, first.1.line, second.0
            );
            return self.fail(second.1.line, msg);
        }
        let Some((kind, v)) = given.pop() else {
            return self.fail(header, "no time rule: give one of `cron = \"0 0 6 * * Mon-Sat\"`, `rrule = \"FREQ=MONTHLY;BYDAY=-1FR\"` with `start`, or `at = \"2026-12-01T07:00\"`");
        };
        if kind != "rrule" {
            if let Some(s) = &start {
                return self.fail(
                    s.line,
                    format!("`start` only goes with `rrule`, not with `{kind}`"),
                );
            }
        }
        let line = v.line;
        let rule = match kind {
            "cron" => TimeRule::Cron {
                expr: self.text("cron", &v, "0 0 6 * * Mon-Sat")?,
            },
            "at" => TimeRule::Once {
                at: self.local_time("at", v)?,
            },
            _ => {
                let rule = self.text("rrule", &v, "FREQ=MONTHLY;BYDAY=-1FR")?;
                let Some(start) = start else {
                    return self.fail(line, "`rrule` needs `start`, the local date and time it counts from, e.g. start = \"2026-01-30T16:00\"");
                };
                TimeRule::Rrule {
                    start: self.local_time("start", start)?,
                    rule,
                }
            }
        };
        Some((rule, line))
    }

    fn local_time(&mut self, key: &str, v: At<Value>) -> Option<NaiveDateTime> {
        let parsed = match &v.value {
            Value::String(s) => parse_local_time(s.trim()),
            Value::Datetime(d) if d.offset.is_some() => {
                return self.fail(v.line, format!("`{key}` = {d} has a UTC offset: give the commune's local time without one, e.g. {key} = \"2026-12-01T07:00\""));
            }
            Value::Datetime(d) => parse_local_time(&d.to_string()),
            _ => None,
        };
        if parsed.is_none() {
            self.error_at(
                v.line,
                format!("`{key}` must be a local date and time, e.g. {key} = \"2026-12-01T07:00\""),
            );
        }
        parsed
    }

    fn date(&mut self, key: &str, v: At<Value>) -> Option<NaiveDate> {
        let text = match &v.value {
            Value::String(s) => Some(s.trim().to_string()),
            Value::Datetime(d) if d.time.is_none() => Some(d.to_string()),
            _ => None,
        };
        let parsed = text.and_then(|t| NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok());
        if parsed.is_none() {
            self.error_at(
                v.line,
                format!("`{key}` must be a date, e.g. {key} = \"2026-12-31\""),
            );
        }
        parsed
    }

    fn announcement(
        &mut self,
        header: usize,
        file: Option<At<Value>>,
        text: Option<At<Value>>,
    ) -> Option<(PathBuf, usize)> {
        if let Some(t) = text {
            return self.fail(t.line, "text announcements need text-to-speech, which is not available yet; give a recording with `announcement`");
        }
        let Some(v) = file else {
            return self.fail(header, "missing `announcement`: the recording to play, relative to this file, e.g. announcement = \"../demo/thong-bao-mau.mp3\"");
        };
        let rel = self.text("announcement", &v, "../demo/thong-bao-mau.mp3")?;
        if rel.is_empty() {
            return self.fail(
                v.line,
                "`announcement` is empty: give the recording's file name",
            );
        }
        Some((normalize(&self.dir.join(rel)), v.line))
    }

    fn priority(&mut self, v: Option<At<Value>>) -> Option<Priority> {
        let Some(v) = v else {
            return Some(Priority::Normal);
        };
        let text = self.text("priority", &v, "normal")?;
        match text.parse::<Priority>() {
            Ok(p) => Some(p),
            Err(e) => self.fail(v.line, format!("{e} (thông thường / ưu tiên / khẩn cấp)")),
        }
    }

    fn repeat(&mut self, v: At<Value>) -> Option<Repeat> {
        let example = "repeat = { times = 2, gap_minutes = 10 }";
        let Value::Table(t) = &v.value else {
            return self.fail(v.line, format!("`repeat` must be a table, e.g. {example}"));
        };
        if let Some(k) = t.keys().find(|k| *k != "times" && *k != "gap_minutes") {
            return self.fail(v.line, format!("unknown key `{k}` in `repeat`: it takes `times` and `gap_minutes`, e.g. {example}"));
        }
        let number = |key: &str| match t.get(key) {
            None => Ok(None),
            Some(Value::Integer(n)) => u32::try_from(*n).map(Some).map_err(|_| key.to_string()),
            Some(_) => Err(key.to_string()),
        };
        let (times, gap) = match (number("times"), number("gap_minutes")) {
            (Ok(t), Ok(g)) => (t, g),
            (Err(k), _) | (_, Err(k)) => {
                return self.fail(
                    v.line,
                    format!("`{k}` in `repeat` must be a whole number, e.g. {example}"),
                );
            }
        };
        match (times, gap) {
            (None, _) => {
                self.fail(v.line, format!("`repeat` needs `times`, e.g. {example}"))
            }
            (Some(t), None) if t > 1 => {
                self.fail(v.line, format!("`repeat` needs `gap_minutes`, the minutes from one play to the next, e.g. {example}"))
            }
            (Some(times), gap) => Some(Repeat {
                times,
                gap_minutes: gap.unwrap_or(0),
            }),
        }
    }

    fn expires(&mut self, v: At<Value>) -> Option<i64> {
        match v.value {
            Value::Integer(n) if (1..=1440).contains(&n) => Some(n),
            _ => {
                self.fail(v.line, "`expires_in_minutes` must be a whole number of minutes from 1 to 1440, e.g. expires_in_minutes = 30")
            }
        }
    }
}

/// "2026-12-01T07:00", with or without seconds, `T` or a space.
fn parse_local_time(s: &str) -> Option<NaiveDateTime> {
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// The known key nearest to a misspelt one, if it is near.
fn closest(key: &str) -> Option<&'static str> {
    let key = key.to_lowercase();
    KEYS.iter()
        .map(|k| (distance(&key, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// `schedules/../demo/x.mp3` → `demo/x.mp3`, without touching the disk.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

// The raw shape of a file, with spans. These accept any value where a wrong one is possible, so
// one bad programme does not hide the errors of the others.

/// The top level: `[[programme]]` entries, and any other key (an error).
struct RawFile {
    programmes: Vec<Spanned<RawEntry>>,
    unknown: Vec<Spanned<String>>,
    /// The span of a `programme` that is not a list of tables.
    not_tables: Option<Range<usize>>,
}

/// A `[[programme]]` table's keys in order, or `None` if the entry is not a table.
struct RawEntry(Option<Vec<(Spanned<String>, RawField)>>);

enum RawField {
    /// `zones` keeps each item's span, for errors about one zone.
    Zones(Spanned<RawList>),
    Value(Spanned<Value>),
}

/// A list's items, or `None` if the value is not a list.
struct RawList(Option<Vec<Spanned<Value>>>);

impl<'de> Deserialize<'de> for RawFile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a schedules file")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawFile, A::Error> {
                let mut file = RawFile {
                    programmes: Vec::new(),
                    unknown: Vec::new(),
                    not_tables: None,
                };
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if key.get_ref() == "programme" {
                        let list: Spanned<RawTables> = map.next_value()?;
                        let span = list.span();
                        match list.into_inner().0 {
                            Some(entries) => file.programmes.extend(entries),
                            None => file.not_tables = Some(span),
                        }
                    } else {
                        map.next_value::<IgnoredAny>()?;
                        file.unknown.push(key);
                    }
                }
                Ok(file)
            }
        }
        d.deserialize_map(V)
    }
}

/// `programme`'s value: a list of entries, or `None`.
struct RawTables(Option<Vec<Spanned<RawEntry>>>);

/// Implements `Deserialize` for a type that takes one shape and records any other as `None`.
macro_rules! lenient {
    ($ty:ident, $what:literal, $method:ident($access:ident: $bound:ident) $body:block) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str($what)
                    }
                    fn $method<A: $bound<'de>>(self, mut $access: A) -> Result<$ty, A::Error> $body
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<$ty, E> { Ok($ty(None)) }
                    fn visit_i64<E: de::Error>(self, _: i64) -> Result<$ty, E> { Ok($ty(None)) }
                    fn visit_u64<E: de::Error>(self, _: u64) -> Result<$ty, E> { Ok($ty(None)) }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<$ty, E> { Ok($ty(None)) }
                    fn visit_str<E: de::Error>(self, _: &str) -> Result<$ty, E> { Ok($ty(None)) }
                    lenient!(@other $method, $ty);
                }
                d.deserialize_any(V)
            }
        }
    };
    (@other visit_map, $ty:ident) => {
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<$ty, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok($ty(None))
        }
    };
    (@other visit_seq, $ty:ident) => {
        // A table, or a date (which toml hands over as a one-key map).
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($ty(None))
        }
    };
}

lenient!(RawTables, "a list of [[programme]] tables", visit_seq(seq: SeqAccess) {
    let mut entries = Vec::new();
    while let Some(e) = seq.next_element()? {
        entries.push(e);
    }
    Ok(RawTables(Some(entries)))
});

lenient!(RawList, "a list", visit_seq(seq: SeqAccess) {
    let mut items = Vec::new();
    while let Some(v) = seq.next_element()? {
        items.push(v);
    }
    Ok(RawList(Some(items)))
});

lenient!(RawEntry, "a [[programme]] table", visit_map(map: MapAccess) {
    let mut fields = Vec::new();
    while let Some(key) = map.next_key::<Spanned<String>>()? {
        let field = if key.get_ref() == "zones" {
            RawField::Zones(map.next_value()?)
        } else {
            RawField::Value(map.next_value()?)
        };
        fields.push((key, field));
    }
    Ok(RawEntry(Some(fields)))
});

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
