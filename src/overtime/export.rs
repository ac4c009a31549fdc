//! Metrics exposition: per-group (and optionally per-process) memory in the OpenMetrics or
//! Prometheus text format, and a minimal HTTP server on a loopback address to serve it.
//!
//! Series are grouped by command name or cgroup by default, because PIDs churn and each new PID
//! would make a new series; per-PID series and command lines are opt-in. The server answers
//! `GET /metrics` (and `/`), one request at a time, and reads nothing but the request line and
//! headers. Anyone who can reach the port sees the data: a root exporter shows every user's
//! process names and memory to them.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read as _, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::overtime::ps::{self, GroupBy, ProcessRow};
use crate::overtime::watch::Component;

/// The exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 (`application/openmetrics-text`): with `# UNIT` and a final `# EOF`.
    OpenMetrics,
    /// Prometheus text 0.0.4 (`text/plain`), which node_exporter's textfile collector reads.
    Prometheus,
}

impl Format {
    /// The `Content-Type` header value.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// Picks the format from an HTTP `Accept` header.
    pub fn negotiate(accept: &str) -> Format {
        if accept.contains("application/openmetrics-text") {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// How processes are grouped.
    pub by: GroupBy,
    /// Also export one series per PID.
    pub per_pid: bool,
    /// Add the command line as a label of per-PID series.
    pub cmdline: bool,
    /// PSS and USS were read (`smaps_rollup`).
    pub smaps: bool,
}

/// A watched process and its current judgement.
#[derive(Debug, Clone)]
pub struct Watched {
    /// The PID.
    pub pid: u32,
    /// Its command name.
    pub name: String,
    /// The components as judged so far.
    pub components: Vec<Component>,
    /// Some component is suspected.
    pub leak_suspected: bool,
}

/// Everything one scrape renders.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    /// Process rows.
    pub rows: Vec<ProcessRow>,
    /// Processes that exited while being read.
    pub exited: u64,
    /// `vm.max_map_count`, when readable.
    pub max_map_count: Option<u64>,
    /// Watched processes.
    pub watched: Vec<Watched>,
    /// Seconds the scrape took.
    pub duration_s: f64,
}

/// Escapes a label value.
fn esc(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

struct Out {
    text: String,
    format: Format,
}

impl Out {
    fn family(&mut self, name: &str, unit: Option<&str>, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} gauge");
        if let (Format::OpenMetrics, Some(u)) = (self.format, unit) {
            let _ = writeln!(self.text, "# UNIT {name} {u}");
        }
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"{}\"", esc(v));
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {}", number(value));
    }
}

fn number(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if v.fract() == 0.0 && v.abs() < 9e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// Renders one scrape.
pub fn render(s: &Scrape, opts: &Options, format: Format) -> String {
    let mut o = Out {
        text: String::with_capacity(8192),
        format,
    };
    let by = match opts.by {
        GroupBy::Command => "command",
        GroupBy::User => "user",
        GroupBy::Cgroup => "cgroup",
    };
    let groups = ps::group(&s.rows, opts.by);
    let types: &[&str] = if opts.smaps {
        &["rss", "pss", "uss", "swap"]
    } else {
        &["rss", "swap"]
    };
    let value = |g: &ps::Group, t: &str| match t {
        "rss" => g.rss,
        "pss" => g.pss,
        "uss" => g.uss,
        _ => g.swap,
    };

    o.family(
        "memlink_group_memory_bytes",
        Some("bytes"),
        "Memory of a group of processes by type (rss, pss, uss, swap).",
    );
    for g in &groups {
        for t in types {
            o.sample(
                "memlink_group_memory_bytes",
                &[("group_by", by), ("group", &g.key), ("type", t)],
                value(g, t) as f64,
            );
        }
    }
    o.family(
        "memlink_group_processes",
        None,
        "Number of processes in the group.",
    );
    for g in &groups {
        o.sample(
            "memlink_group_processes",
            &[("group_by", by), ("group", &g.key)],
            g.processes as f64,
        );
    }
    o.family(
        "memlink_group_mappings_max",
        None,
        "Largest number of mappings of one process in the group (compare with memlink_vm_max_mappings).",
    );
    for g in &groups {
        o.sample(
            "memlink_group_mappings_max",
            &[("group_by", by), ("group", &g.key)],
            g.max_mappings as f64,
        );
    }
    if let Some(m) = s.max_map_count {
        o.family(
            "memlink_vm_max_mappings",
            None,
            "The kernel's limit on mappings per process (vm.max_map_count).",
        );
        o.sample("memlink_vm_max_mappings", &[], m as f64);
    }

    if opts.per_pid {
        o.family(
            "memlink_process_memory_bytes",
            Some("bytes"),
            "Memory of one process by type (rss, pss, uss, swap).",
        );
        for r in &s.rows {
            let pid = r.pid.to_string();
            let cmd = r.command.clone().unwrap_or_default();
            for t in types {
                let v = match *t {
                    "rss" => r.rss,
                    "pss" => r.pss,
                    "uss" => r.uss,
                    _ => r.swap,
                };
                let mut labels = vec![("pid", pid.as_str()), ("command", r.name.as_str())];
                if opts.cmdline {
                    labels.push(("cmdline", cmd.as_str()));
                }
                labels.push(("type", t));
                o.sample("memlink_process_memory_bytes", &labels, v as f64);
            }
        }
        o.family(
            "memlink_process_mappings",
            None,
            "Number of mappings of one process.",
        );
        for r in &s.rows {
            if let Some(m) = r.mappings {
                let pid = r.pid.to_string();
                o.sample(
                    "memlink_process_mappings",
                    &[("pid", &pid), ("command", &r.name)],
                    m as f64,
                );
            }
        }
    }

    if !s.watched.is_empty() {
        o.family(
            "memlink_watch_slope_per_minute",
            None,
            "Least-squares growth per minute of a watched process's component (bytes; mappings for the mapping count).",
        );
        for w in &s.watched {
            let pid = w.pid.to_string();
            for c in &w.components {
                o.sample(
                    "memlink_watch_slope_per_minute",
                    &[("pid", &pid), ("command", &w.name), ("component", &c.name)],
                    c.fit.slope_per_min,
                );
            }
        }
        o.family(
            "memlink_watch_r2",
            None,
            "r² of the growth fit of a watched process's component.",
        );
        for w in &s.watched {
            let pid = w.pid.to_string();
            for c in &w.components {
                o.sample(
                    "memlink_watch_r2",
                    &[("pid", &pid), ("command", &w.name), ("component", &c.name)],
                    c.fit.r2,
                );
            }
        }
        o.family(
            "memlink_watch_leak_suspected",
            None,
            "1 when a watched process meets every leak threshold.",
        );
        for w in &s.watched {
            let pid = w.pid.to_string();
            o.sample(
                "memlink_watch_leak_suspected",
                &[("pid", &pid), ("command", &w.name)],
                if w.leak_suspected { 1.0 } else { 0.0 },
            );
        }
    }

    o.family(
        "memlink_scrape_processes",
        None,
        "Processes read in this scrape, by outcome.",
    );
    let restricted = s.rows.iter().filter(|r| r.restricted).count() as f64;
    let over = s.rows.iter().filter(|r| r.over_budget).count() as f64;
    o.sample(
        "memlink_scrape_processes",
        &[("outcome", "read")],
        s.rows.len() as f64 - restricted,
    );
    o.sample(
        "memlink_scrape_processes",
        &[("outcome", "restricted")],
        restricted,
    );
    o.sample(
        "memlink_scrape_processes",
        &[("outcome", "over_budget")],
        over,
    );
    o.sample(
        "memlink_scrape_processes",
        &[("outcome", "exited")],
        s.exited as f64,
    );
    o.family(
        "memlink_scrape_duration_seconds",
        Some("seconds"),
        "Time taken to read the processes.",
    );
    o.sample("memlink_scrape_duration_seconds", &[], s.duration_s);
    if format == Format::OpenMetrics {
        o.text.push_str("# EOF\n");
    }
    o.text
}

/// Checks a listen address: it must parse and, unless `allow_remote`, be a loopback address.
///
/// # Errors
/// [`Error::InvalidArgument`] naming the address.
pub fn check_listen(addr: &str, allow_remote: bool) -> Result<SocketAddr> {
    let a: SocketAddr = addr.parse().map_err(|_| {
        Error::InvalidArgument(format!(
            "invalid --listen address {addr:?} (expected IP:PORT, e.g. 127.0.0.1:9464)"
        ))
    })?;
    if !a.ip().is_loopback() && !allow_remote {
        return Err(Error::InvalidArgument(format!(
            "--listen {addr} is not a loopback address: anyone reaching it would see every process's memory (add --allow-remote to serve it anyway)"
        )));
    }
    Ok(a)
}

/// Binds the listener.
///
/// # Errors
/// [`Error::Os`] naming the address when it is taken or cannot be bound.
pub fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr).map_err(|source| Error::Os {
        op: format!("listen on {addr}"),
        source,
    })
}

/// Serves `GET /metrics` forever, calling `scrape(format)` for each request.
pub fn serve(listener: &TcpListener, mut scrape: impl FnMut(Format) -> String) -> Result<()> {
    for conn in listener.incoming() {
        let Ok(stream) = conn else { continue };
        if let Err(e) = handle(stream, &mut scrape) {
            log::debug!("metrics request failed: {e}");
        }
    }
    Ok(())
}

fn handle(mut stream: TcpStream, scrape: &mut impl FnMut(Format) -> String) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request = String::new();
    reader.by_ref().take(8192).read_line(&mut request)?;
    let mut accept = String::new();
    for _ in 0..100 {
        let mut h = String::new();
        if reader.by_ref().take(8192).read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("accept") {
                accept = v.trim().to_string();
            }
        }
    }
    let mut parts = request.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = path.split('?').next().unwrap_or("");
    let (status, ctype, body) = if method != "GET" && method != "HEAD" {
        (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".to_string(),
        )
    } else if path == "/metrics" || path == "/" {
        let f = Format::negotiate(&accept);
        ("200 OK", f.content_type(), scrape(f))
    } else {
        ("404 Not Found", "text/plain", "try /metrics\n".to_string())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        stream.write_all(body.as_bytes())?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pid: u32, name: &str, pss: u64) -> ProcessRow {
        ProcessRow {
            pid,
            ns_pid: pid,
            uid: 0,
            user: "root".into(),
            name: name.into(),
            command: Some(format!("{name} --secret")),
            rss: pss * 2,
            pss,
            uss: pss / 2,
            swap: 0,
            swap_pss: 0,
            threads: 1,
            mappings: Some(10),
            cgroup: None,
            container: None,
            restricted: false,
            over_budget: false,
        }
    }

    #[test]
    fn renders_groups_and_hides_cmdline() {
        let s = Scrape {
            rows: vec![row(1, "a\"b", 100), row(2, "a\"b", 50), row(3, "c", 7)],
            max_map_count: Some(65530),
            ..Scrape::default()
        };
        let opts = Options {
            by: GroupBy::Command,
            per_pid: false,
            cmdline: false,
            smaps: true,
        };
        let t = render(&s, &opts, Format::OpenMetrics);
        assert!(t.contains(
            "memlink_group_memory_bytes{group_by=\"command\",group=\"a\\\"b\",type=\"pss\"} 150\n"
        ), "{t}");
        assert!(t.contains("# UNIT memlink_group_memory_bytes bytes\n"));
        assert!(t.ends_with("# EOF\n"));
        assert!(!t.contains("pid=\""), "no per-PID series by default");
        assert!(!t.contains("--secret"));
        let t = render(
            &s,
            &Options {
                per_pid: true,
                cmdline: true,
                ..opts
            },
            Format::Prometheus,
        );
        assert!(t.contains("cmdline=\"c --secret\""));
        assert!(!t.contains("# EOF") && !t.contains("# UNIT"));
    }

    #[test]
    fn listen_checks() {
        assert!(check_listen("127.0.0.1:9464", false).is_ok());
        assert!(check_listen("[::1]:9464", false).is_ok());
        let e = check_listen("0.0.0.0:9464", false).unwrap_err().to_string();
        assert!(e.contains("--allow-remote"), "{e}");
        assert!(check_listen("0.0.0.0:9464", true).is_ok());
        assert!(check_listen("localhost", false).is_err());
    }
}
