//! A browser's side of the staff pages for the in-process tests: accounts made through the
//! API, a session signed in through the login form with its CSRF token, form posts and page
//! requests, and what a page says.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::json;

use super::{Harness, Reply};

/// Makes an account through the API (as the admin).
pub async fn account(h: &Harness, name: &str, role: &str, zones: &[i64], language: &str) {
    let r = h
        .post_json(
            "/api/v1/users",
            json!({"username": name, "password": format!("mat-khau-{name}"), "role": role,
                   "zone_ids": zones, "language": language, "display_name": format!("Cán bộ {name}")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
}

/// A browser session: its cookie and CSRF token.
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

pub fn form_request(uri: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Request<Body> {
    let body = serde_urlencoded::to_string(fields).unwrap();
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.body(Body::from(body)).unwrap()
}

pub fn get_request(uri: &str, cookie: Option<&str>) -> Request<Body> {
    let mut req = Request::builder().uri(uri);
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    req.body(Body::empty()).unwrap()
}

/// Signs in through the login form and reads the CSRF token from the dashboard.
pub async fn sign_in(h: &Harness, name: &str) -> Session {
    let password = format!("mat-khau-{name}");
    let r = h
        .call_as(form_request(
            "/ui/login",
            None,
            &[
                ("username", name),
                ("password", &password),
                ("next", "/ui/"),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header(header::LOCATION), Some("/ui/"));
    let set = r.header(header::SET_COOKIE).expect("a session cookie");
    let cookie = set.split(';').next().unwrap().to_owned();
    let page = h.call_as(get_request("/ui/", Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let csrf = between(&page.text(), r#"name="csrf-token" content=""#, "\"").to_owned();
    Session { cookie, csrf }
}

pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in the page:\n{text}"))
        + start.len();
    let to = text[from..].find(end).unwrap() + from;
    &text[from..to]
}

/// Whether the page says `what` (minijinja writes `/` in values as `&#x2f;`).
#[track_caller]
pub fn assert_has(r: &Reply, what: &str) {
    assert!(
        r.text().replace("&#x2f;", "/").contains(what),
        "the page ({}) should contain {what:?}:\n{}",
        r.status,
        r.text()
    );
}

/// Posts a form with the session's CSRF token and `fields`.
pub async fn post(h: &Harness, s: &Session, uri: &str, fields: &[(&str, &str)]) -> Reply {
    let mut all = vec![("_csrf", s.csrf.as_str())];
    all.extend_from_slice(fields);
    h.call_as(form_request(uri, Some(&s.cookie), &all)).await
}

/// Gets a page with the session's cookie.
pub async fn page(h: &Harness, s: &Session, uri: &str) -> Reply {
    h.call_as(get_request(uri, Some(&s.cookie))).await
}

#[track_caller]
pub fn assert_redirect(r: &Reply, to: &str) {
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.header(header::LOCATION), Some(to));
}
