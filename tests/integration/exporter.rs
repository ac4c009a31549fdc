//! The exporter under hostile clients (idle, slow-drip, garbage, oversized, many at once), its
//! single-flight scrapes, the rollup budget's figures and the unknown-is-not-zero rules of its
//! series.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{free_port, http_get, memlink, run, tempdir::TempDir, Fixture, Reaped};

/// A running exporter and its port; stopped when dropped.
struct Exporter(#[allow(dead_code)] Reaped, u16);

/// One GET; the whole response, or `None` when the connection failed.
fn get(port: u16, path: &str) -> Option<String> {
    http_get(port, path, "", Duration::from_secs(30))
}

fn start(args: &[&str]) -> Exporter {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = memlink()
        .args(["export", "--listen", &listen])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let e = Exporter(Reaped(child), port);
    let t0 = Instant::now();
    while get(port, "/metrics").is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "exporter did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    e
}

/// The time of one scrape, asserting it answered 200 with metrics.
fn timed_scrape(port: u16) -> Duration {
    let t0 = Instant::now();
    let resp = get(port, "/metrics").expect("scrape");
    let took = t0.elapsed();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("memlink_scrape_duration_seconds"), "{resp}");
    took
}

#[test]
fn idle_slow_and_garbage_clients_do_not_delay_a_scrape() {
    let f = Fixture::start("steady", &["1024"]);
    let e = start(&["--pid", &f.pid_arg()]);
    let port = e.1;
    // The unloaded scrape, measured here: the slowest of five.
    let unloaded = (0..5).map(|_| timed_scrape(port)).max().unwrap();
    // Generous, and independent of the 1 s header deadline a stuck server would wait out.
    let bound = unloaded * 10 + Duration::from_millis(500);

    // 200 idle connections that never send a byte.
    let idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    // Slow-drip clients: one byte of a valid request every 300 ms.
    let drips: Vec<std::thread::JoinHandle<()>> = (0..5)
        .map(|_| {
            std::thread::spawn(move || {
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                    return;
                };
                for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" {
                    if s.write_all(&[*b]).is_err() {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(300));
                }
            })
        })
        .collect();
    // Garbage: a 400, at once.
    let mut g = TcpStream::connect(("127.0.0.1", port)).unwrap();
    g.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    g.write_all(b"\x16\x03\x01\x02\x00garbage\r\n\r\n").unwrap();
    let mut resp = String::new();
    let _ = g.read_to_string(&mut resp);
    assert!(resp.starts_with("HTTP/1.1 400"), "{resp:?}");
    // An oversized head: a 431, not an unbounded buffer.
    let mut big = TcpStream::connect(("127.0.0.1", port)).unwrap();
    big.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = big.write_all(format!("GET /metrics HTTP/1.1\r\nX: {}", "a".repeat(20_000)).as_bytes());
    let mut resp = Vec::new();
    let _ = big.read_to_end(&mut resp);
    assert!(
        String::from_utf8_lossy(&resp).starts_with("HTTP/1.1 431"),
        "{:?}",
        String::from_utf8_lossy(&resp[..resp.len().min(80)])
    );

    for _ in 0..5 {
        let took = timed_scrape(port);
        assert!(
            took <= bound,
            "a scrape took {took:?} with idle, slow and garbage clients (unloaded {unloaded:?}, bound {bound:?})"
        );
    }

    // The header deadline (1 s from accept, not restarted by bytes) closed the idle and the
    // slow clients: each idle socket reads end-of-file well before the drip would end (~10 s).
    let t0 = Instant::now();
    for mut s in idle.into_iter().take(20) {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = [0u8; 16];
        assert_eq!(
            s.read(&mut b).unwrap_or(0),
            0,
            "an idle connection stays open"
        );
    }
    assert!(t0.elapsed() < Duration::from_secs(5));
    for d in drips {
        d.join().unwrap();
    }
    drop(f);
}

#[test]
fn concurrent_scrapes_share_one_collection() {
    // Every process, with PSS and per-PID series: a collection long enough to overlap.
    let e = start(&["--smaps", "--per-pid", "--rollup-budget", "none"]);
    let port = e.1;
    let handles: Vec<_> = (0..8)
        .map(|_| std::thread::spawn(move || get(port, "/metrics").expect("scrape")))
        .collect();
    let bodies: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let durations: std::collections::BTreeSet<String> = bodies
        .iter()
        .map(|b| {
            assert!(b.starts_with("HTTP/1.1 200"), "{b}");
            b.lines()
                .find(|l| l.starts_with("memlink_scrape_duration_seconds "))
                .unwrap()
                .to_string()
        })
        .collect();
    // Served one at a time, eight requests would be eight collections with eight durations.
    assert!(
        durations.len() <= 4,
        "8 concurrent scrapes made {} collections: {durations:?}",
        durations.len()
    );
}

fn export_once(args: &[&str]) -> String {
    let dir = TempDir::new("exporter");
    let file = dir.path().join("m.prom");
    let mut a = vec!["export", "-o", file.to_str().unwrap()];
    a.extend_from_slice(args);
    run(&a).ok();
    std::fs::read_to_string(&file).unwrap()
}

#[test]
fn leak_verdict_is_absent_until_judged() {
    let f = Fixture::start("steady", &["1024"]);
    let pid = f.pid_arg();
    // One scrape is one sample: far from the 60 s the leak rule needs.
    let text = export_once(&["--pid", &pid, "--watch", &pid]);
    assert!(
        !text.contains("memlink_watch_leak_suspected{"),
        "no false 0 before a judgement: {text}"
    );
    assert!(
        text.contains(&format!(
            "memlink_watch_judged{{pid=\"{pid}\",command=\"steady\"}} 0\n"
        )),
        "{text}"
    );
}

#[test]
fn rollup_over_budget_leaves_pss_out_and_says_why() {
    // 64 MiB resident: estimated above a 0.1 ms budget, so the one scrape of `-o` reads no rollup.
    let f = Fixture::start("steady", &["65536"]);
    let pid = f.pid_arg();
    let text = export_once(&[
        "--smaps",
        "--per-pid",
        "--pid",
        &pid,
        "--rollup-budget",
        "0.1ms",
    ]);
    let group = "group_by=\"command\",group=\"steady\"";
    assert!(!text.contains("type=\"pss\""), "no PSS read: {text}");
    assert!(
        text.contains(&format!(
            "memlink_group_memory_bytes{{{group},type=\"rss\"}}"
        )),
        "RSS from status: {text}"
    );
    assert!(
        text.contains(&format!("memlink_group_unread_processes{{{group}}} 1\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "memlink_group_restricted_processes{{{group}}} 0\n"
        )),
        "{text}"
    );
    assert!(
        text.contains("memlink_scrape_processes{outcome=\"rollup_over_budget\"} 1\n"),
        "{text}"
    );
    assert!(
        !text.contains("memlink_process_rollup_read_seconds{"),
        "{text}"
    );

    // Without a limit the rollup is read and memlink's read time is exported, with age 0.
    let text = export_once(&[
        "--smaps",
        "--per-pid",
        "--pid",
        &pid,
        "--rollup-budget",
        "none",
    ]);
    let labels = format!("pid=\"{pid}\",command=\"steady\"");
    let read = text
        .lines()
        .find_map(|l| l.strip_prefix(&format!("memlink_process_rollup_read_seconds{{{labels}}} ")))
        .unwrap_or_else(|| panic!("no read time: {text}"));
    assert!(read.parse::<f64>().unwrap() > 0.0, "{read}");
    assert!(
        text.contains(&format!("memlink_process_pss_age_seconds{{{labels}}} 0\n")),
        "{text}"
    );
    assert!(text.contains(&format!("{labels},type=\"pss\"}}")), "{text}");
}

#[test]
fn output_errors_name_the_path_given() {
    let r = run(&["export", "-o", "/nonexistent-memlink-dir/m.prom"]);
    r.assert_error(&["/nonexistent-memlink-dir/m.prom"]);
    assert!(!r.stderr.contains(".tmp"), "{}", r.stderr);
}
