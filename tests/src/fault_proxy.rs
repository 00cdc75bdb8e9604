//! A TCP proxy with faults switched at run time, for the chaos suite: it sits between the
//! nodes and the broker, or the nodes and the controller's HTTP, and can
//!
//! - **delay**: hold every chunk N ms before passing it on, each way;
//! - **drop**: turn every connection into a black hole: bytes are swallowed and nothing is
//!   closed, so only keep-alives notice (a connection once black-holed stays so; one opened
//!   meanwhile is accepted and never answered);
//! - **cut**: close every current connection at once;
//! - **throttle**: hold each connection to a byte rate each way (384 kbit/s = 48,000 B/s);
//!
//! and counts the bytes it passed each way. With [`FaultProxy::start_http`] it also notes
//! every HTTP request head that went up and the bytes that came down in answer to it, so a
//! test can tell a resumed download (`Range: bytes=N-`) from one started over.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// The faults in force; every connection reads them before passing each chunk.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added before each chunk is passed on, each way.
    pub delay: Duration,
    /// Black hole: swallow everything, close nothing.
    pub drop: bool,
    /// Bytes per second, each way, per connection; `None`: as fast as it goes.
    pub rate: Option<u64>,
}

/// One HTTP request seen going up, and the bytes that came down after it on its connection
/// (the response, headers included, until the next request or the end).
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request line and headers, as sent.
    pub head: String,
    /// When the request went up.
    pub at: std::time::Instant,
    pub down: u64,
}

impl Exchange {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Where a `Range: bytes=N-` request starts (0 without one).
    pub fn range_start(&self) -> u64 {
        self.header("range")
            .and_then(|r| r.strip_prefix("bytes=")?.split('-').next()?.parse().ok())
            .unwrap_or(0)
    }

    /// The request's path.
    pub fn path(&self) -> &str {
        self.head.split_whitespace().nth(1).unwrap_or("")
    }
}

struct Shared {
    upstream: SocketAddr,
    faults: watch::Sender<Faults>,
    /// Bumped by [`FaultProxy::cut`]; each connection ends when it changes.
    cuts: watch::Sender<u64>,
    up: AtomicU64,
    down: AtomicU64,
    connections: AtomicU64,
    /// `Some` when the proxy notes HTTP exchanges.
    exchanges: Option<Mutex<Vec<Exchange>>>,
}

/// A running proxy; it stops when dropped.
pub struct FaultProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream`.
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<FaultProxy> {
        FaultProxy::start_with(upstream, false).await
    }

    /// As [`FaultProxy::start`], noting HTTP exchanges (see [`FaultProxy::exchanges`]).
    pub async fn start_http(upstream: SocketAddr) -> anyhow::Result<FaultProxy> {
        FaultProxy::start_with(upstream, true).await
    }

    async fn start_with(upstream: SocketAddr, http: bool) -> anyhow::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            faults: watch::channel(Faults::default()).0,
            cuts: watch::channel(0).0,
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            exchanges: http.then(|| Mutex::new(Vec::new())),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(serve(s.clone(), client));
            }
        });
        Ok(FaultProxy { addr, shared, task })
    }

    /// `127.0.0.1:PORT`, for a config's broker address.
    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }

    /// Replaces the faults in force.
    pub fn set(&self, faults: Faults) {
        self.shared.faults.send_replace(faults);
    }

    pub fn faults(&self) -> Faults {
        self.shared.faults.borrow().clone()
    }

    /// Changes the faults in force with `f`.
    pub fn update(&self, f: impl FnOnce(&mut Faults)) {
        self.shared.faults.send_modify(f);
    }

    /// Closes every connection open now (later ones are served as usual).
    pub fn cut(&self) {
        self.shared.cuts.send_modify(|n| *n += 1);
    }

    /// Bytes passed towards the upstream so far.
    pub fn bytes_up(&self) -> u64 {
        self.shared.up.load(Ordering::Relaxed)
    }

    /// Bytes passed back to the clients so far.
    pub fn bytes_down(&self) -> u64 {
        self.shared.down.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// The HTTP exchanges seen so far (empty unless started with [`FaultProxy::start_http`]).
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.shared
            .exchanges
            .as_ref()
            .map(|e| e.lock().expect("exchanges lock").clone())
            .unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut();
    }
}

/// One connection: both directions until either side closes or a cut.
async fn serve(s: Arc<Shared>, client: TcpStream) {
    let mut cuts = s.cuts.subscribe();
    cuts.mark_unchanged();
    let black_hole = Arc::new(AtomicBool::new(s.faults.borrow().drop));
    if black_hole.load(Ordering::Relaxed) {
        // Accepted and never answered, as a link that swallows everything.
        let _ = cuts.changed().await;
        return;
    }
    let Ok(upstream) = TcpStream::connect(s.upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (client_r, client_w) = client.into_split();
    let (up_r, up_w) = upstream.into_split();
    // The index in `exchanges` of the request this connection answers now.
    let current = Arc::new(AtomicUsize::new(usize::MAX));
    let up = Pump {
        s: s.clone(),
        black_hole: black_hole.clone(),
        current: current.clone(),
        upward: true,
    };
    let down = Pump {
        s: s.clone(),
        black_hole,
        current,
        upward: false,
    };
    tokio::select! {
        _ = pump(up, client_r, up_w) => {}
        _ = pump(down, up_r, client_w) => {}
        _ = cuts.changed() => {}
    }
}

struct Pump {
    s: Arc<Shared>,
    black_hole: Arc<AtomicBool>,
    current: Arc<AtomicUsize>,
    upward: bool,
}

/// Passes bytes one way, applying the faults in force to each chunk.
async fn pump(
    p: Pump,
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
) {
    let mut buf = vec![0u8; 16 * 1024];
    // Request bytes not yet ended by a blank line (HTTP noting only).
    let mut head = Vec::new();
    // When the throttle lets the next chunk go.
    let mut next = Instant::now();
    loop {
        // Under a throttle, read no more than a twentieth of a second's worth.
        let max =
            p.s.faults
                .borrow()
                .rate
                .map_or(buf.len(), |r| ((r / 20).max(1) as usize).min(buf.len()));
        let n = match r.read(&mut buf[..max]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let faults = p.s.faults.borrow().clone();
        if faults.drop {
            p.black_hole.store(true, Ordering::Relaxed);
        }
        if p.black_hole.load(Ordering::Relaxed) {
            continue;
        }
        if !faults.delay.is_zero() {
            tokio::time::sleep(faults.delay).await;
        }
        if let Some(rate) = faults.rate {
            next =
                next.max(Instant::now()) + Duration::from_secs_f64(n as f64 / rate.max(1) as f64);
            tokio::time::sleep_until(next).await;
        }
        if w.write_all(&buf[..n]).await.is_err() {
            return;
        }
        if p.upward {
            p.s.up.fetch_add(n as u64, Ordering::Relaxed);
            if let Some(ex) = &p.s.exchanges {
                note_requests(&mut head, &buf[..n], ex, &p.current);
            }
        } else {
            p.s.down.fetch_add(n as u64, Ordering::Relaxed);
            if let Some(ex) = &p.s.exchanges {
                let i = p.current.load(Ordering::Relaxed);
                if let Some(e) = ex.lock().expect("exchanges lock").get_mut(i) {
                    e.down += n as u64;
                }
            }
        }
    }
}

/// Adds each request head completed by `bytes` (requests without bodies: a node's GETs).
fn note_requests(
    head: &mut Vec<u8>,
    bytes: &[u8],
    exchanges: &Mutex<Vec<Exchange>>,
    current: &AtomicUsize,
) {
    head.extend_from_slice(bytes);
    while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
        let text = String::from_utf8_lossy(&head[..end]).into_owned();
        head.drain(..end + 4);
        let mut ex = exchanges.lock().expect("exchanges lock");
        ex.push(Exchange {
            head: text,
            at: std::time::Instant::now(),
            down: 0,
        });
        current.store(ex.len() - 1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on a free port.
    async fn echo() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    async fn round_trip(s: &mut TcpStream, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
        s.write_all(bytes).await?;
        let mut back = vec![0u8; bytes.len()];
        s.read_exact(&mut back).await?;
        Ok(back)
    }

    #[tokio::test]
    async fn passes_bytes_both_ways_and_counts_them() {
        let p = FaultProxy::start(echo().await).await.unwrap();
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        assert_eq!(round_trip(&mut s, b"xin chao").await.unwrap(), b"xin chao");
        assert_eq!((p.bytes_up(), p.bytes_down()), (8, 8));
        assert_eq!(p.connections(), 1);
    }

    #[tokio::test]
    async fn delay_holds_each_chunk_each_way() {
        let p = FaultProxy::start(echo().await).await.unwrap();
        p.set(Faults {
            delay: Duration::from_millis(150),
            ..Faults::default()
        });
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        let t = std::time::Instant::now();
        round_trip(&mut s, b"ping").await.unwrap();
        let took = t.elapsed();
        assert!(
            took >= Duration::from_millis(300),
            "{took:?}: 150 ms up, 150 down"
        );
        assert!(took < Duration::from_secs(2), "{took:?}");
    }

    #[tokio::test]
    async fn drop_swallows_bytes_without_closing_and_stays_silent() {
        let p = FaultProxy::start(echo().await).await.unwrap();
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        round_trip(&mut s, b"before").await.unwrap();
        p.update(|f| f.drop = true);
        let silent = tokio::time::timeout(Duration::from_millis(400), round_trip(&mut s, b"lost"));
        assert!(silent.await.is_err(), "no answer, and no close either");
        // The black hole stays: the stream is broken for good, as a real one would be.
        p.update(|f| f.drop = false);
        let still = tokio::time::timeout(Duration::from_millis(300), round_trip(&mut s, b"more"));
        assert!(still.await.is_err());
        assert_eq!(p.bytes_up(), 6, "swallowed bytes are not counted as passed");
        // A new connection is served again.
        let mut s2 = TcpStream::connect(p.addr).await.unwrap();
        assert_eq!(round_trip(&mut s2, b"again").await.unwrap(), b"again");
    }

    #[tokio::test]
    async fn cut_closes_every_connection_at_once() {
        let p = FaultProxy::start(echo().await).await.unwrap();
        let mut a = TcpStream::connect(p.addr).await.unwrap();
        let mut b = TcpStream::connect(p.addr).await.unwrap();
        round_trip(&mut a, b"a").await.unwrap();
        round_trip(&mut b, b"b").await.unwrap();
        p.cut();
        for s in [&mut a, &mut b] {
            let mut buf = [0u8; 1];
            let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
                .await
                .expect("closed, not hanging");
            assert!(matches!(n, Ok(0) | Err(_)), "{n:?}");
        }
        let mut c = TcpStream::connect(p.addr).await.unwrap();
        assert_eq!(round_trip(&mut c, b"c").await.unwrap(), b"c");
    }

    #[tokio::test]
    async fn throttle_holds_the_byte_rate() {
        let p = FaultProxy::start(echo().await).await.unwrap();
        p.set(Faults {
            rate: Some(48_000),
            ..Faults::default()
        });
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        let t = std::time::Instant::now();
        // 24,000 bytes at 48,000 B/s: half a second each way, overlapping.
        round_trip(&mut s, &[7u8; 24_000]).await.unwrap();
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(450), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
    }

    #[tokio::test]
    async fn http_requests_are_noted_with_the_bytes_answered() {
        let p = FaultProxy::start_http(echo().await).await.unwrap();
        let mut s = TcpStream::connect(p.addr).await.unwrap();
        let req = b"GET /media/abc HTTP/1.1\r\nRange: bytes=10-\r\n\r\n";
        round_trip(&mut s, req).await.unwrap();
        let ex = p.exchanges();
        assert_eq!(ex.len(), 1);
        assert_eq!(ex[0].path(), "/media/abc");
        assert_eq!(ex[0].header("range"), Some("bytes=10-"));
        assert_eq!(ex[0].range_start(), 10);
        assert_eq!(
            ex[0].down,
            req.len() as u64,
            "the echo came back as its answer"
        );
    }
}
