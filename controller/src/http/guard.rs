//! The middleware in front of every route: finds who is asking (a session cookie or an API
//! token), refuses what their role may not do (the role each API route's annotation names,
//! read from the generated document; see [`super::openapi`]), checks a browser's CSRF token on every change,
//! hands the [`Actor`] to the handler, and writes each change to the audit log with what was
//! asked (passwords and tokens blanked) and from which address. Once it knows who asks, it
//! counts the request against that client's rate ([`super::rate`]).

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

use super::cookies::cookie;
use super::openapi::Spec;
use super::{ApiError, AppState};
use crate::auth::policy::Access;
use crate::auth::{Actor, CSRF_HEADER, SESSION_COOKIE, TOKEN_PREFIX};
use crate::limits::{megabytes, JSON_BODY_BYTES as JSON_BODY_LIMIT};
use crate::secrets::hash_secret;
use crate::store::Store;

/// Longest detail kept in the audit log.
const AUDIT_DETAIL_LIMIT: usize = 8 * 1024;

pub async fn guard(
    State((s, spec)): State<(AppState, Arc<Spec>)>,
    mut req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let method = req.method().clone();
    let access = spec.policy.access(&method, &route);
    let actor = match find_actor(&s.store, req.headers()).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let ip = client_ip(&req);
    let addr = ip.as_deref().and_then(|a| a.parse().ok());
    if let Some(refused) =
        super::rate::limit(&s, &route, actor.as_ref(), req.headers(), req.uri(), addr).await
    {
        return refused;
    }
    if let Access::Role(need) = access {
        let Some(actor) = &actor else {
            if route.starts_with("/ui") {
                let next = req.uri().path().to_owned();
                return Redirect::to(&format!("/ui/login?next={}", urlencode(&next)))
                    .into_response();
            }
            return ApiError::unauthenticated().into_response();
        };
        if actor.role() < need {
            return ApiError::forbidden_role(need).into_response();
        }
        // Pages' forms carry the token in a field, which their handlers check.
        if let Some(csrf) = &actor.csrf {
            let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
            if is_change(&method) && !route.starts_with("/ui") && sent != Some(csrf.as_str()) {
                return ApiError::csrf().into_response();
            }
        }
    }
    let audited = is_change(&method) && access != Access::Public;
    let detail = if audited {
        match summarize(&s.store, req).await {
            Ok((r, d)) => {
                req = r;
                d
            }
            Err(e) => return e.into_response(),
        }
    } else {
        None
    };
    let action = format!("{method} {}", req.uri().path());
    if let Some(a) = &actor {
        req.extensions_mut().insert(a.clone());
    }
    let resp = next.run(req).await;
    if audited {
        let user = actor.as_ref().map(|a| &a.user);
        let status = resp.status().as_u16();
        if let Err(e) = s
            .store
            .audit(user, &action, status, detail.as_deref(), ip.as_deref())
            .await
        {
            tracing::error!(error = %e, action, "cannot write the audit log");
        }
    }
    resp
}

fn is_change(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The account behind a bearer token or a session cookie, if any. A token or cookie that is
/// not (or no longer) valid counts as none: the route then answers 401.
pub async fn find_actor(store: &Store, headers: &HeaderMap) -> Result<Option<Actor>, ApiError> {
    if let Some(token) = bearer(headers) {
        if token.starts_with(TOKEN_PREFIX) {
            let user = store.token_user(&hash_secret(token)).await?;
            return Ok(user.map(|user| Actor { user, csrf: None }));
        }
    }
    if let Some(cookie) = cookie(headers, SESSION_COOKIE) {
        if let Some((user, csrf)) = store.session(&hash_secret(cookie)).await? {
            return Ok(Some(Actor {
                user,
                csrf: Some(csrf),
            }));
        }
    }
    Ok(None)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The caller's address: the connection's, as axum's `ConnectInfo` gives it.
pub fn client_ip(req: &Request) -> Option<String> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// What the audit log keeps of a request: a JSON body with secrets blanked, a page's form as
/// its choices ([`super::audit_form`]), else its type and size. Returns the request with its
/// body restored.
async fn summarize(store: &Store, req: Request) -> Result<(Request, Option<String>), ApiError> {
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let len: Option<usize> = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let query = req.uri().query().map(str::to_owned);
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let (parts, body) = req.into_parts();
        let limit = super::pages::form::FORM_LIMIT;
        let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("a form is at most {}", megabytes(limit)),
            )
        })?;
        let detail = clip(super::audit_form::form_detail(store, &bytes).await);
        return Ok((Request::from_parts(parts, Body::from(bytes)), Some(detail)));
    }
    if !ctype.starts_with("application/json") {
        let mut d = match len {
            Some(n) if n > 0 => format!("{ctype} body of {n} bytes"),
            _ => String::new(),
        };
        if let Some(q) = query {
            d = format!("?{q} {d}");
        }
        return Ok((req, (!d.trim().is_empty()).then(|| d.trim().to_owned())));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, JSON_BODY_LIMIT)
        .await
        .map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "a JSON request is at most {}; send large files to the media upload",
                    megabytes(JSON_BODY_LIMIT)
                ),
            )
        })?;
    let mut detail = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) => {
            blank_secrets(&mut v);
            v.to_string()
        }
        Err(_) => format!("{} bytes, not JSON", bytes.len()),
    };
    detail = clip(detail);
    Ok((Request::from_parts(parts, Body::from(bytes)), Some(detail)))
}

/// Cuts a detail longer than the audit log keeps, at a character boundary.
fn clip(mut detail: String) -> String {
    if detail.len() > AUDIT_DETAIL_LIMIT {
        let mut cut = AUDIT_DETAIL_LIMIT;
        while !detail.is_char_boundary(cut) {
            cut -= 1;
        }
        detail.truncate(cut);
        detail.push('…');
    }
    detail
}

fn blank_secrets(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let k = k.to_lowercase();
                if k.contains("password") || k.contains("token") || k.contains("secret") {
                    *v = Value::String("***".into());
                } else {
                    blank_secrets(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(blank_secrets),
        _ => {}
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_reach_the_audit_log() {
        let mut v =
            serde_json::json!({"username": "an", "password": "x", "nested": [{"api_token": "y"}]});
        blank_secrets(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"username": "an", "password": "***", "nested": [{"api_token": "***"}]})
        );
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; loa_session=abc; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
