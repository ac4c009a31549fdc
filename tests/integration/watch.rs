//! `watch`: real processes that grow, saw and stay still, judged by the leak rule.

use std::io::{BufRead, BufReader, Read};
use std::process::{ChildStdout, Stdio};

use serde_json::Value;

use crate::support::{memlink, run, Fixture, Run};

/// Thresholds scaled to a 3-second watch; the grower's rate (32 MiB/s) is 16 times the slope
/// threshold, so a busy machine does not make the test flaky.
const RULE: &[&str] = &[
    "--warmup",
    "0.4s",
    "--min-span",
    "2s",
    "--min-growth",
    "16MiB",
    "--min-slope",
    "120MiB",
    "--min-r2",
    "0.8",
];

fn watch(f: &Fixture, count: &str, extra: &[&str]) -> (Run, Vec<Value>, Value) {
    let pid = f.pid_arg();
    let mut args = vec![
        "watch",
        "--pid",
        &pid,
        "--interval",
        "200ms",
        "--count",
        count,
        "--format",
        "jsonl",
        "--detail-every",
        "5",
    ];
    args.extend_from_slice(RULE);
    args.extend_from_slice(extra);
    let r = run(&args);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let mut lines: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let verdict = lines.pop().unwrap();
    assert_eq!(verdict["type"], "verdict");
    (r, lines, verdict)
}

fn component<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

#[test]
fn growing_heap_is_a_suspected_leak_in_heap() {
    let f = Fixture::start("grower", &["32768"]);
    let (r, samples, v) = watch(&f, "16", &["--fail-on-leak"]);
    assert_eq!(r.code, 1, "--fail-on-leak exits 1: {v}");
    assert_eq!(samples.len(), 16);
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(s["type"], "sample");
        assert_eq!(s["seq"].as_u64().unwrap(), i as u64);
        assert_eq!(s["pid"].as_u64().unwrap(), f.pid() as u64);
        for k in [
            "rss", "pss", "uss", "swap", "anon", "file", "shmem", "mappings",
        ] {
            assert!(s[k].is_u64(), "{k} in {s}");
        }
        assert!(s["t"].is_f64() && s["time"].as_f64().unwrap() > 1.6e9);
        // The per-region view every 5 samples and on the last.
        assert_eq!(s["stacks"].is_u64(), i % 5 == 0 || i == 15, "{s}");
    }
    assert!(samples[15]["t"].as_f64().unwrap() >= 2.9);
    assert_eq!(v["leak_suspected"], true, "{v}");
    let anon = component(&v, "anon");
    assert_eq!(anon["suspected"], true, "{anon}");
    assert!(anon["r2"].as_f64().unwrap() > 0.9);
    assert!(anon["slope_per_min"].as_f64().unwrap() > 120.0 * 1048576.0);
    for other in ["file", "shmem", "stacks", "mappings"] {
        assert_eq!(component(&v, other)["suspected"], false, "{other}: {v}");
    }
    assert_eq!(v["grew"][0]["what"], "[heap]", "{v}");
    assert!(v["grew"][0]["delta"].as_i64().unwrap() > 32 << 20);
    let s = v["suggestion"].as_str().unwrap();
    assert!(s.contains(&format!("memlink leaks --pid {}", f.pid())));
}

#[test]
fn sawtooth_and_steady_are_not_leaks() {
    for (name, args) in [("sawtooth", vec!["100", "10"]), ("steady", vec!["8192"])] {
        let f = Fixture::start(name, &args);
        let (r, samples, v) = watch(&f, "21", &["--fail-on-leak"]);
        assert_eq!(r.code, 0, "{name}: {v}");
        assert_eq!(samples.len(), 21);
        assert_eq!(v["leak_suspected"], false, "{name}: {v}");
        assert!(v["suggestion"].as_str().unwrap().contains("no leak"));
        if name == "sawtooth" {
            // It did move: the rule is what keeps it out.
            let anon: Vec<u64> = samples
                .iter()
                .map(|s| s["anon"].as_u64().unwrap())
                .collect();
            let (lo, hi) = (anon.iter().min().unwrap(), anon.iter().max().unwrap());
            assert!(hi - lo > 16 << 20, "sawtooth moved {lo}..{hi}");
        }
    }
}

/// Starts `memlink ARGS` and waits for its first line of output.
fn spawn_and_wait_first_line(
    args: &[&str],
) -> (std::process::Child, BufReader<ChildStdout>, String) {
    let mut child = memlink()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert!(!first.is_empty(), "memlink printed nothing");
    (child, out, first)
}

#[test]
fn text_output_and_ctrl_c_still_give_a_verdict() {
    let f = Fixture::start("steady", &["1024"]);
    let pid = f.pid_arg();
    let (mut child, mut out, first) = spawn_and_wait_first_line(&[
        "watch",
        "--pid",
        &pid,
        "--interval",
        "100ms",
        "--duration",
        "10m",
    ]);
    assert!(first.contains("rss") && first.contains("maps"), "{first}");
    crate::support::signal(child.id(), "INT");
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest}");
    // Stopped long before the default 60 s span: it cannot tell, and says so.
    assert!(rest.contains("Verdict: inconclusive (judged"), "{rest}");
    assert!(rest.contains("Next:"));
}

#[test]
fn watch_ends_when_the_process_exits() {
    let mut f = Fixture::start("steady", &["1024"]);
    let pid = f.pid_arg();
    let (mut child, mut out, first) = spawn_and_wait_first_line(&[
        "watch",
        "--pid",
        &pid,
        "--interval",
        "100ms",
        "--count",
        "1000",
        "--format",
        "jsonl",
    ]);
    assert!(first.contains("\"type\":\"sample\""), "{first}");
    let _ = f.child.kill();
    let _ = f.child.wait();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    // Killed long before the default 60 s span: the verdict is printed, and the exit is 2.
    assert_eq!(child.wait().unwrap().code(), Some(2), "{err}");
    assert!(
        rest.lines()
            .last()
            .unwrap()
            .contains("\"type\":\"verdict\""),
        "{rest}"
    );
    assert!(err.contains("exited"), "{err}");
}

#[test]
fn watch_bad_input() {
    let f = Fixture::start("steady", &["64"]);
    let pid = f.pid_arg();
    run(&["watch", "--pid", &pid, "--interval", "0"]).assert_error(&["--interval"]);
    run(&["watch", "--pid", &pid, "--interval", "0ms"]).assert_error(&["--interval"]);
    run(&["watch", "--pid", &pid, "--interval", "fast"]).assert_error(&["invalid duration"]);
    run(&["watch", "--pid", &pid, "--count", "0"]).assert_error(&["--count"]);
    run(&["watch", "--pid", &pid, "--min-r2", "2", "--count", "1"]).assert_error(&["--min-r2"]);
    run(&["watch", "--pid", &pid, "--count", "2", "--duration", "1s"])
        .assert_error(&["cannot be used with"]);
    run(&["watch", "--pid", "4194000", "--count", "1"]).assert_error(&["4194000"]);
}

#[test]
fn samples_name_their_sources_and_keep_the_rollup_budget() {
    let f = Fixture::start("steady", &["65536"]);
    let (_, samples, _) = watch(&f, "3", &["--rollup-budget", "0.1ms"]);
    assert_eq!(samples.len(), 3);
    for s in &samples {
        // Over the budget: RSS and its split from status every sample, no rollup read yet.
        assert_eq!(s["sources"]["rss"]["source"], "status", "{s}");
        assert_eq!(s["pss"], Value::Null, "{s}");
        assert_eq!(s["rollup_read_s"], Value::Null, "{s}");
        assert!(s["rss"].as_u64().unwrap() >= 64 << 20, "{s}");
        assert!(s["anon"].as_u64().unwrap() >= 64 << 20, "{s}");
    }
    // The default budget (5 ms) fits the estimate of 64 MiB: the first sample reads the rollup.
    // Later ones read it again or, when the measured read was over the budget, show that
    // figure with its age; never a PSS above the RSS of now.
    let (_, samples, _) = watch(&f, "3", &[]);
    assert_eq!(samples[0]["sources"]["pss"]["age_s"], 0.0, "{}", samples[0]);
    assert!(samples[0]["rollup_read_s"].as_f64().unwrap() > 0.0);
    for s in &samples {
        assert_eq!(s["sources"]["pss"]["source"], "smaps_rollup", "{s}");
        let fresh = s["sources"]["pss"]["age_s"].as_f64().unwrap() == 0.0;
        assert_eq!(fresh, s["rollup_read_s"].is_f64(), "{s}");
        let pss = s["pss"].as_u64().unwrap();
        assert!(pss >= 64 << 20 && pss <= s["rss"].as_u64().unwrap(), "{s}");
    }
}
