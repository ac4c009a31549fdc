//! `export`: the exposition format, checked by promtool, and scraped by a real Prometheus.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    free_port, http_get, memlink, require, run, run_cmd, tempdir::TempDir, Fixture, Reaped,
};

/// A plain HTTP GET; returns (status line, body).
fn get(port: u16, path: &str, accept: &str) -> Option<(String, String)> {
    let headers = format!("Accept: {accept}\r\nConnection: close\r\n");
    let resp = http_get(port, path, &headers, Duration::from_secs(10))?;
    let (head, body) = resp.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let t0 = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn pss_of(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    text.lines()
        .find(|l| l.starts_with("Pss:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

fn start_exporter(port: u16, pid: &str) -> Reaped {
    let child = memlink()
        .args([
            "export",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--smaps",
            "--per-pid",
            "--pid",
            pid,
            "--watch",
            pid,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let g = Reaped(child);
    wait_for("the exporter", 20, || get(port, "/metrics", "text/plain"));
    g
}

#[test]
fn output_passes_promtool_and_is_grouped_by_default() {
    let f = Fixture::start("steady", &["2048", "cmdline-marker-xyz"]);
    let dir = TempDir::new("export");
    let file = dir.path().join("memlink.prom");
    let fs = file.to_str().unwrap();
    run(&["export", "-o", fs, "--smaps"]).ok();
    let text = std::fs::read_to_string(&file).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(text.contains(
        "memlink_group_memory_bytes{group_by=\"command\",group=\"steady\",type=\"pss\"}"
    ));
    assert!(!text.contains("pid=\""), "no per-PID series unless asked");
    assert!(
        !text.contains("cmdline-marker-xyz"),
        "no command lines unless asked"
    );
    assert!(text.contains("memlink_vm_max_mappings "));
    let by_cg = dir.path().join("cg.prom");
    run(&[
        "export",
        "-o",
        by_cg.to_str().unwrap(),
        "--by",
        "cgroup",
        "--pid",
        &f.pid_arg(),
    ])
    .ok();
    let cg_text = std::fs::read_to_string(&by_cg).unwrap();
    assert!(
        cg_text.contains("group_by=\"cgroup\",group=\"/"),
        "{cg_text}"
    );
    assert!(!cg_text.contains("type=\"pss\""), "PSS only with --smaps");
    let om = dir.path().join("om.txt");
    run(&[
        "export",
        "-o",
        om.to_str().unwrap(),
        "--format",
        "openmetrics",
        "--per-pid",
        "--cmdline",
        "--pid",
        &f.pid_arg(),
    ])
    .ok();
    let om_text = std::fs::read_to_string(&om).unwrap();
    assert!(om_text.ends_with("# EOF\n"));
    assert!(om_text.contains("cmdline=\"") && om_text.contains("cmdline-marker-xyz"));
    if !require("promtool", "checking the exposition format") {
        return;
    }
    let r = run_cmd(
        Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(&file).unwrap()),
    );
    assert_eq!(r.code, 0, "promtool: {} {}", r.stdout, r.stderr);
}

#[test]
fn prometheus_scrapes_the_fixture_pss() {
    if !require("prometheus", "scraping memlink export") {
        return;
    }
    let f = Fixture::start("steady", &["6144"]);
    f.stop();
    let pid = f.pid_arg();
    let port = free_port();
    let _exporter = start_exporter(port, &pid);

    // The served text passes promtool too, in both negotiated formats.
    let (status, body) = get(port, "/metrics", "text/plain").unwrap();
    assert!(status.contains("200"), "{status}");
    assert!(body.contains(&format!("memlink_watch_slope_per_minute{{pid=\"{pid}\"")));
    if require("promtool", "checking the served metrics") {
        let mut c = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (_, om) = get(
        port,
        "/metrics",
        "application/openmetrics-text;version=1.0.0",
    )
    .unwrap();
    assert!(om.ends_with("# EOF\n"));
    let (status, _) = get(port, "/nope", "*/*").unwrap();
    assert!(status.contains("404"));

    let dir = TempDir::new("prometheus");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: memlink\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
        ),
    )
    .unwrap();
    let web = free_port();
    let _prom = Reaped(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let query = format!(
        "/api/v1/query?query=memlink_process_memory_bytes%7Bpid%3D%22{pid}%22%2Ctype%3D%22pss%22%7D"
    );
    let value = wait_for("Prometheus to scrape memlink", 60, || {
        let (_, body) = get(web, &query, "application/json")?;
        let v: Value = serde_json::from_str(&body).ok()?;
        let r = v["data"]["result"].as_array()?.first()?.clone();
        r["value"][1].as_str()?.parse::<f64>().ok()
    });
    let expected = pss_of(f.pid()) as f64;
    assert!(
        (value - expected).abs() <= 64.0 * 1024.0,
        "Prometheus says PSS {value}, smaps_rollup says {expected}"
    );
    assert!(value > 6.0 * 1024.0 * 1024.0);
    f.cont();
}

#[test]
fn export_bad_input() {
    run(&["export", "--listen", "0.0.0.0:9464"])
        .assert_error(&["not a loopback", "--allow-remote"]);
    run(&["export", "--listen", "nowhere"]).assert_error(&["invalid --listen"]);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    run(&["export", "--listen", &addr]).assert_error(&[&addr]);
    run(&["export", "--cmdline"]).assert_error(&["--per-pid"]);
}
