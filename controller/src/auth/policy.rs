//! Who may call which route. The API's routes say it themselves: each handler's
//! `#[utoipa::path]` carries `x-loa-role`, and [`crate::http::openapi`] reads the roles back
//! from the generated document into a [`Policy`], so the router, the document and the guard
//! cannot disagree. Only the web pages, which are not in the API's document, are listed here.
//!
//! Deny by default: a route the policy does not name needs `admin`, so a new route is closed
//! until someone decides who may use it. The web pages under `/ui/` need a signed-in account;
//! each page handler then asks for the role its action needs
//! ([`crate::auth::Actor::require`]), since one page may show more to an operator than to a
//! viewer.

use axum::http::Method;
use std::collections::BTreeMap;

use crate::store::accounts::Role;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone: health, the clock, metrics, login, the API's description, the pages' static
    /// files. Media downloads check the node's token themselves.
    Public,
    /// A signed-in account with at least this role.
    Role(Role),
}

impl Access {
    /// What a route gets when nobody said.
    pub const DEFAULT: Access = Access::Role(Role::Admin);

    /// `public`, `viewer`, `operator` or `admin`, as `x-loa-role` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Role(r) => r.as_str(),
        }
    }

    /// The inverse of [`Access::as_str`].
    pub fn parse(s: &str) -> Option<Access> {
        match s {
            "public" => Some(Access::Public),
            "viewer" => Some(Access::Role(Role::Viewer)),
            "operator" => Some(Access::Role(Role::Operator)),
            "admin" => Some(Access::Role(Role::Admin)),
            _ => None,
        }
    }
}

/// The web pages: `(method, route pattern as axum matched it, access)`; `*` matches any
/// method, a pattern ending in `*` any route under it.
const PAGES: &[(&str, &str, Access)] = {
    use Access::{Public, Role as R};
    use Role::Viewer;
    &[
        ("GET", "/ui", Public),
        ("GET", "/ui/login", Public),
        ("POST", "/ui/login", Public),
        ("GET", "/ui/static/{file}", Public),
        ("GET", "/ui/*", R(Viewer)),
        ("POST", "/ui/*", R(Viewer)),
    ]
};

/// The role of every API route (from the document) and of the pages.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `(METHOD, route pattern)` → access, for the API's routes.
    api: BTreeMap<(String, String), Access>,
}

impl Policy {
    /// A policy naming these API routes: `(METHOD, route pattern, access)`.
    pub fn new(routes: impl IntoIterator<Item = (String, String, Access)>) -> Policy {
        Policy {
            api: routes
                .into_iter()
                .map(|(m, r, a)| ((m.to_uppercase(), r), a))
                .collect(),
        }
    }

    /// What `method` on `route` (the pattern, e.g. `/api/v1/broadcasts/{id}`) needs.
    pub fn access(&self, method: &Method, route: &str) -> Access {
        if let Some(a) = self
            .api
            .get(&(method.as_str().to_owned(), route.to_owned()))
        {
            return *a;
        }
        let method_fits = |m: &str| m == "*" || m == method.as_str();
        let exact = PAGES.iter().find(|(m, r, _)| *r == route && method_fits(m));
        // `/ui/*` covers the pages not listed one by one.
        let prefix = || {
            PAGES.iter().find(|(m, r, _)| {
                r.strip_suffix('*')
                    .is_some_and(|p| route.starts_with(p) && method_fits(m))
            })
        };
        exact
            .or_else(prefix)
            .map(|(_, _, a)| *a)
            .unwrap_or(Access::DEFAULT)
    }

    /// Every route the policy names, the API's then the pages', for the role matrix.
    pub fn routes(&self) -> impl Iterator<Item = (&str, &str, Access)> {
        self.api
            .iter()
            .map(|((m, r), a)| (m.as_str(), r.as_str(), *a))
            .chain(PAGES.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_routes_need_an_admin() {
        let p = Policy::new([
            ("GET".into(), "/healthz".into(), Access::Public),
            (
                "POST".into(),
                "/api/v1/broadcasts".into(),
                Access::Role(Role::Operator),
            ),
        ]);
        assert_eq!(
            p.access(&Method::DELETE, "/api/v1/broadcasts/{id}"),
            Access::Role(Role::Admin)
        );
        assert_eq!(p.access(&Method::GET, "/healthz"), Access::Public);
        assert_eq!(p.access(&Method::GET, "/ui/login"), Access::Public);
        assert_eq!(
            p.access(&Method::GET, "/ui/schedules/{id}"),
            Access::Role(Role::Viewer)
        );
        assert_eq!(
            p.access(&Method::DELETE, "/ui/schedules/{id}"),
            Access::Role(Role::Admin)
        );
        assert_eq!(
            p.access(&Method::POST, "/api/v1/broadcasts"),
            Access::Role(Role::Operator)
        );
    }

    #[test]
    fn roles_read_back_as_written() {
        for a in [
            Access::Public,
            Access::Role(Role::Viewer),
            Access::Role(Role::Operator),
            Access::Role(Role::Admin),
        ] {
            assert_eq!(Access::parse(a.as_str()), Some(a));
        }
        assert_eq!(Access::parse("root"), None);
    }
}
