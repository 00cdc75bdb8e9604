//! The role each route needs, in one table. A route not listed needs `admin`: a new route is
//! closed until someone decides who may use it. The web pages under `/ui/` need a signed-in
//! account; each page handler then asks for the role its action needs
//! ([`crate::auth::Actor::require`]), since one page may show more to an operator than to a
//! viewer.

use axum::http::Method;

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

/// `(method, route pattern as axum matched it, access)`; `*` matches any method.
const TABLE: &[(&str, &str, Access)] = {
    use Access::{Public, Role as R};
    use Role::{Admin, Operator, Viewer};
    &[
        ("GET", "/healthz", Public),
        ("GET", "/time", Public),
        ("GET", "/metrics", Public),
        ("GET", "/media/{sha256}", Public),
        ("POST", "/api/v1/login", Public),
        ("POST", "/api/v1/logout", Public),
        ("GET", "/api/v1/openapi.json", Public),
        ("GET", "/api/v1/me", R(Viewer)),
        // Status and reports: officials.
        ("GET", "/api/v1/zones", R(Viewer)),
        ("GET", "/api/v1/nodes", R(Viewer)),
        ("GET", "/api/v1/nodes/{id}", R(Viewer)),
        ("GET", "/api/v1/media", R(Viewer)),
        ("GET", "/api/v1/media/{sha256}", R(Viewer)),
        ("GET", "/api/v1/announcements", R(Viewer)),
        ("GET", "/api/v1/broadcasts", R(Viewer)),
        ("GET", "/api/v1/broadcasts/{id}", R(Viewer)),
        ("GET", "/api/v1/schedules", R(Viewer)),
        ("GET", "/api/v1/schedules/{id}", R(Viewer)),
        ("GET", "/api/v1/schedules/{id}/occurrences", R(Viewer)),
        ("GET", "/api/v1/settings", R(Viewer)),
        ("GET", "/api/v1/tts/voices", R(Viewer)),
        ("GET", "/api/v1/reports/villages", R(Viewer)),
        // Announcements, schedules, broadcasts: operators.
        ("POST", "/api/v1/media", R(Operator)),
        ("POST", "/api/v1/announcements", R(Operator)),
        ("POST", "/api/v1/broadcasts", R(Operator)),
        ("POST", "/api/v1/broadcasts/{id}/cancel", R(Operator)),
        ("POST", "/api/v1/schedules", R(Operator)),
        ("PUT", "/api/v1/schedules/{id}", R(Operator)),
        ("POST", "/api/v1/schedules/{id}/pause", R(Operator)),
        ("POST", "/api/v1/schedules/{id}/resume", R(Operator)),
        ("POST", "/api/v1/schedules/{id}/cancel", R(Operator)),
        ("POST", "/api/v1/tts/preview", R(Operator)),
        ("POST", "/api/v1/tts/announcements", R(Operator)),
        // Users, zones, nodes, settings, approval: admins.
        ("POST", "/api/v1/schedules/{id}/approve", R(Admin)),
        ("POST", "/api/v1/zones", R(Admin)),
        ("PATCH", "/api/v1/zones/{id}", R(Admin)),
        ("PUT", "/api/v1/zones/{id}/quiet-hours", R(Admin)),
        ("PUT", "/api/v1/zones/{id}/languages", R(Admin)),
        ("POST", "/api/v1/nodes", R(Admin)),
        ("PATCH", "/api/v1/nodes/{id}", R(Admin)),
        ("POST", "/api/v1/nodes/{id}/credentials", R(Admin)),
        ("DELETE", "/api/v1/nodes/{id}", R(Admin)),
        ("GET", "/api/v1/security/reports", R(Admin)),
        ("GET", "/api/v1/keys", R(Admin)),
        ("POST", "/api/v1/keys/rotate", R(Admin)),
        ("POST", "/api/v1/keys/commit", R(Admin)),
        ("PUT", "/api/v1/settings", R(Admin)),
        ("GET", "/api/v1/users", R(Admin)),
        ("POST", "/api/v1/users", R(Admin)),
        ("PATCH", "/api/v1/users/{id}", R(Admin)),
        ("GET", "/api/v1/tokens", R(Admin)),
        ("POST", "/api/v1/users/{id}/tokens", R(Admin)),
        ("POST", "/api/v1/tokens/{id}/revoke", R(Admin)),
        ("GET", "/api/v1/audit", R(Admin)),
        // The web pages.
        ("GET", "/ui", Public),
        ("GET", "/ui/login", Public),
        ("POST", "/ui/login", Public),
        ("GET", "/ui/static/{file}", Public),
        ("GET", "/ui/*", R(Viewer)),
        ("POST", "/ui/*", R(Viewer)),
    ]
};

/// What `method` on `route` (the pattern, e.g. `/api/v1/broadcasts/{id}`) needs.
pub fn access(method: &Method, route: &str) -> Access {
    let method_fits = |m: &str| m == "*" || m == method.as_str();
    let exact = TABLE.iter().find(|(m, r, _)| *r == route && method_fits(m));
    // `/ui/*` covers the pages not listed one by one.
    let prefix = || {
        TABLE.iter().find(|(m, r, _)| {
            r.strip_suffix('*')
                .is_some_and(|p| route.starts_with(p) && method_fits(m))
        })
    };
    exact
        .or_else(prefix)
        .map(|(_, _, a)| *a)
        .unwrap_or(Access::Role(Role::Admin))
}

/// Every route the table names, for the OpenAPI document's test and the role matrix.
pub fn routes() -> impl Iterator<Item = (&'static str, &'static str, Access)> {
    TABLE.iter().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlisted_routes_need_an_admin() {
        assert_eq!(
            access(&Method::DELETE, "/api/v1/broadcasts/{id}"),
            Access::Role(Role::Admin)
        );
        assert_eq!(access(&Method::GET, "/healthz"), Access::Public);
        assert_eq!(access(&Method::GET, "/ui/login"), Access::Public);
        assert_eq!(
            access(&Method::GET, "/ui/schedules/{id}"),
            Access::Role(Role::Viewer)
        );
        assert_eq!(
            access(&Method::DELETE, "/ui/schedules/{id}"),
            Access::Role(Role::Admin)
        );
        assert_eq!(
            access(&Method::POST, "/api/v1/broadcasts"),
            Access::Role(Role::Operator)
        );
    }
}
