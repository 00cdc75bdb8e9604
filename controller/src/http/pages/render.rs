//! Templates (minijinja, embedded from `controller/templates/`) and what every page is
//! rendered with: the language, the commune's name, the account, its CSRF token and the
//! navigation its role allows. [`Ctx`] is the extractor each page handler starts from.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::{Kwargs, Serde};
use minijinja::{Environment, State};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::OnceLock;

use super::i18n::{self, Lang};
use crate::auth::Actor;
use crate::http::cookies::cookie;
use crate::http::{ApiError, AppState};
use crate::store::accounts::Role;

/// The cookie that remembers a language chosen with `?lang=`.
pub const LANG_COOKIE: &str = "loa_lang";

/// Every template, embedded so the binary is self-contained.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "reports.html",
        include_str!("../../../templates/reports.html"),
    ),
    ("error.html", include_str!("../../../templates/error.html")),
    ("login.html", include_str!("../../../templates/login.html")),
    (
        "dashboard.html",
        include_str!("../../../templates/dashboard.html"),
    ),
    (
        "emergency.html",
        include_str!("../../../templates/emergency.html"),
    ),
    (
        "emergency_confirm.html",
        include_str!("../../../templates/emergency_confirm.html"),
    ),
    (
        "broadcasts.html",
        include_str!("../../../templates/broadcasts.html"),
    ),
    (
        "broadcast.html",
        include_str!("../../../templates/broadcast.html"),
    ),
    (
        "announcements.html",
        include_str!("../../../templates/announcements.html"),
    ),
    (
        "schedules.html",
        include_str!("../../../templates/schedules.html"),
    ),
    (
        "rule_words.html",
        include_str!("../../../templates/rule_words.html"),
    ),
    (
        "broadcast_new.html",
        include_str!("../../../templates/broadcast_new.html"),
    ),
    (
        "schedule_form.html",
        include_str!("../../../templates/schedule_form.html"),
    ),
    (
        "schedule_week.html",
        include_str!("../../../templates/schedule_week.html"),
    ),
    ("users.html", include_str!("../../../templates/users.html")),
    (
        "account.html",
        include_str!("../../../templates/account.html"),
    ),
    ("zones.html", include_str!("../../../templates/zones.html")),
    (
        "node_config.html",
        include_str!("../../../templates/node_config.html"),
    ),
    (
        "node_credentials.html",
        include_str!("../../../templates/node_credentials.html"),
    ),
    (
        "settings.html",
        include_str!("../../../templates/settings.html"),
    ),
    (
        "node_decommission.html",
        include_str!("../../../templates/node_decommission.html"),
    ),
    (
        "security.html",
        include_str!("../../../templates/security.html"),
    ),
    (
        "releases.html",
        include_str!("../../../templates/releases.html"),
    ),
    ("cap.html", include_str!("../../../templates/cap.html")),
    (
        "keys_force.html",
        include_str!("../../../templates/keys_force.html"),
    ),
    (
        "station.html",
        include_str!("../../../templates/station.html"),
    ),
    ("map.html", include_str!("../../../templates/map.html")),
    ("live.html", include_str!("../../../templates/live.html")),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not compile: {e}"));
        }
        env.add_function("t", t);
        env.add_filter("datetime", |st: &State, v: Option<String>| {
            local(st, v, "%d/%m/%Y %H:%M:%S")
        });
        env.add_filter("hm", |st: &State, v: Option<String>| local(st, v, "%H:%M"));
        env.add_filter("day", |st: &State, v: Option<String>| {
            local(st, v, "%d/%m/%Y")
        });
        env
    })
}

/// `t("key", name=value…)`: the text in the page's language, `{name}` replaced.
fn t(st: &State, key: &str, args: Kwargs) -> String {
    let lang = st
        .lookup("lang")
        .and_then(|v| v.as_str().and_then(Lang::parse))
        .unwrap_or(Lang::Vi);
    let mut text = i18n::t(lang, key);
    for name in args.args() {
        let v: minijinja::Value = args.get(name).unwrap_or_default();
        text = text.replace(&format!("{{{name}}}"), &v.to_string());
    }
    text
}

/// An instant (RFC 3339, as the records serialise) in the commune's time zone.
fn local(st: &State, v: Option<String>, fmt: &str) -> String {
    let Some(v) = v else { return String::new() };
    let tz: chrono_tz::Tz = st
        .lookup("tz")
        .and_then(|z| z.as_str().and_then(|z| z.parse().ok()))
        .unwrap_or(chrono_tz::Asia::Ho_Chi_Minh);
    match chrono::DateTime::parse_from_rfc3339(&v) {
        Ok(t) => t.with_timezone(&tz).format(fmt).to_string(),
        Err(_) => v,
    }
}

/// One entry of the navigation.
struct NavItem {
    href: &'static str,
    label: &'static str,
    id: &'static str,
    need: Role,
    /// Drawn red: the emergency action.
    danger: bool,
}

const NAV: &[NavItem] = &[
    NavItem {
        href: "/ui/",
        label: "nav.dashboard",
        id: "nav-dashboard",
        need: Role::Viewer,
        danger: false,
    },
    NavItem {
        href: "/ui/broadcasts",
        label: "nav.broadcasts",
        id: "nav-broadcasts",
        need: Role::Viewer,
        danger: false,
    },
    NavItem {
        href: "/ui/schedules",
        label: "nav.schedules",
        id: "nav-schedules",
        need: Role::Viewer,
        danger: false,
    },
    NavItem {
        href: "/ui/announcements",
        label: "nav.announcements",
        id: "nav-announcements",
        need: Role::Operator,
        danger: false,
    },
    NavItem {
        href: "/ui/reports",
        label: "nav.reports",
        id: "nav-reports",
        need: Role::Viewer,
        danger: false,
    },
    NavItem {
        href: "/ui/map",
        label: "nav.map",
        id: "nav-map",
        need: Role::Viewer,
        danger: false,
    },
    NavItem {
        href: "/ui/cap",
        label: "nav.cap",
        id: "nav-cap",
        need: Role::Viewer,
        danger: false,
    },
    NavItem {
        href: "/ui/zones",
        label: "nav.zones",
        id: "nav-zones",
        need: Role::Admin,
        danger: false,
    },
    NavItem {
        href: "/ui/users",
        label: "nav.users",
        id: "nav-users",
        need: Role::Admin,
        danger: false,
    },
    NavItem {
        href: "/ui/settings",
        label: "nav.settings",
        id: "nav-settings",
        need: Role::Admin,
        danger: false,
    },
    NavItem {
        href: "/ui/releases",
        label: "nav.releases",
        id: "nav-releases",
        need: Role::Admin,
        danger: false,
    },
    NavItem {
        href: "/ui/security",
        label: "nav.security",
        id: "nav-security",
        need: Role::Admin,
        danger: false,
    },
    NavItem {
        href: "/ui/emergency",
        label: "nav.emergency",
        id: "nav-emergency",
        need: Role::Operator,
        danger: true,
    },
];

/// The navigation's translation keys, for the test that every key exists.
pub fn nav_keys() -> impl Iterator<Item = &'static str> {
    NAV.iter().map(|n| n.label)
}

/// What a page handler knows about the request: who asks, in which language, for which
/// commune.
pub struct Ctx {
    pub s: AppState,
    pub actor: Option<Actor>,
    pub lang: Lang,
    /// A `?lang=` came with the request: remember it in a cookie.
    remember_lang: bool,
    pub commune: String,
    pub path: String,
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Ctx, Infallible> {
        let actor = parts.extensions.get::<Actor>().cloned();
        let asked = parts.uri.query().and_then(|q| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(q)
                .ok()?
                .into_iter()
                .find(|(k, _)| k == "lang")
                .and_then(|(_, v)| Lang::parse(&v))
        });
        let remembered = cookie(&parts.headers, LANG_COOKIE).and_then(Lang::parse);
        let own = actor.as_ref().and_then(|a| Lang::parse(&a.user.language));
        let lang = asked.or(remembered).or(own).unwrap_or(Lang::Vi);
        Ok(Ctx {
            commune: commune_name(s).await,
            s: s.clone(),
            actor,
            lang,
            remember_lang: asked.is_some(),
            path: parts.uri.path().to_owned(),
        })
    }
}

/// The commune's name: the top zone's, else the site id.
async fn commune_name(s: &AppState) -> String {
    match s.store.zones().await {
        Ok(zones) => zones
            .into_iter()
            .find(|z| z.parent_id.is_none())
            .map(|z| z.name)
            .unwrap_or_else(|| s.cfg.site.clone()),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the zones for the page header");
            s.cfg.site.clone()
        }
    }
}

impl Ctx {
    /// The signed-in account (the guard lets no one else reach a page that asks).
    pub fn actor(&self) -> Result<&Actor, ApiError> {
        self.actor.as_ref().ok_or_else(ApiError::unauthenticated)
    }

    /// Refuses (403) unless the account has at least `need`.
    pub fn require(&self, need: Role) -> Result<&Actor, ApiError> {
        let a = self.actor()?;
        a.require(need)?;
        Ok(a)
    }

    pub fn t(&self, key: &str) -> String {
        i18n::t(self.lang, key)
    }

    /// A clerk's message for an API error.
    pub fn error_text(&self, e: &ApiError) -> String {
        i18n::error_text(self.lang, e.code, &e.message)
    }

    fn base(&self) -> Value {
        let role = self.actor.as_ref().map(|a| a.role());
        let nav: Vec<Value> = NAV
            .iter()
            .filter(|n| role.is_some_and(|r| r >= n.need))
            .map(|n| {
                json!({"href": n.href, "label": n.label, "id": n.id, "danger": n.danger,
                       "current": self.path == n.href})
            })
            .collect();
        json!({
            "lang": self.lang.code(),
            "other_lang": match self.lang { Lang::Vi => "en", Lang::En => "vi" },
            "tz": self.s.tz.name(),
            "commune": self.commune,
            "path": self.path,
            "user": self.actor.as_ref().map(|a| json!({
                "username": a.user.username,
                "display_name": a.user.display_name,
                "role": a.role().as_str(),
            })),
            "csrf": self.actor.as_ref().and_then(|a| a.csrf.clone()),
            "is_operator": role.is_some_and(|r| r >= Role::Operator),
            "is_admin": role.is_some_and(|r| r >= Role::Admin),
            "nav": nav,
        })
    }

    /// Renders `template` with the base context and `data` (an object) on top.
    pub fn render(&self, template: &str, data: Value) -> Response {
        self.render_status(StatusCode::OK, template, data)
    }

    pub fn render_status(&self, status: StatusCode, template: &str, data: Value) -> Response {
        let mut ctx = self.base();
        if let (Some(base), Value::Object(extra)) = (ctx.as_object_mut(), data) {
            base.extend(extra);
        }
        let html = env()
            .get_template(template)
            .and_then(|tmpl| tmpl.render(Serde(&ctx)));
        let html = match html {
            Ok(h) => h,
            Err(e) => {
                return ApiError::internal(format!("template {template}: {e:#}")).into_response()
            }
        };
        let mut resp = (status, Html(html)).into_response();
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.remember_lang {
            let c = format!(
                "{LANG_COOKIE}={}; Path=/ui; Max-Age=31536000; SameSite=Lax",
                self.lang.code()
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                h.append(header::SET_COOKIE, v);
            }
        }
        resp
    }

    /// The error page: what went wrong, in the page's language, with the error's status.
    pub fn fail(&self, e: ApiError) -> Response {
        let message = self.error_text(&e);
        self.render_status(
            e.status,
            "error.html",
            json!({"message": message, "code": e.code, "status": e.status.as_u16()}),
        )
    }

    /// A handler's result as a response: errors become the error page.
    pub fn respond(&self, r: Result<Response, ApiError>) -> Response {
        r.unwrap_or_else(|e| self.fail(e))
    }
}
