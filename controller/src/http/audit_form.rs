//! What the audit log keeps of a page's form: the choices themselves as JSON (zones with their
//! names, times, priority, names), not "a form body of N bytes". A field that repeats (a
//! zone picker's checkboxes) becomes a list; the CSRF field is left out and passwords,
//! tokens and secrets are blanked, as for the API's JSON.

use serde_json::{Map, Value};

use crate::store::Store;

/// The fields whose values are zone ids, kept with the zone's path so the log reads alone.
const ZONE_FIELDS: [&str; 3] = ["zones", "zone_id", "parent_id"];

/// The form's choices as a JSON object, e.g.
/// `{"zones":["2 Xã Tả Lùng / Thôn Nà Sài"],"priority":"normal","time":"06:30"}`.
pub async fn form_detail(store: &Store, body: &[u8]) -> String {
    let pairs: Vec<(String, String)> = match serde_urlencoded::from_bytes(body) {
        Ok(p) => p,
        Err(_) => return format!("{} bytes, not a form", body.len()),
    };
    let mut out = Map::new();
    for (k, v) in pairs {
        if k == "_csrf" {
            continue;
        }
        let lower = k.to_lowercase();
        let v = if lower.contains("password") || lower.contains("token") || lower.contains("secret")
        {
            "***".to_owned()
        } else if ZONE_FIELDS.contains(&k.as_str()) {
            zone_named(store, &v).await
        } else {
            v
        };
        match out.get_mut(&k) {
            Some(Value::Array(items)) => items.push(Value::String(v)),
            Some(first) => *first = Value::Array(vec![first.take(), Value::String(v)]),
            None if k == "zones" => {
                out.insert(k, Value::Array(vec![Value::String(v)]));
            }
            None => {
                out.insert(k, Value::String(v));
            }
        }
    }
    Value::Object(out).to_string()
}

/// `2 Xã Tả Lùng / Thôn Nà Sài`, or the value as sent when it names no zone.
async fn zone_named(store: &Store, v: &str) -> String {
    match v.trim().parse::<i64>() {
        Ok(id) => match store.zone_path(id).await {
            Ok(path) if !path.is_empty() => format!("{id} {path}"),
            _ => v.to_owned(),
        },
        Err(_) => v.to_owned(),
    }
}
