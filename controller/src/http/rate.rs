//! The request rate each client may keep up on the API (`/api/v1/*`) and the pages (`/ui/*`),
//! set by `[limits]` in the config ([`crate::limits::LimitsConfig`]). Media downloads for
//! nodes, `/healthz` and `/metrics` are not limited: nodes catch up after an outage all at
//! once, and monitoring must always get through.
//!
//! A client is the API token or the browser session the guard found valid, else the address
//! the request came from (IPv6 per /64), so a signed-in clerk behind the commune's one
//! internet connection is never held up by a colleague. Each client has a `governor` (GCRA)
//! bucket of `burst` requests refilled at `requests_per_minute`; a request over it is
//! answered 429 with `Retry-After` and the usual `{error, code: "rate_limited"}` (an error
//! page on `/ui/*`). Buckets that have refilled are dropped every [`SWEEP_EVERY`], so memory
//! follows the clients of the last minute, not every address ever seen.

use axum::extract::FromRequestParts;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use std::net::{IpAddr, Ipv6Addr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pages::render::Ctx;
use super::{ApiError, AppState};
use crate::auth::{Actor, TOKEN_PREFIX};
use crate::limits::LimitsConfig;
use crate::secrets::hash_secret;

/// How often buckets that have refilled are forgotten.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// Who a request is counted against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Client {
    /// An API token, by its hash.
    Token(String),
    /// A browser session, by its CSRF token (one per session, and no secret of the cookie).
    Session(String),
    /// Signed out: the address (IPv6 by its /64).
    Address(IpAddr),
    /// No address known (only in tests that call the router directly).
    Unknown,
}

impl Client {
    /// The client behind a request whose account the guard found (or did not).
    pub fn of(actor: Option<&Actor>, headers: &HeaderMap, ip: Option<IpAddr>) -> Client {
        if let Some(a) = actor {
            if let Some(csrf) = &a.csrf {
                return Client::Session(csrf.clone());
            }
            let token = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::trim)
                .filter(|t| t.starts_with(TOKEN_PREFIX));
            if let Some(t) = token {
                return Client::Token(hash_secret(t));
            }
        }
        match ip.map(|ip| ip.to_canonical()) {
            Some(IpAddr::V6(v6)) => Client::Address(IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & !(u64::MAX as u128),
            ))),
            Some(v4) => Client::Address(v4),
            None => Client::Unknown,
        }
    }
}

/// The limiter's clock: the monotonic clock, plus however far a test moved it on.
#[derive(Debug, Clone)]
pub struct RateClock {
    start: Instant,
    /// Nanoseconds added by [`RateClock::advance`].
    ahead: Arc<AtomicU64>,
}

impl RateClock {
    fn new() -> RateClock {
        RateClock {
            start: Instant::now(),
            ahead: Arc::default(),
        }
    }

    /// Moves this clock on by `d`: tests see a bucket refill without waiting for it.
    pub fn advance(&self, d: Duration) {
        self.ahead.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }
}

impl Clock for RateClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.start.elapsed() + Duration::from_nanos(self.ahead.load(Ordering::Relaxed))
    }
}

type Limiter = RateLimiter<Client, DashMapStateStore<Client>, RateClock, NoOpMiddleware<Duration>>;

pub struct RateLimit {
    /// `None`: the limit is off (`requests_per_minute = 0`).
    limiter: Option<Limiter>,
    clock: RateClock,
    per_minute: u32,
    /// When buckets were last swept, by `clock`, in nanoseconds.
    swept_at: AtomicU64,
}

impl RateLimit {
    pub fn new(cfg: &LimitsConfig) -> RateLimit {
        let clock = RateClock::new();
        let limiter = NonZeroU32::new(cfg.requests_per_minute).map(|rate| {
            let burst = NonZeroU32::new(cfg.burst).unwrap_or(NonZeroU32::MIN);
            RateLimiter::dashmap_with_clock(
                Quota::per_minute(rate).allow_burst(burst),
                clock.clone(),
            )
        });
        RateLimit {
            limiter,
            clock,
            per_minute: cfg.requests_per_minute,
            swept_at: AtomicU64::new(0),
        }
    }

    /// Whether requests to `route` (a matched route template) count.
    pub fn applies_to(route: &str) -> bool {
        route.starts_with("/api/v1/") || route.starts_with("/ui/") || route == "/ui"
    }

    /// Counts one request of `client`; `Err` holds how long it must wait.
    pub fn check(&self, client: &Client) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        self.sweep(limiter);
        limiter
            .check_key(client)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets the buckets that have refilled, at most once per [`SWEEP_EVERY`].
    fn sweep(&self, limiter: &Limiter) {
        let now = self.clock.now().as_nanos() as u64;
        let last = self.swept_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < SWEEP_EVERY.as_nanos() as u64 {
            return;
        }
        // One request sweeps; the others go on.
        if self
            .swept_at
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// How many clients have a bucket that is not full.
    pub fn clients(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }

    /// The clock the buckets fill by (tests move it on).
    pub fn clock(&self) -> &RateClock {
        &self.clock
    }

    /// The 429 a client over its rate gets.
    pub fn refusal(&self, wait: Duration) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!(
                "too many requests: one client (an API token, a browser session or an address) \
                 may send at most {} a minute; try again in {} s",
                self.per_minute,
                retry_after_secs(wait)
            ),
        )
    }
}

/// Whole seconds to wait, at least 1.
fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs_f64().ceil().max(1.0) as u64
}

/// Counts the request against its client, if its route is limited; the refusal when it is
/// over: JSON on the API, the error page on `/ui/*`.
pub async fn limit(
    s: &AppState,
    route: &str,
    actor: Option<&Actor>,
    headers: &HeaderMap,
    uri: &Uri,
    ip: Option<IpAddr>,
) -> Option<Response> {
    if !RateLimit::applies_to(route) {
        return None;
    }
    let client = Client::of(actor, headers, ip);
    let wait = s.rate.check(&client).err()?;
    tracing::warn!(client = ?client, route, wait_ms = wait.as_millis() as u64, "request rate limit reached");
    let error = s.rate.refusal(wait);
    let mut resp = if route.starts_with("/ui") {
        let mut head = Request::builder()
            .uri(uri.clone())
            .body(())
            .expect("a request head")
            .into_parts()
            .0;
        head.headers = headers.clone();
        if let Some(a) = actor {
            head.extensions.insert(a.clone());
        }
        let Ok(ctx) = Ctx::from_request_parts(&mut head, s).await;
        ctx.fail(error)
    } else {
        error.into_response()
    };
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs(wait)),
    );
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_minute: u32, burst: u32) -> RateLimit {
        RateLimit::new(&LimitsConfig {
            requests_per_minute: per_minute,
            burst,
        })
    }

    #[test]
    fn a_client_over_its_burst_waits_for_the_bucket_to_refill() {
        let r = limit(60, 3);
        let a = Client::Token("a".into());
        for _ in 0..3 {
            assert_eq!(r.check(&a), Ok(()));
        }
        let wait = r.check(&a).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::ZERO,
            "{wait:?}"
        );
        assert_eq!(
            r.check(&Client::Token("b".into())),
            Ok(()),
            "another client"
        );
        r.clock().advance(wait);
        assert_eq!(r.check(&a), Ok(()));
    }

    #[test]
    fn refilled_buckets_are_forgotten() {
        let r = limit(60, 5);
        for i in 0..50u8 {
            r.check(&Client::Address(IpAddr::from([10, 0, 0, i])))
                .unwrap();
        }
        assert_eq!(r.clients(), 50);
        r.clock().advance(SWEEP_EVERY + Duration::from_secs(60));
        r.check(&Client::Unknown).unwrap();
        assert_eq!(r.clients(), 1, "only the client just seen is kept");
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let r = limit(0, 0);
        for _ in 0..10_000 {
            assert_eq!(r.check(&Client::Unknown), Ok(()));
        }
    }

    #[test]
    fn an_ipv6_client_is_its_64_block_and_a_mapped_ipv4_is_the_ipv4() {
        let h = HeaderMap::new();
        let a = Client::of(None, &h, "2001:db8:1:2::5".parse().ok());
        let b = Client::of(None, &h, "2001:db8:1:2:ffff::9".parse().ok());
        assert_eq!(a, b);
        assert_ne!(a, Client::of(None, &h, "2001:db8:1:3::5".parse().ok()));
        assert_eq!(
            Client::of(None, &h, "::ffff:10.0.0.7".parse().ok()),
            Client::Address("10.0.0.7".parse().unwrap())
        );
    }

    #[test]
    fn only_the_api_and_the_pages_are_limited() {
        for route in [
            "/api/v1/zones",
            "/api/v1/login",
            "/ui/",
            "/ui/static/app.css",
        ] {
            assert!(RateLimit::applies_to(route), "{route}");
        }
        for route in ["/media/{sha256}", "/healthz", "/metrics"] {
            assert!(!RateLimit::applies_to(route), "{route}");
        }
    }
}
