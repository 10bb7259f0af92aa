//! The accept loop: HTTP/1.1 connections with a deadline for every request head (so idle and
//! slow connections are closed), a cap on open connections overall and per client address (a
//! connection beyond it gets a plain 503 and is closed), the client's address for each request,
//! and a graceful stop.
//!
//! `axum::serve` keeps a connection that never sends a request open forever, and when the
//! process runs out of file descriptors it stops accepting anyone; this loop does neither.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use axum::http::StatusCode;

use crate::error::ApiError;

/// Limits of the connections a server accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// A connection must send a complete request head within this time, counted from when it
    /// opens or finished its previous request: it bounds both slow headers and idle keep-alive.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections open at once from one client address (0: no such limit, for a server
    /// behind a proxy that is the only client).
    pub max_connections_per_address: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_address: 512,
        }
    }
}

/// Raises this process's open-files limit to its hard maximum (every connection is a file) and
/// returns the limit now in force, if it could be read.
pub fn raise_open_files_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-files limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).ok().map(|(soft, _)| soft)
        }
    }
}

/// Files kept for everything but client connections: the database, logs, the sweeper.
const RESERVED_FILES: u64 = 256;

/// The connection cap actually applied: the configured one, lowered to what the open-files
/// limit leaves for connections.
pub fn effective_max_connections(limits: &Limits, open_files: Option<u64>) -> usize {
    match open_files {
        Some(n) => limits
            .max_connections
            .min(usize::try_from(n.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX))
            .max(1),
        None => limits.max_connections.max(1),
    }
}

/// Who holds connections now.
struct Open {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The address a connection counts against: IPv4 as it is, IPv6 by its /64 network.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// A connection counted in [`Open`] until dropped.
struct Slot {
    open: Arc<Mutex<Open>>,
    address: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_address.get_mut(&self.address) {
            *n -= 1;
            if *n == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

/// Why a connection was not taken.
#[derive(Clone, Copy)]
enum Full {
    Server,
    Address,
}

fn take_slot(open: &Arc<Mutex<Open>>, address: IpAddr, max: usize, per_address: usize) -> Result<Slot, Full> {
    let mut o = open.lock().unwrap_or_else(|p| p.into_inner());
    if o.total >= max {
        return Err(Full::Server);
    }
    let mine = o.by_address.get(&address).copied().unwrap_or(0);
    if per_address > 0 && mine >= per_address {
        return Err(Full::Address);
    }
    o.total += 1;
    *o.by_address.entry(address).or_insert(0) += 1;
    Ok(Slot { open: open.clone(), address })
}

/// Refusals being written at once at most; past it a refused connection is just closed.
const REFUSALS_IN_FLIGHT: usize = 64;

/// Accepts and serves connections until `shutdown` resolves, then stops accepting and lets the
/// requests in flight finish (for at most `drain`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    max_connections: usize,
    trusted_proxies: Vec<IpAddr>,
    shutdown: impl std::future::Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    // A request's body must arrive within the idle timeout too, so that a slow sender cannot
    // hold a connection (and the body read so far) indefinitely.
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(limits.idle_timeout));
    let open = Arc::new(Mutex::new(Open { total: 0, by_address: HashMap::new() }));
    let refusals = Arc::new(tokio::sync::Semaphore::new(REFUSALS_IN_FLIGHT));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // 64 KiB of request head at most (hyper answers 431 beyond), not the whole read buffer's
    // 400 KiB; the buffer itself stays large, which large bodies (batches of checks) need.
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout)
        .keep_alive(true)
        .max_header_size(64 * 1024);
    let mut full_since_logged = None::<tokio::time::Instant>;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors or a connection reset before it was taken: both
                    // pass; wait a moment so that an exhausted process does not spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        // A trusted proxy carries many clients: only the overall cap applies to it. IPv6 clients
        // are counted by their /64, which one host usually holds whole.
        let per_address =
            if trusted_proxies.contains(&peer.ip()) { 0 } else { limits.max_connections_per_address };
        let slot = match take_slot(&open, client_key(peer.ip()), max_connections, per_address) {
            Ok(slot) => slot,
            Err(full) => {
                let now = tokio::time::Instant::now();
                if full_since_logged.is_none_or(|t| now.duration_since(t) > Duration::from_secs(10)) {
                    full_since_logged = Some(now);
                    match full {
                        Full::Server => {
                            tracing::warn!(max = max_connections, "connection limit reached; refusing")
                        }
                        Full::Address => tracing::warn!(
                            max = limits.max_connections_per_address,
                            "a client address reached its connection limit; refusing"
                        ),
                    }
                }
                if let Ok(permit) = refusals.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream, full).await;
                        drop(permit);
                    });
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            tower_service::Service::call(&mut router.clone(), req)
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Errors here are the client's (a timeout, a reset, a malformed request); hyper has
            // answered what could be answered.
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!(
            seconds = drain.as_secs(),
            "requests still in flight after the drain time; stopping anyway"
        );
    }
    Ok(())
}

/// Answers a connection the server will not take with a 503 problem, then closes it. The
/// request (if one came) is read and dropped first, so that closing does not reset the
/// connection before the client reads the answer.
async fn refuse(mut stream: TcpStream, full: Full) {
    let detail = match full {
        Full::Server => "the server has as many connections open as it allows; try again in a moment",
        Full::Address => {
            "your address has as many connections open as the server allows one client; close some"
        }
    };
    let problem =
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "http.too_many_connections", detail).problem();
    let body = serde_json::to_string(&problem).unwrap_or_default();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nretry-after: 1\r\nx-content-type-options: nosniff\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        // The request head first (for at most a second): a client answered before it has sent
        // its request takes the answer for a broken connection.
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let mut seen = Vec::with_capacity(1024);
            let mut buf = [0u8; 4096];
            while seen.len() < 16 * 1024 && !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
        })
        .await;
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await
    })
    .await;
}

/// The client address of a request, when it came through [`serve`].
pub fn peer(req: &axum::http::request::Parts) -> Option<SocketAddr> {
    req.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0)
}
