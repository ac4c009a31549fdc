//! `memlink leaks` against real processes with real eBPF probes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::{self, is_root, require, require_fail, Fixture};

/// The BPF tests look at every program the kernel holds: one at a time (the audit of a
/// probed process takes it too).
pub(crate) static BPF: Mutex<()> = Mutex::new(());

/// Whether this machine can run the probes (root, uprobe PMU); skips or fails otherwise.
fn bpf_ready() -> bool {
    if !is_root() {
        require_fail("memlink leaks needs root (CAP_BPF + CAP_PERFMON)");
        return false;
    }
    if !std::path::Path::new("/sys/bus/event_source/devices/uprobe/type").exists() {
        require_fail("the kernel has no uprobe PMU");
        return false;
    }
    true
}

/// Starts `memlink leaks ARGS` and waits until its probes are attached.
fn start_leaks(args: &[&str]) -> Child {
    let mut child = support::memlink()
        .arg("leaks")
        .args(args)
        .env("MEMLINK_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start memlink leaks");
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap_or(0) == 0 {
            let out = child.wait_with_output().unwrap();
            panic!(
                "memlink leaks ended before attaching: {seen}{}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        seen.push_str(&line);
        if line.contains("probes attached") {
            break;
        }
    }
    // Keep draining stderr so memlink never blocks on it.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while err.read_line(&mut sink).unwrap_or(0) > 0 {
            sink.clear();
        }
    });
    child
}

/// Names of memlink's programs still loaded in the kernel (waits up to 10 s for them to go).
fn memlink_programs_left() -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = std::process::Command::new("bpftool")
            .args(["prog", "show"])
            .output()
            .expect("run bpftool");
        let text = String::from_utf8_lossy(&out.stdout);
        let left: Vec<String> = text
            .lines()
            .filter(|l| {
                [
                    "malloc_enter",
                    "alloc_return",
                    "free_enter",
                    "posix_memalign_return",
                ]
                .iter()
                .any(|n| l.contains(&format!("name {n} ")))
            })
            .map(str::to_string)
            .collect();
        if left.is_empty() || Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn function(site: &serde_json::Value, i: usize) -> &str {
    site["frames"][i]["function"].as_str().unwrap_or("-")
}

#[test]
fn exact_mode_names_the_leak_its_caller_and_its_exact_bytes() {
    if !bpf_ready() || !require("bpftool", "to see that no probe stays loaded") {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let mut fx = Fixture::start_flags("leaky", &["-O2", "-fomit-frame-pointer"], &[]);
    let small: u64 = fx.var("SMALL").parse().unwrap();
    let large: u64 = fx.var("LARGE").parse().unwrap();
    let pid = fx.pid_arg();
    let leaks = start_leaks(&[
        "--pid",
        &pid,
        "--all",
        "--duration",
        "60s",
        "--format",
        "json",
        "--min-growth",
        "1MiB",
        "--min-slope",
        "1MiB",
        "--min-span",
        "1s",
        "--warmup",
        "0s",
    ]);
    let rounds = 40u64;
    fx.send(&format!("go {rounds}"));
    assert_eq!(fx.read_line(), "done");
    // Ctrl-C ends the watch early and still reports.
    support::signal(leaks.id(), "INT");
    let out = leaks.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(r["allocator"], "glibc");
    assert_eq!(r["ended"], "stopped");
    let sites = r["sites"].as_array().unwrap();
    let top = &sites[0];
    assert_eq!(function(top, 0), "leak_here", "{top}");
    assert_eq!(function(top, 1), "round_of_work", "{top}");
    // Its two malloc calls are two sites (two return addresses), the large one first.
    let here: Vec<&serde_json::Value> = sites
        .iter()
        .filter(|s| function(s, 0) == "leak_here")
        .collect();
    assert_eq!(here.len(), 2, "{sites:?}");
    assert_eq!(top["count"], rounds);
    assert_eq!(top["bytes"], rounds * large);
    assert_eq!(here[1]["count"], rounds);
    assert_eq!(here[1]["bytes"], rounds * small);
    assert_eq!(function(here[1], 1), "round_of_work");
    assert_eq!(top["bytes_stderr"], 0);
    assert_eq!(top["growth"]["suspected"], true, "{top}");
    assert!(
        !sites.iter().any(|s| function(s, 0) == "churn"),
        "churn frees everything: {sites:?}"
    );
    let cache = sites
        .iter()
        .find(|s| function(s, 0) == "cache_once")
        .expect("cache_once is outstanding");
    assert_eq!(cache["count"], 20);
    assert_eq!(cache["bytes"], 20 * 4096);
    assert_eq!(cache["growth"]["suspected"], false, "{cache}");
    assert_eq!(r["leak_suspected"], true);
    // churn's 1000 frees a round were all seen.
    assert!(r["frees"].as_u64().unwrap() >= rounds * 1000);
    // The target runs on, and no probe of memlink's stays behind.
    fx.send("go 1");
    assert_eq!(fx.read_line(), "done");
    assert_eq!(memlink_programs_left(), Vec::<String>::new());
}

#[test]
fn killed_mid_run_leaves_no_probe_and_the_target_running() {
    if !bpf_ready() || !require("bpftool", "to see that no probe stays loaded") {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let mut fx = Fixture::start_flags("leaky", &["-O2", "-fomit-frame-pointer"], &[]);
    let pid = fx.pid_arg();
    let mut leaks = start_leaks(&["--pid", &pid, "--all", "--duration", "60s"]);
    fx.send("go 5");
    assert_eq!(fx.read_line(), "done");
    assert!(
        !memlink_programs_now().is_empty(),
        "probes are loaded while it runs"
    );
    leaks.kill().unwrap();
    leaks.wait().unwrap();
    assert_eq!(memlink_programs_left(), Vec::<String>::new());
    fx.send("go 1");
    assert_eq!(fx.read_line(), "done");
}

/// memlink's programs loaded right now.
fn memlink_programs_now() -> Vec<String> {
    let out = std::process::Command::new("bpftool")
        .args(["prog", "show"])
        .output()
        .expect("run bpftool");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("name malloc_enter "))
        .map(str::to_string)
        .collect()
}

#[test]
fn growth_mode_says_it_is_not_implemented() {
    let fx = Fixture::start("leaky", &[]);
    let r = support::run(&["leaks", "--pid", &fx.pid_arg(), "--duration", "1s"]);
    if !is_root() {
        assert_eq!(r.code, 2);
        return;
    }
    r.assert_error(&["growth mode", "not implemented", "--all"]);
}

#[test]
fn bad_arguments_are_one_line_errors() {
    for args in [
        &["leaks", "--pid", "0", "--all"][..],
        &["leaks", "--pid", "1", "--all", "--duration", "0s"],
        &["leaks", "--pid", "1", "--all", "--top", "0"],
        &["leaks", "--pid", "4194304", "--all"],
    ] {
        let r = support::run(args);
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(r.stderr.starts_with("memlink: "), "{args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr.trim_end().lines().count(),
            1,
            "{args:?}: {}",
            r.stderr
        );
    }
}
