//! CAP 1.2 XML to a checked [`Alert`].
//!
//! No XSD validator is kept for Rust, so the rules of the CAP 1.2 schema (and the
//! specification's text where the schema defers to it) are written out here:
//!
//! - the document is well-formed XML whose root is `<alert>` in the namespace
//!   `urn:oasis:names:tc:emergency:cap:1.2`;
//! - `<alert>` has `identifier`, `sender`, `sent`, `status`, `msgType` and `scope`;
//!   `identifier` and `sender` have no spaces, commas, `<` or `&`;
//! - times (`sent`, `expires`) are `YYYY-MM-DDThh:mm:ss±hh:mm` (no `Z`, as the schema's
//!   pattern says);
//! - `status` is Actual, Exercise, System, Test or Draft; `msgType` Alert, Update, Cancel, Ack
//!   or Error; `scope` Public, Restricted or Private; `restriction` is given when the scope is
//!   Restricted and `addresses` when it is Private;
//! - `references` is space-separated `sender,identifier,sent` triples;
//! - each `<info>` has one or more `category` (Geo, Met, Safety, Security, Rescue, Fire,
//!   Health, Env, Transport, Infra, CBRNE, Other), an `event`, `urgency` (Immediate,
//!   Expected, Future, Past, Unknown), `severity` (Extreme, Severe, Moderate, Minor, Unknown)
//!   and `certainty` (Observed, Likely, Possible, Unlikely, Unknown); `responseType`, when
//!   given, is Shelter, Evacuate, Prepare, Execute, Avoid, Monitor, Assess, AllClear or None;
//! - each `<resource>` has `resourceDesc` and `mimeType`;
//! - each `<area>` has `areaDesc`; a `polygon` is at least four "lat,lon" pairs, the first
//!   repeated last; a `circle` is "lat,lon radius" (kilometres); latitudes are -90 to 90,
//!   longitudes -180 to 180.
//!
//! Every error names the element at fault (`<info>[2]/<urgency>`).

use chrono::{DateTime, FixedOffset};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde::Deserialize;

use super::geo::{parse_circle, parse_polygon};
use super::model::{
    Alert, Area, Info, MsgType, Reference, Resource, Scope, Severity, Status, Urgency,
};

/// The CAP 1.2 namespace.
pub const CAP_NS: &str = "urn:oasis:names:tc:emergency:cap:1.2";

const CATEGORIES: &[&str] = &[
    "Geo",
    "Met",
    "Safety",
    "Security",
    "Rescue",
    "Fire",
    "Health",
    "Env",
    "Transport",
    "Infra",
    "CBRNE",
    "Other",
];
const CERTAINTIES: &[&str] = &["Observed", "Likely", "Possible", "Unlikely", "Unknown"];
const RESPONSE_TYPES: &[&str] = &[
    "Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None",
];

/// Why a message is not a CAP 1.2 alert.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapError {
    /// Not well-formed XML.
    #[error("the XML is malformed: {0}")]
    Malformed(String),
    /// Well-formed, but against the CAP 1.2 schema.
    #[error("{element} {why}")]
    Invalid { element: String, why: String },
}

impl CapError {
    fn invalid(element: impl Into<String>, why: impl Into<String>) -> CapError {
        CapError::Invalid {
            element: element.into(),
            why: why.into(),
        }
    }
}

#[derive(Deserialize)]
struct RawAlert {
    identifier: Option<String>,
    sender: Option<String>,
    sent: Option<String>,
    status: Option<String>,
    #[serde(rename = "msgType")]
    msg_type: Option<String>,
    scope: Option<String>,
    restriction: Option<String>,
    addresses: Option<String>,
    references: Option<String>,
    #[serde(default)]
    info: Vec<RawInfo>,
}

#[derive(Deserialize)]
struct RawInfo {
    language: Option<String>,
    #[serde(default)]
    category: Vec<String>,
    event: Option<String>,
    #[serde(rename = "responseType", default)]
    response_type: Vec<String>,
    urgency: Option<String>,
    severity: Option<String>,
    certainty: Option<String>,
    expires: Option<String>,
    headline: Option<String>,
    description: Option<String>,
    instruction: Option<String>,
    #[serde(default)]
    resource: Vec<RawResource>,
    #[serde(default)]
    area: Vec<RawArea>,
}

#[derive(Deserialize)]
struct RawResource {
    #[serde(rename = "resourceDesc")]
    resource_desc: Option<String>,
    #[serde(rename = "mimeType")]
    mime_type: Option<String>,
    uri: Option<String>,
    #[serde(rename = "derefUri")]
    deref_uri: Option<String>,
}

#[derive(Deserialize)]
struct RawArea {
    #[serde(rename = "areaDesc")]
    area_desc: Option<String>,
    #[serde(default)]
    polygon: Vec<String>,
    #[serde(default)]
    circle: Vec<String>,
}

/// Reads and checks one CAP 1.2 alert.
pub fn parse(xml: &str) -> Result<Alert, CapError> {
    check_root(xml)?;
    let raw: RawAlert =
        quick_xml::de::from_str(xml).map_err(|e| CapError::Malformed(e.to_string()))?;
    let identifier = required("<alert>/<identifier>", raw.identifier)?;
    no_special("<alert>/<identifier>", &identifier)?;
    let sender = required("<alert>/<sender>", raw.sender)?;
    no_special("<alert>/<sender>", &sender)?;
    let sent = time("<alert>/<sent>", &required("<alert>/<sent>", raw.sent)?)?;
    let status = one_of("<alert>/<status>", raw.status, Status::parse, Status::ALL)?;
    let msg_type = one_of(
        "<alert>/<msgType>",
        raw.msg_type,
        MsgType::parse,
        MsgType::ALL,
    )?;
    let scope = one_of("<alert>/<scope>", raw.scope, Scope::parse, Scope::ALL)?;
    if scope == Scope::Restricted && blank(&raw.restriction) {
        return Err(CapError::invalid(
            "<alert>/<restriction>",
            "is missing; it is required when the scope is Restricted",
        ));
    }
    if scope == Scope::Private && blank(&raw.addresses) {
        return Err(CapError::invalid(
            "<alert>/<addresses>",
            "is missing; it is required when the scope is Private",
        ));
    }
    let references = match raw.references {
        Some(r) => references(&r)?,
        None => Vec::new(),
    };
    let info = raw
        .info
        .into_iter()
        .enumerate()
        .map(|(i, r)| info(i + 1, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Alert {
        identifier,
        sender,
        sent,
        status,
        msg_type,
        scope,
        references,
        info,
    })
}

/// Reads the whole document as XML (well-formed, end tags matching) and checks its root.
fn check_root(xml: &str) -> Result<(), CapError> {
    let mut r = NsReader::from_str(xml);
    let mut root = None;
    // Open elements: the reader does not itself notice a document that ends inside one.
    let mut open: Vec<String> = Vec::new();
    loop {
        let at = r.buffer_position();
        let event = r.read_resolved_event();
        match &event {
            Ok((_, Event::Start(e))) => {
                open.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            Ok((_, Event::End(_))) => {
                open.pop();
            }
            _ => {}
        }
        match event {
            Err(e) => {
                return Err(CapError::Malformed(format!("{e} (near byte {at})")));
            }
            Ok((_, Event::Eof)) if !open.is_empty() => {
                return Err(CapError::Malformed(format!(
                    "the document ends before <{}> is closed",
                    open.last().expect("not empty")
                )));
            }
            Ok((ns, Event::Start(e) | Event::Empty(e))) if root.is_none() => {
                let local = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                let ns = match ns {
                    ResolveResult::Bound(n) => String::from_utf8_lossy(n.as_ref()).into_owned(),
                    _ => String::new(),
                };
                root = Some((local, ns));
            }
            Ok((_, Event::Eof)) => break,
            Ok(_) => {}
        }
    }
    match root {
        None => Err(CapError::Malformed("the document has no element".into())),
        Some((local, _)) if local != "alert" => Err(CapError::invalid(
            format!("<{local}>"),
            "is not a CAP alert: the root element must be <alert>",
        )),
        Some((_, ns)) if ns != CAP_NS => Err(CapError::invalid(
            "<alert>",
            format!(
                "is in the namespace {ns:?}; CAP 1.2 is {CAP_NS:?} (other CAP versions are not taken)"
            ),
        )),
        Some(_) => Ok(()),
    }
}

fn info(n: usize, r: RawInfo) -> Result<Info, CapError> {
    let at = |e: &str| format!("<info>[{n}]/<{e}>");
    if r.category.is_empty() {
        return Err(CapError::invalid(at("category"), "is missing"));
    }
    for c in &r.category {
        allowed(&at("category"), c.trim(), CATEGORIES)?;
    }
    for t in &r.response_type {
        allowed(&at("responseType"), t.trim(), RESPONSE_TYPES)?;
    }
    let event = required(&at("event"), r.event)?;
    let urgency = one_of(&at("urgency"), r.urgency, Urgency::parse, Urgency::ALL)?;
    let severity = one_of(&at("severity"), r.severity, Severity::parse, Severity::ALL)?;
    let certainty = required(&at("certainty"), r.certainty)?;
    allowed(&at("certainty"), &certainty, CERTAINTIES)?;
    let expires = match r.expires {
        Some(e) => Some(time(&at("expires"), e.trim())?),
        None => None,
    };
    let resources = r
        .resource
        .into_iter()
        .enumerate()
        .map(|(i, res)| {
            let at = |e: &str| format!("<info>[{n}]/<resource>[{}]/<{e}>", i + 1);
            Ok(Resource {
                desc: required(&at("resourceDesc"), res.resource_desc)?,
                mime_type: required(&at("mimeType"), res.mime_type)?,
                uri: res
                    .uri
                    .map(|u| u.trim().to_owned())
                    .filter(|u| !u.is_empty()),
                deref_uri: res.deref_uri.filter(|d| !d.trim().is_empty()),
            })
        })
        .collect::<Result<Vec<_>, CapError>>()?;
    let areas = r
        .area
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let at = |e: &str, k: usize| format!("<info>[{n}]/<area>[{}]/<{e}>[{k}]", i + 1);
            let desc = required(
                &format!("<info>[{n}]/<area>[{}]/<areaDesc>", i + 1),
                a.area_desc,
            )?;
            let mut shapes = Vec::new();
            for (k, p) in a.polygon.iter().enumerate() {
                shapes.push(
                    parse_polygon(p).map_err(|why| CapError::invalid(at("polygon", k + 1), why))?,
                );
            }
            for (k, c) in a.circle.iter().enumerate() {
                shapes.push(
                    parse_circle(c).map_err(|why| CapError::invalid(at("circle", k + 1), why))?,
                );
            }
            Ok(Area { desc, shapes })
        })
        .collect::<Result<Vec<_>, CapError>>()?;
    Ok(Info {
        language: r
            .language
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| "en-US".into()),
        event,
        urgency,
        severity,
        certainty,
        expires,
        headline: text(r.headline),
        description: text(r.description),
        instruction: text(r.instruction),
        resources,
        areas,
    })
}

fn text(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn blank(s: &Option<String>) -> bool {
    s.as_deref().is_none_or(|s| s.trim().is_empty())
}

fn required(element: &str, v: Option<String>) -> Result<String, CapError> {
    match text(v) {
        Some(v) => Ok(v),
        None => Err(CapError::invalid(element, "is missing or empty")),
    }
}

fn allowed(element: &str, v: &str, all: &[&str]) -> Result<(), CapError> {
    if all.contains(&v) {
        Ok(())
    } else {
        Err(CapError::invalid(
            element,
            format!("is {v:?}; CAP 1.2 allows {}", all.join(", ")),
        ))
    }
}

fn one_of<T>(
    element: &str,
    v: Option<String>,
    parse: fn(&str) -> Option<T>,
    all: &[&str],
) -> Result<T, CapError> {
    let v = required(element, v)?;
    allowed(element, &v, all)?;
    Ok(parse(&v).expect("allowed values parse"))
}

/// No spaces, commas, `<` or `&` (the schema's rule for identifiers and senders).
fn no_special(element: &str, v: &str) -> Result<(), CapError> {
    if v.chars()
        .any(|c| c.is_whitespace() || matches!(c, ',' | '<' | '&'))
    {
        return Err(CapError::invalid(
            element,
            format!("is {v:?}; it may not hold spaces, commas, '<' or '&'"),
        ));
    }
    Ok(())
}

/// `YYYY-MM-DDThh:mm:ss±hh:mm`, the schema's pattern.
fn time(element: &str, v: &str) -> Result<DateTime<FixedOffset>, CapError> {
    let shaped = v.len() == 25 && matches!(v.as_bytes()[19], b'+' | b'-');
    match DateTime::parse_from_rfc3339(v) {
        Ok(t) if shaped => Ok(t),
        _ => Err(CapError::invalid(
            element,
            format!("is {v:?}; CAP 1.2 times are like 2026-09-14T05:30:00+07:00"),
        )),
    }
}

/// `<references>`: space-separated `sender,identifier,sent`.
fn references(s: &str) -> Result<Vec<Reference>, CapError> {
    s.split_whitespace()
        .map(|r| {
            let mut p = r.split(',');
            match (p.next(), p.next(), p.next(), p.next()) {
                (Some(sender), Some(identifier), Some(sent), None)
                    if !sender.is_empty() && !identifier.is_empty() =>
                {
                    time("<alert>/<references>", sent)?;
                    Ok(Reference {
                        sender: sender.to_owned(),
                        identifier: identifier.to_owned(),
                        sent: sent.to_owned(),
                    })
                }
                _ => Err(CapError::invalid(
                    "<alert>/<references>",
                    format!("has {r:?}; each reference is sender,identifier,sent"),
                )),
            }
        })
        .collect()
}
