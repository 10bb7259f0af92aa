//! HTTP load generator for a Breakglass server on this machine (loopback only).
//!
//! `loadgen --url http://127.0.0.1:18087 --token T --mode healthz|check|batch --connections N
//! --duration S [--batch 1000] [--warmup S] [--threads N]`
//!
//! Each connection is one keep-alive HTTP/1.1 connection (hyper) that sends its next request as
//! soon as the last answer's body is read, for `--warmup` seconds unrecorded and then for
//! `--duration` seconds recorded. Latency is measured from sending a request to having read its
//! whole body. Prints one human line and one line of JSON: requests/s, checks/s, p50/p99/max.
//!
//! The checks are built for `breakglass serve --demo`: every (demo user, demo workspace or
//! project, role of the matching kind). Before the run each one is asked once; the run then cycles
//! through all the held ones and as many not-held ones, so the mix is half and half as the server
//! itself answers it. Any answer other than 200 counts as an error and fails the run.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{header, Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

const USERS: [&str; 12] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "oscar", "trent",
];
const TARGETS: [(&str, &[&str]); 3] = [
    ("payments", &["checkout", "ledger", "fraud-ml"]),
    ("search", &["indexer", "frontend"]),
    ("data-platform", &["warehouse", "airflow", "lake"]),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Healthz,
    Check,
    Batch,
}

struct Args {
    addr: SocketAddr,
    host: String,
    token: String,
    mode: Mode,
    connections: usize,
    duration: f64,
    warmup: f64,
    batch: usize,
    threads: usize,
}

fn usage() -> String {
    "usage: loadgen --url http://127.0.0.1:PORT --token TOKEN --mode healthz|check|batch \
     [--connections 16] [--duration 10] [--warmup 2] [--batch 1000] [--threads 1]"
        .to_owned()
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let (mut url, mut token, mut mode) = (None, String::new(), None);
    let (mut connections, mut duration, mut warmup, mut batch, mut threads) = (16, 10.0, 2.0, 1000, 1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value\n{}", usage()));
        let num = |v: String| v.parse::<f64>().map_err(|_| format!("{flag}: not a number: {v}"));
        match flag.as_str() {
            "--url" => url = Some(value()?),
            "--token" => token = value()?,
            "--mode" => {
                mode = Some(match value()?.as_str() {
                    "healthz" => Mode::Healthz,
                    "check" => Mode::Check,
                    "batch" => Mode::Batch,
                    other => return Err(format!("--mode: unknown mode {other}\n{}", usage())),
                })
            }
            "--connections" => connections = num(value()?)? as usize,
            "--duration" => duration = num(value()?)?,
            "--warmup" => warmup = num(value()?)?,
            "--batch" => batch = num(value()?)? as usize,
            "--threads" => threads = num(value()?)? as usize,
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown argument {other}\n{}", usage())),
        }
    }
    let url = url.ok_or_else(usage)?;
    let host = url
        .strip_prefix("http://")
        .ok_or("--url: only http://host:port")?
        .trim_end_matches('/')
        .to_owned();
    let addr = host
        .to_socket_addrs()
        .map_err(|e| format!("--url: {e}"))?
        .next()
        .ok_or("--url: no address")?;
    // Load goes to this machine only.
    if !addr.ip().is_loopback() {
        return Err(format!("--url: {addr} is not a loopback address"));
    }
    if connections == 0 || batch == 0 || threads == 0 || duration <= 0.0 {
        return Err("--connections, --batch, --threads and --duration must be positive".to_owned());
    }
    let mode = mode.ok_or_else(usage)?;
    Ok(Args { addr, host, token, mode, connections, duration, warmup, batch, threads })
}

/// Every (demo user, target, role) pair.
fn candidate_checks() -> Vec<Value> {
    let mut out = Vec::new();
    for user in USERS {
        let user = format!("{user}@example.com");
        for (ws, projects) in TARGETS {
            for role in ["member", "manager", "owner"] {
                out.push(json!({"user": user, "workspace": ws, "role": role}));
            }
            for p in projects {
                for role in ["reader", "user", "admin"] {
                    out.push(json!({"user": user, "workspace": ws, "project": p, "role": role}));
                }
            }
        }
    }
    out
}

struct Conn {
    sender: SendRequest<Full<Bytes>>,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(Self { sender })
    }

    /// Sends one request and reads the whole answer.
    async fn send(&mut self, args: &Args, path: &str, body: Option<Bytes>) -> Result<(StatusCode, Bytes), String> {
        self.sender.ready().await.map_err(|e| e.to_string())?;
        let builder = Request::builder()
            .uri(path)
            .header(header::HOST, &args.host)
            .header(header::AUTHORIZATION, format!("Bearer {}", args.token));
        let request = match body {
            Some(b) => builder
                .method(Method::POST)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(b)),
            None => builder.method(Method::GET).body(Full::new(Bytes::new())),
        }
        .map_err(|e| e.to_string())?;
        let response = self.sender.send_request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, body))
    }
}

/// Asks every candidate once; returns the bodies of all held checks and as many not-held ones,
/// alternating, and the counts.
async fn balanced_checks(args: &Args) -> Result<(Vec<Value>, usize, usize), String> {
    let mut conn = Conn::open(args.addr).await?;
    let (mut held, mut denied) = (Vec::new(), Vec::new());
    for c in candidate_checks() {
        let (status, body) = conn.send(args, "/api/v1/check", Some(Bytes::from(c.to_string()))).await?;
        if status != StatusCode::OK {
            return Err(format!("check {c} answered {status}: {}", String::from_utf8_lossy(&body)));
        }
        let answer: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if answer["allowed"] == Value::Bool(true) {
            held.push(c);
        } else {
            denied.push(c);
        }
    }
    let (h, d) = (held.len(), denied.len());
    if h == 0 {
        return Err("no check is held: is this a `serve --demo` server, and the token an admin's?".into());
    }
    let n = h.min(d);
    let mix = held.into_iter().take(n).zip(denied.into_iter().take(n)).flat_map(|(a, b)| [a, b]).collect();
    Ok((mix, h, d))
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

async fn run_connection(
    args: Arc<Args>,
    bodies: Arc<Vec<Bytes>>,
    first: usize,
    measure_from: Instant,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut conn = match Conn::open(args.addr).await {
        Ok(c) => c,
        Err(e) => {
            tally.errors += 1;
            tally.first_error = Some(e);
            return tally;
        }
    };
    let path = match args.mode {
        Mode::Healthz => "/healthz",
        Mode::Check => "/api/v1/check",
        Mode::Batch => "/api/v1/check/batch",
    };
    let mut i = first;
    loop {
        let sent = Instant::now();
        if sent >= until {
            break;
        }
        let body = (args.mode != Mode::Healthz).then(|| bodies[i % bodies.len()].clone());
        i += 1;
        match conn.send(&args, path, body).await {
            Ok((StatusCode::OK, _)) => {
                if sent >= measure_from {
                    let us = sent.elapsed().as_micros();
                    tally.latencies_us.push(u32::try_from(us).unwrap_or(u32::MAX));
                }
            }
            Ok((status, body)) => {
                tally.errors += 1;
                tally.first_error.get_or_insert_with(|| format!("{status}: {}", String::from_utf8_lossy(&body)));
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_error.get_or_insert(e);
                // The connection is gone; open another one.
                match Conn::open(args.addr).await {
                    Ok(c) => conn = c,
                    Err(_) => break,
                }
            }
        }
    }
    tally
}

/// CPU seconds (user + system) this process has used, from `/proc/self/stat`.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; 100 ticks/s.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn run(args: Args) -> Result<(), String> {
    let args = Arc::new(args);
    let checks_per_request = match args.mode {
        Mode::Healthz => 0,
        Mode::Check => 1,
        Mode::Batch => args.batch,
    };
    let bodies: Vec<Bytes> = match args.mode {
        Mode::Healthz => Vec::new(),
        Mode::Check | Mode::Batch => {
            let (mix, held, denied) = balanced_checks(&args).await?;
            eprintln!(
                "queries: {} candidates, {held} held, {denied} not held; the run cycles through {} \
                 (half held)",
                held + denied,
                mix.len()
            );
            if args.mode == Mode::Check {
                mix.iter().map(|c| Bytes::from(c.to_string())).collect()
            } else {
                // Several different batches, each a window of the mix starting elsewhere.
                (0..8)
                    .map(|k| {
                        let checks: Vec<&Value> =
                            (0..args.batch).map(|i| &mix[(k * 7 + i) % mix.len()]).collect();
                        Bytes::from(json!({ "checks": checks }).to_string())
                    })
                    .collect()
            }
        }
    };
    if args.mode == Mode::Batch {
        // One batch answered in full, in order, before the run.
        let mut conn = Conn::open(args.addr).await?;
        let (status, body) = conn.send(&args, "/api/v1/check/batch", Some(bodies[0].clone())).await?;
        let answer: Value = serde_json::from_slice(&body).map_err(|e| format!("{status}: {e}"))?;
        let n = answer["results"].as_array().map_or(0, Vec::len);
        if status != StatusCode::OK || n != args.batch {
            return Err(format!("batch answered {status} with {n} results, not {}", args.batch));
        }
        eprintln!("batch: {} bytes asked, {} bytes answered", bodies[0].len(), body.len());
    }

    let bodies = Arc::new(bodies);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(args.warmup);
    let until = measure_from + Duration::from_secs_f64(args.duration);
    let cpu0 = cpu_seconds();
    let tasks: Vec<_> = (0..args.connections)
        .map(|k| tokio::spawn(run_connection(args.clone(), bodies.clone(), k * 13, measure_from, until)))
        .collect();
    let mut latencies = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for t in tasks {
        let tally = t.await.map_err(|e| e.to_string())?;
        latencies.extend(tally.latencies_us);
        errors += tally.errors;
        first_error = first_error.or(tally.first_error);
    }
    let cpu = cpu_seconds() - cpu0;
    let wall = (Instant::now() - start).as_secs_f64();
    latencies.sort_unstable();
    let requests = latencies.len();
    let rps = requests as f64 / args.duration;
    let cps = rps * checks_per_request as f64;
    let (p50, p99, max) = (percentile(&latencies, 50.0), percentile(&latencies, 99.0), latencies.last().copied().unwrap_or(0));
    let mode = match args.mode {
        Mode::Healthz => "healthz",
        Mode::Check => "check",
        Mode::Batch => "batch",
    };
    println!(
        "{mode}: {rps:.0} requests/s, {cps:.0} checks/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms \
         ({requests} requests in {:.0} s over {} connections, {errors} errors; loadgen CPU {:.0}%)",
        p50 as f64 / 1000.0,
        p99 as f64 / 1000.0,
        max as f64 / 1000.0,
        args.duration,
        args.connections,
        100.0 * cpu / wall,
    );
    println!(
        "{}",
        json!({
            "mode": mode, "connections": args.connections, "duration_s": args.duration,
            "batch": checks_per_request, "requests": requests, "errors": errors,
            "requests_per_s": rps.round(), "checks_per_s": cps.round(),
            "p50_us": p50, "p99_us": p99, "max_us": max, "loadgen_cpu_s": (cpu * 100.0).round() / 100.0,
        })
    );
    match first_error {
        Some(e) => Err(format!("{errors} errors; first: {e}")),
        None => Ok(()),
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
