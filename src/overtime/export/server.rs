//! The exporter's HTTP server: one event loop (mio) that accepts and parses every connection
//! without letting one hold another, and one collector thread whose result every waiting
//! request shares.
//!
//! What a client can and cannot do:
//!
//! - **An idle or slow client costs a file descriptor, never time.** Sockets are non-blocking and
//!   polled together; a connection must deliver its whole request head within
//!   [`Limits::header_deadline`] (1 s) of being accepted, counted once from the accept, not
//!   restarted by each byte. Past it the connection is closed.
//! - **A request is bounded**: a head larger than [`Limits::max_request`] (8 KiB) gets
//!   `431` and is closed; one the parser (httparse) rejects gets `400`. A body is never read.
//! - **Scrapes are single-flight**: a `GET /metrics` that arrives while a collection runs waits for
//!   that one and shares its result, instead of walking every target again. Collections run on
//!   their own thread, so the loop keeps accepting while they run.
//! - **Connections are bounded**: past [`Limits::max_connections`] open connections, the oldest
//!   one still sending its request is closed to make room, so a flood of idle clients cannot
//!   keep a scraper out.
//! - A response that the client does not read within [`Limits::write_deadline`] is dropped.
//!
//! Every response closes its connection (`Connection: close`), which is what Prometheus expects
//! of a small exporter and keeps the state machine to three states.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::Format;

/// One collection, ready to render in either format; an error text when it failed.
pub type Snapshot = std::result::Result<Arc<dyn Fn(Format) -> String + Send + Sync>, String>;

/// The bounds the server keeps each client to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time from accept to the end of the request head.
    pub header_deadline: Duration,
    /// Largest request head, bytes.
    pub max_request: usize,
    /// Time to write a response once it is ready.
    pub write_deadline: Duration,
    /// Time a request may wait for its collection.
    pub scrape_deadline: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_deadline: Duration::from_secs(1),
            max_request: 8192,
            write_deadline: Duration::from_secs(10),
            scrape_deadline: Duration::from_secs(120),
            max_connections: 1024,
        }
    }
}

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);

enum State {
    /// Reading the request head.
    Reading,
    /// Waiting for the collection (format, HEAD).
    Waiting(Format, bool),
    /// Writing the response.
    Writing(Vec<u8>, usize),
}

struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    state: State,
    deadline: Instant,
    accepted: Instant,
}

/// What a complete request head asks for.
enum Parsed {
    /// Not complete yet.
    Partial,
    /// `GET /metrics` (or `/`): the format and whether it was `HEAD`.
    Metrics(Format, bool),
    /// Anything else: the response to send at once.
    Respond(Vec<u8>),
}

fn response(status: &str, ctype: &str, body: &str, head_only: bool) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        r.extend_from_slice(body.as_bytes());
    }
    r
}

fn parse(buf: &[u8], limits: &Limits) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Partial) if buf.len() >= limits.max_request => {
            Parsed::Respond(response(
                "431 Request Header Fields Too Large",
                "text/plain",
                "request too large\n",
                false,
            ))
        }
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(e) => Parsed::Respond(response(
            "400 Bad Request",
            "text/plain",
            &format!("bad request: {e}\n"),
            false,
        )),
        Ok(httparse::Status::Complete(_)) => {
            let method = req.method.unwrap_or("");
            let path = req.path.unwrap_or("").split('?').next().unwrap_or("");
            let head = method == "HEAD";
            if method != "GET" && !head {
                return Parsed::Respond(response(
                    "405 Method Not Allowed",
                    "text/plain",
                    "only GET\n",
                    false,
                ));
            }
            if path != "/metrics" && path != "/" {
                return Parsed::Respond(response(
                    "404 Not Found",
                    "text/plain",
                    "try /metrics\n",
                    head,
                ));
            }
            let accept = req
                .headers
                .iter()
                .filter(|h| h.name.eq_ignore_ascii_case("accept"))
                .filter_map(|h| std::str::from_utf8(h.value).ok())
                .collect::<Vec<_>>()
                .join(",");
            Parsed::Metrics(Format::negotiate(&accept), head)
        }
    }
}

/// Serves `GET /metrics` on `listener` forever. Each collection is `collect()` on a thread of
/// its own; every request waiting when it ends is answered from it.
///
/// # Errors
/// The poller cannot be created or the listener registered.
pub fn serve(
    listener: std::net::TcpListener,
    limits: Limits,
    collect: impl FnMut() -> Snapshot + Send + 'static,
) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);

    // The collector thread: one request in, one snapshot out, then a wake-up.
    let (want_tx, want_rx) = mpsc::channel::<()>();
    let done: Arc<Mutex<Option<Snapshot>>> = Arc::new(Mutex::new(None));
    {
        let (done, waker) = (done.clone(), waker.clone());
        let mut collect = collect;
        std::thread::Builder::new()
            .name("memlink-collect".into())
            .spawn(move || {
                while want_rx.recv().is_ok() {
                    let s = collect();
                    if let Ok(mut d) = done.lock() {
                        *d = Some(s);
                    }
                    let _ = waker.wake();
                }
            })?;
    }

    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next = 2usize;
    let mut in_flight = false;
    let mut events = Events::with_capacity(256);
    loop {
        let now = Instant::now();
        let timeout = conns
            .values()
            .map(|c| c.deadline.saturating_duration_since(now))
            .min()
            .unwrap_or(Duration::from_secs(1))
            .clamp(Duration::from_millis(1), Duration::from_secs(1));
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut ready: Vec<Token> = Vec::new();
        let mut collected = false;
        for ev in events.iter() {
            match ev.token() {
                LISTENER => {}
                WAKER => collected = true,
                t => ready.push(t),
            }
        }
        // Accept on every turn: after a failure (EMFILE) the edge-triggered listener would not
        // say again that connections wait.
        loop {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    if conns.len() >= limits.max_connections {
                        evict_oldest_reading(&mut conns, poll.registry());
                    }
                    let token = Token(next);
                    next = next.wrapping_add(1).max(2);
                    if poll
                        .registry()
                        .register(&mut stream, token, Interest::READABLE)
                        .is_err()
                    {
                        continue;
                    }
                    let now = Instant::now();
                    conns.insert(
                        token,
                        Conn {
                            stream,
                            buf: Vec::new(),
                            state: State::Reading,
                            deadline: now + limits.header_deadline,
                            accepted: now,
                        },
                    );
                    // A client that sent its request with the connect is served now.
                    ready.push(token);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("accept failed: {e}");
                    break;
                }
            }
        }
        if collected {
            let snapshot = done.lock().ok().and_then(|mut d| d.take());
            if let Some(snapshot) = snapshot {
                in_flight = false;
                answer_waiting(&mut conns, &snapshot, &limits, &mut ready);
            }
        }
        for token in ready {
            let Some(c) = conns.get_mut(&token) else {
                continue;
            };
            let keep = match c.state {
                State::Reading => match (read_head(c, &limits), &c.state) {
                    (false, _) => false,
                    (true, State::Waiting(..)) => {
                        if !in_flight && want_tx.send(()).is_ok() {
                            in_flight = true;
                        }
                        true
                    }
                    (true, State::Writing(..)) => write_some(c, poll.registry(), token),
                    (true, State::Reading) => true,
                },
                State::Waiting(..) => true,
                State::Writing(..) => write_some(c, poll.registry(), token),
            };
            if !keep {
                drop_conn(&mut conns, token, poll.registry());
            }
        }
        let now = Instant::now();
        let expired: Vec<Token> = conns
            .iter()
            .filter(|(_, c)| c.deadline <= now)
            .map(|(&t, _)| t)
            .collect();
        for t in expired {
            log::debug!("closing a connection past its deadline");
            drop_conn(&mut conns, t, poll.registry());
        }
    }
}

/// Reads what is there; false when the connection is to be closed.
fn read_head(c: &mut Conn, limits: &Limits) -> bool {
    let mut chunk = [0u8; 4096];
    loop {
        match c.stream.read(&mut chunk) {
            Ok(0) => return false,
            Ok(n) => {
                let room = limits.max_request.saturating_sub(c.buf.len());
                c.buf.extend_from_slice(&chunk[..n.min(room)]);
                match parse(&c.buf, limits) {
                    Parsed::Partial => {}
                    Parsed::Metrics(f, head) => {
                        c.state = State::Waiting(f, head);
                        c.deadline = Instant::now() + limits.scrape_deadline;
                        return true;
                    }
                    Parsed::Respond(bytes) => {
                        c.state = State::Writing(bytes, 0);
                        c.deadline = Instant::now() + limits.write_deadline;
                        return true;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Writes what the socket takes; false when done (or failed), so the connection is closed.
fn write_some(c: &mut Conn, registry: &mio::Registry, token: Token) -> bool {
    let State::Writing(bytes, pos) = &mut c.state else {
        return true;
    };
    while *pos < bytes.len() {
        match c.stream.write(&bytes[*pos..]) {
            Ok(0) => return false,
            Ok(n) => *pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return registry
                    .reregister(&mut c.stream, token, Interest::WRITABLE)
                    .is_ok();
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    let _ = c.stream.flush();
    let _ = c.stream.shutdown(std::net::Shutdown::Write);
    false
}

fn answer_waiting(
    conns: &mut HashMap<Token, Conn>,
    snapshot: &Snapshot,
    limits: &Limits,
    ready: &mut Vec<Token>,
) {
    let mut bodies: HashMap<Format, Vec<u8>> = HashMap::new();
    for (&t, c) in conns.iter_mut() {
        let State::Waiting(f, head) = c.state else {
            continue;
        };
        let bytes = match snapshot {
            Ok(render) => {
                let body = bodies.entry(f).or_insert_with(|| render(f).into_bytes());
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    f.content_type(),
                    body.len()
                )
                .into_bytes();
                if !head {
                    r.extend_from_slice(body);
                }
                r
            }
            Err(e) => response(
                "500 Internal Server Error",
                "text/plain",
                &format!("scrape failed: {e}\n"),
                head,
            ),
        };
        c.state = State::Writing(bytes, 0);
        c.deadline = Instant::now() + limits.write_deadline;
        ready.push(t);
    }
}

fn evict_oldest_reading(conns: &mut HashMap<Token, Conn>, registry: &mio::Registry) {
    let oldest = conns
        .iter()
        .filter(|(_, c)| matches!(c.state, State::Reading))
        .min_by_key(|(_, c)| c.accepted)
        .map(|(&t, _)| t);
    if let Some(t) = oldest {
        drop_conn(conns, t, registry);
    }
}

fn drop_conn(conns: &mut HashMap<Token, Conn>, token: Token, registry: &mio::Registry) {
    if let Some(mut c) = conns.remove(&token) {
        let _ = registry.deregister(&mut c.stream);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(p: Parsed) -> String {
        match p {
            Parsed::Partial => "partial".into(),
            Parsed::Metrics(f, head) => format!("metrics {f:?} {head}"),
            Parsed::Respond(b) => String::from_utf8_lossy(&b)
                .lines()
                .next()
                .unwrap_or("")
                .to_string(),
        }
    }

    #[test]
    fn parses_requests_and_refuses_the_rest() {
        let l = Limits::default();
        assert_eq!(
            status(parse(b"GET /metrics HTTP/1.1\r\nHost: x", &l)),
            "partial"
        );
        assert_eq!(
            status(parse(
                b"GET /metrics?x=1 HTTP/1.1\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\r\n",
                &l
            )),
            "metrics OpenMetrics false"
        );
        assert_eq!(
            status(parse(b"HEAD / HTTP/1.0\r\n\r\n", &l)),
            "metrics Prometheus true"
        );
        assert!(status(parse(b"POST /metrics HTTP/1.1\r\n\r\n", &l)).contains("405"));
        assert!(status(parse(b"GET /x HTTP/1.1\r\n\r\n", &l)).contains("404"));
        assert!(status(parse(b"\x01\x02garbage\r\n\r\n", &l)).contains("400"));
        let big = format!("GET /metrics HTTP/1.1\r\nX: {}", "a".repeat(9000));
        assert!(status(parse(&big.as_bytes()[..8192], &l)).contains("431"));
    }
}
