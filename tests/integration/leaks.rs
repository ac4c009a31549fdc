//! `memlink leaks` against real processes with real eBPF probes.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::{self, is_root, require, require_fail, Fixture};

/// The BPF tests look at every program the kernel holds: one at a time (the audit of a
/// probed process and top's leaks key take it too).
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

#[test]
fn a_child_is_named_as_not_followed_and_an_exec_ends_the_watch() {
    if !bpf_ready() {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    for mode in [&[][..], &["--all"][..]] {
        let mut fx = Fixture::start_flags("leaky", &["-O2", "-fomit-frame-pointer"], &[]);
        let pid = fx.pid_arg();
        let mut args = vec!["--pid", &pid, "--duration", "60s", "--format", "json"];
        args.extend(mode);
        let leaks = start_leaks(&args);
        fx.send("go 3");
        assert_eq!(fx.read_line(), "done");
        fx.send("fork");
        let child = fx.read_line();
        let child: u64 = child.strip_prefix("CHILD=").unwrap().parse().unwrap();
        assert_eq!(fx.read_line(), "done");
        // The exec ends the watch by itself, long before --duration.
        fx.send("exec");
        let started = Instant::now();
        let out = leaks.wait_with_output().unwrap();
        assert!(started.elapsed() < Duration::from_secs(20), "{mode:?}");
        assert_eq!(out.status.code(), Some(0), "{mode:?}");
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
        assert_eq!(r["ended"], "target executed a new program", "{mode:?}: {r}");
        assert_eq!(r["followed"]["exec"], true);
        assert_eq!(
            r["followed"]["children_not_followed"],
            serde_json::json!([child]),
            "{mode:?}: {r}"
        );
    }
}

/// [`bpf_ready`], and the file a test needs is present (skips or fails with `missing`).
fn bpf_ready_with(file: &str, missing: &str) -> bool {
    if !bpf_ready() {
        return false;
    }
    if !std::path::Path::new(file).exists() {
        require_fail(missing);
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
                    "sys_enter",
                    "sys_exit",
                    "process_exec",
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

/// Whether any frame of `site` is in `name`.
fn has_frame(site: &serde_json::Value, name: &str) -> bool {
    site["frames"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["function"] == name))
}

/// Bytes of the sites with a frame in `name`.
fn bytes_through(sites: &[serde_json::Value], name: &str) -> u64 {
    sites
        .iter()
        .filter(|s| has_frame(s, name))
        .map(|s| s["bytes"].as_u64().unwrap())
        .sum()
}

/// The short-watch thresholds the tests judge growth with.
const SHORT_WATCH: [&str; 8] = [
    "--min-growth",
    "1MiB",
    "--min-slope",
    "1MiB",
    "--min-span",
    "1s",
    "--warmup",
    "0s",
];

/// Watches the fixture with `memlink leaks --format json` and `extra` options while it runs
/// `command`, ends the watch with Ctrl-C (it still reports) and returns the report.
fn watch_report(fx: &mut Fixture, extra: &[&str], command: &str) -> serde_json::Value {
    let mut args = vec!["--format", "json"];
    args.extend(extra);
    serde_json::from_slice(&watch_output(fx, &args, command)).expect("JSON report")
}

/// Watches the fixture with `memlink leaks` and `extra` options while it runs `command`, ends
/// the watch with Ctrl-C and returns what memlink printed.
fn watch_output(fx: &mut Fixture, extra: &[&str], command: &str) -> Vec<u8> {
    let pid = fx.pid_arg();
    let mut args = vec!["--pid", &pid, "--duration", "60s"];
    args.extend(SHORT_WATCH);
    args.extend(extra);
    let leaks = start_leaks(&args);
    fx.send(command);
    assert_eq!(fx.read_line(), "done");
    support::signal(leaks.id(), "INT");
    let out = leaks.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
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
    let rounds = 40u64;
    // Ctrl-C ends the watch early and still reports.
    let r = watch_report(&mut fx, &["--all"], &format!("go {rounds}"));
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
fn growth_mode_attributes_the_growth_to_leak_here_not_churn() {
    if !bpf_ready() || !require("bpftool", "to see that no probe stays loaded") {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let mut fx = Fixture::start_flags("leaky", &["-O2", "-fomit-frame-pointer"], &[]);
    let large: u64 = fx.var("LARGE").parse().unwrap();
    let rounds = 40u64;
    let r = watch_report(&mut fx, &["--top", "100"], &format!("go {rounds}"));
    assert_eq!(r["mode"], "growth");
    assert_eq!(r["ended"], "stopped");
    assert_eq!(
        r["probed"],
        serde_json::json!(["brk", "mmap", "mprotect", "mremap", "munmap"])
    );
    let sites = r["sites"].as_array().unwrap();
    let top = &sites[0];
    // The large blocks are mappings of their own: each one page-rounded, with malloc's header.
    assert!(has_frame(top, "leak_here"), "{top}");
    assert!(has_frame(top, "round_of_work"), "{top}");
    assert_eq!(top["count"], rounds, "{top}");
    let page = 4096;
    assert_eq!(top["bytes"], rounds * (large + 16).div_ceil(page) * page);
    assert_eq!(top["growth"]["suspected"], true, "{top}");
    let outstanding = r["outstanding_bytes"].as_u64().unwrap();
    let here = bytes_through(sites, "leak_here");
    assert!(
        here * 10 >= outstanding * 9,
        "{here} of {outstanding}: {sites:?}"
    );
    assert!(!sites.iter().any(|s| has_frame(s, "churn")), "{sites:?}");
    // What is still mapped is the process's VmData growth.
    let f = r["accounts_for"].as_f64().expect("accounts_for");
    assert!((0.9..=1.1).contains(&f), "{f}: {r}");
    assert_eq!(r["accounts_for_basis"], "vm_data");
    assert_eq!(r["leak_suspected"], true);
    assert_eq!(r["followed"]["exec"], false);
    fx.send("go 1");
    assert_eq!(fx.read_line(), "done");
    assert_eq!(memlink_programs_left(), Vec::<String>::new());
}

#[test]
fn a_watch_that_falls_behind_still_sees_the_growth_as_it_happened() {
    if !bpf_ready() {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let mut fx = Fixture::start_flags("leaky", &["-O2", "-fomit-frame-pointer"], &[]);
    let pid = fx.pid_arg();
    let mut args = vec![
        "--pid",
        &pid,
        "--duration",
        "60s",
        "--format",
        "json",
        "--top",
        "100",
    ];
    args.extend(SHORT_WATCH);
    let leaks = start_leaks(&args);
    // memlink reads nothing while the target leaks for 1.2 s, then every event at once.
    support::signal(leaks.id(), "STOP");
    fx.send("go 40");
    assert_eq!(fx.read_line(), "done");
    support::signal(leaks.id(), "CONT");
    std::thread::sleep(std::time::Duration::from_millis(300));
    support::signal(leaks.id(), "INT");
    let out = leaks.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let top = &r["sites"][0];
    assert!(has_frame(top, "leak_here"), "{top}");
    assert_eq!(top["count"], 40, "{top}");
    // The series follows the events' own times: the growth spans the 1.2 s of the rounds.
    let span = top["growth"]["span_s"].as_f64().unwrap();
    assert!(span >= 1.0, "{top}");
    assert_eq!(top["growth"]["suspected"], true, "{top}");
    // The baseline was read before "probes attached": all of the growth is the watch's.
    let f = r["accounts_for"].as_f64().expect("accounts_for");
    assert!((0.9..=1.1).contains(&f), "{f}: {r}");
}

#[test]
fn growth_mode_sees_a_thread_arena_grow_by_mprotect() {
    if !bpf_ready() {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let mut fx = Fixture::start_flags("leaky", &["-O2", "-fomit-frame-pointer"], &[]);
    let block: u64 = fx.var("THREAD_BLOCK").parse().unwrap();
    let rounds = 200u64;
    let r = watch_report(&mut fx, &["--top", "100"], &format!("thread {rounds}"));
    let sites = r["sites"].as_array().unwrap();
    // The blocks come from the thread's arena (below the mmap threshold): the heap grows by
    // mprotect of its PROT_NONE reservation, each time in leak_in_thread's malloc.
    let through = bytes_through(sites, "leak_in_thread");
    assert!(
        through * 10 >= rounds * block * 9,
        "{through} < 90% of {}: {sites:?}",
        rounds * block
    );
    let grower = sites
        .iter()
        .filter(|s| has_frame(s, "leak_in_thread"))
        .max_by_key(|s| s["bytes"].as_u64())
        .unwrap();
    assert_eq!(function(grower, 0), "mprotect", "{grower}");
    assert_eq!(grower["growth"]["suspected"], true, "{grower}");
    assert!(!sites.iter().any(|s| has_frame(s, "churn")), "{sites:?}");
}

/// The messages of pprof's `profile.proto` the test reads, declared here so that the check
/// does not share memlink's own declarations.
mod pprof {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        #[prost(uint64, tag = "1")]
        pub id: u64,
        #[prost(int64, tag = "2")]
        pub name: i64,
    }
}

#[test]
fn pprof_profile_decodes_with_leak_here_in_use_exactly() {
    use prost::Message;
    use std::io::Read;
    if !bpf_ready() {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let mut fx = Fixture::start_flags("leaky", &["-O2", "-fomit-frame-pointer"], &[]);
    let large: u64 = fx.var("LARGE").parse().unwrap();
    let rounds = 20u64;
    let gz = watch_output(
        &mut fx,
        &["--all", "--format", "pprof"],
        &format!("go {rounds}"),
    );
    assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .expect("gunzip");
    let p = pprof::Profile::decode(&raw[..]).expect("profile.proto");
    let s = |i: i64| p.string_table[i as usize].as_str();
    assert_eq!(p.string_table[0], "");
    let types: Vec<(&str, &str)> = p
        .sample_type
        .iter()
        .map(|t| (s(t.r#type), s(t.unit)))
        .collect();
    assert_eq!(
        types,
        [
            ("inuse_space", "bytes"),
            ("inuse_objects", "count"),
            ("alloc_space", "bytes")
        ]
    );
    let name_of_location = |id: u64| {
        let l = p.location.iter().find(|l| l.id == id).expect("location");
        let f = p
            .function
            .iter()
            .find(|f| f.id == l.line[0].function_id)
            .expect("function");
        s(f.name)
    };
    let leak: Vec<&pprof::Sample> = p
        .sample
        .iter()
        .filter(|x| name_of_location(x.location_id[0]) == "leak_here")
        .collect();
    assert_eq!(leak.len(), 2, "{:?}", p.sample);
    // The large blocks' site: exact bytes and count, allocated as much as is in use.
    assert_eq!(
        leak[0].value,
        [
            (rounds * large) as i64,
            rounds as i64,
            (rounds * large) as i64
        ]
    );
    assert_eq!(name_of_location(leak[0].location_id[1]), "round_of_work");
    assert!(!p
        .sample
        .iter()
        .any(|x| name_of_location(x.location_id[0]) == "churn"));
}

#[test]
fn svg_flame_graph_is_xml_naming_leak_here() {
    if !bpf_ready() || !require("python3", "to parse the SVG as XML") {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let mut fx = Fixture::start_flags("leaky", &["-O2", "-fomit-frame-pointer"], &[]);
    let svg = watch_output(&mut fx, &["--format", "svg"], "go 20");
    let path = fx.dir.path().join("leaks.svg");
    std::fs::write(&path, &svg).unwrap();
    // Python's own XML parser: the root is an svg element, and a frame's title names leak_here.
    let check = support::run_cmd(std::process::Command::new("python3").args([
        "-c",
        "import sys, xml.etree.ElementTree as E\n\
         r = E.parse(sys.argv[1]).getroot()\n\
         assert r.tag == '{http://www.w3.org/2000/svg}svg', r.tag\n\
         t = [e.text or '' for e in r.iter('{http://www.w3.org/2000/svg}title')]\n\
         print(sum('leak_here' in x for x in t))",
        &path.to_string_lossy(),
    ]));
    assert_eq!(check.code, 0, "{}", check.stderr);
    assert!(
        check.stdout.trim().parse::<u32>().unwrap() >= 1,
        "{}",
        String::from_utf8_lossy(&svg)
    );
}

/// Exact mode's report on the leaky fixture built with `flags` (another allocator, static).
fn exact_on_leaky_built_with(flags: &[&str]) -> (serde_json::Value, u64, u64) {
    let mut fx = Fixture::start_flags("leaky", flags, &[]);
    let large: u64 = fx.var("LARGE").parse().unwrap();
    let rounds = 30u64;
    let r = watch_report(&mut fx, &["--all"], &format!("go {rounds}"));
    (r, large, rounds)
}

/// The top site is leak_here's large blocks, exactly, and churn (all freed) is absent.
#[track_caller]
fn leak_here_found_exactly(r: &serde_json::Value, large: u64, rounds: u64) {
    let sites = r["sites"].as_array().unwrap();
    let top = &sites[0];
    assert!(has_frame(top, "leak_here"), "{top}");
    assert!(has_frame(top, "round_of_work"), "{top}");
    assert_eq!(top["bytes"], rounds * large, "{top}");
    assert_eq!(top["count"], rounds, "{top}");
    assert!(!sites.iter().any(|s| has_frame(s, "churn")), "{sites:?}");
}

#[test]
fn exact_mode_on_jemalloc_names_it_and_finds_the_leak() {
    if !bpf_ready_with(
        "/usr/lib/x86_64-linux-gnu/libjemalloc.so",
        "libjemalloc-dev is not installed (the jemalloc fixture links -ljemalloc)",
    ) {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let (r, large, rounds) =
        exact_on_leaky_built_with(&["-O2", "-fomit-frame-pointer", "-ljemalloc"]);
    assert_eq!(r["allocator"], "jemalloc", "{r}");
    assert!(
        r["allocator_object"]
            .as_str()
            .unwrap()
            .contains("libjemalloc.so"),
        "{r}"
    );
    let probed = r["probed"].to_string();
    for free_path in ["\"free\"", "\"sdallocx\"", "\"dallocx\""] {
        assert!(probed.contains(free_path), "{probed}");
    }
    leak_here_found_exactly(&r, large, rounds);
}

#[test]
fn exact_mode_on_a_static_binary_probes_its_own_malloc() {
    if !bpf_ready_with(
        "/usr/lib/x86_64-linux-gnu/libc.a",
        "libc6-dev's libc.a is missing (the static fixture links -static)",
    ) {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let (r, large, rounds) = exact_on_leaky_built_with(&["-O2", "-fomit-frame-pointer", "-static"]);
    // glibc's malloc, linked into the executable.
    assert_eq!(r["allocator"], "glibc", "{r}");
    assert!(
        r["allocator_object"].as_str().unwrap().ends_with("/leaky"),
        "{r}"
    );
    leak_here_found_exactly(&r, large, rounds);
}

/// A fixture process that is not built by `support::build_c` (C++, Python): killed when
/// dropped.
struct Other {
    child: Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Other {
    fn start(cmd: &mut std::process::Command) -> Other {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start fixture");
        let out = support::wait_ready(&mut child);
        Other { child, out }
    }

    /// Exact mode's report while the fixture runs `command`.
    fn exact_report(&mut self, command: &str) -> serde_json::Value {
        use std::io::Write;
        let pid = self.child.id().to_string();
        let mut args = vec![
            "--pid",
            &pid,
            "--all",
            "--duration",
            "60s",
            "--format",
            "json",
        ];
        args.extend(SHORT_WATCH);
        let leaks = start_leaks(&args);
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        self.out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "done");
        support::signal(leaks.id(), "INT");
        let out = leaks.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        serde_json::from_slice(&out.stdout).expect("JSON report")
    }
}

impl Drop for Other {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn exact_mode_sees_cpp_new_and_delete() {
    if !bpf_ready() || !require("c++", "to build the C++ fixture") {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/programs/leaky_cpp.cpp");
    let dir = support::tempdir::TempDir::new("leaky_cpp");
    let bin = dir.path().join("leaky_cpp");
    let built = std::process::Command::new("c++")
        .args(["-O2", "-fomit-frame-pointer", "-g", "-o"])
        .arg(&bin)
        .arg(&src)
        .status()
        .expect("run c++");
    assert!(built.success());
    let mut fx = Other::start(&mut std::process::Command::new(&bin));
    let rounds = 30u64;
    let r = fx.exact_report(&format!("go {rounds}"));
    assert_eq!(r["allocator"], "glibc", "{r}");
    // operator new and delete go through malloc and free: every delete is seen, so churn's
    // objects are not outstanding.
    let sites = r["sites"].as_array().unwrap();
    let top = &sites[0];
    assert!(has_frame(top, "leak_here"), "{top}");
    assert_eq!(top["bytes"], rounds * 200_000, "{top}");
    assert_eq!(top["count"], rounds, "{top}");
    assert!(!sites.iter().any(|s| has_frame(s, "churn")), "{sites:?}");
    assert!(r["frees"].as_u64().unwrap() >= rounds * 2000, "{r}");
}

#[test]
fn exact_mode_names_pythons_allocation_path_and_accounts_for_its_growth() {
    let python = "/usr/bin/python3";
    if !bpf_ready_with(python, "Debian's python3 is not installed") {
        return;
    }
    let _g = BPF.lock().unwrap_or_else(|e| e.into_inner());
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/programs/leaky.py");
    let mut fx = Other::start(std::process::Command::new(python).arg(&script));
    let n = 2000u64;
    let block = 4000u64;
    let r = fx.exact_report(&format!("go {n}"));
    // Debian's python3 is a non-PIE executable whose undefined `malloc` has an address (its
    // PLT entry): that is no definition, the allocator is libc's.
    assert_eq!(r["allocator"], "glibc", "{r}");
    let sites = r["sites"].as_array().unwrap();
    let top = &sites[0];
    // Each bytes object is one malloc of its size plus the object header, from the
    // interpreter's allocator (PyObject_Malloc, in libpython or the executable).
    assert!(top["count"].as_u64().unwrap() >= n, "{top}");
    assert!(top["bytes"].as_u64().unwrap() >= n * block, "{top}");
    let path = top["frames"][0].clone();
    assert!(
        path["function"]
            .as_str()
            .is_some_and(|f| f.starts_with("Py") || f.starts_with("_Py")),
        "{top}"
    );
    let module = path["module"].as_str().unwrap();
    assert!(
        module.contains("python3") || module.contains("libpython3"),
        "{top}"
    );
    // It accounts for the process's growth.
    let f = r["accounts_for"].as_f64().expect("accounts_for");
    assert!((0.8..=1.25).contains(&f), "{f}: {r}");
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
