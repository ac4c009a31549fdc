//! `memlink search` against the `needles` fixture, which plants a 16-byte needle at printed
//! addresses (heap, across a chunk boundary, across a parallel-scan segment boundary, one byte
//! before a region's end, in a thread stack): search must report exactly those.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::support::{run, Fixture};

const NEEDLE: &str = "MLNEEDLE-7f3a9c!";

fn fixture() -> Fixture {
    Fixture::start("needles", &["{dir}"])
}

fn planted(f: &Fixture) -> BTreeSet<u64> {
    f.vars["needle"]
        .iter()
        .map(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap())
        .collect()
}

fn search_json(f: &Fixture, extra: &[&str]) -> Vec<Value> {
    let pid = f.pid_arg();
    let mut args = vec!["search", "--pid", &pid, "--format", "json"];
    args.extend_from_slice(extra);
    run(&args).json().as_array().unwrap().clone()
}

fn addresses(matches: &[Value]) -> Vec<u64> {
    matches
        .iter()
        .map(|m| m["address"].as_u64().unwrap())
        .collect()
}

#[test]
fn finds_exactly_the_planted_needles() {
    let f = fixture();
    let want = planted(&f);
    assert_eq!(want.len(), 5);
    let matches = search_json(&f, &["--text", NEEDLE]);
    let got = addresses(&matches);
    assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), want);
    assert_eq!(got.len(), want.len(), "each needle exactly once: {got:x?}");
    for m in &matches {
        let a = m["address"].as_u64().unwrap();
        let start = m["region_start"].as_u64().unwrap();
        assert_eq!(m["offset"].as_u64().unwrap(), a - start);
        assert_eq!(m["pattern"], format!("text:{NEEDLE}"));
        assert!(m["context"]
            .as_str()
            .unwrap()
            .starts_with("4d4c4e4545444c452d3766336139632"));
    }
    // The thread-stack needle is in a ThreadStack region; the last one ends 1 byte before its
    // region's end.
    let stack = f.vars["needle"].last().unwrap();
    let m = matches
        .iter()
        .find(|m| m["address_hex"] == stack.as_str())
        .unwrap();
    assert_eq!(m["region_type"], "ThreadStack");
    let big_end = f.addr("big") + f.var("big_len").parse::<u64>().unwrap();
    assert!(matches
        .iter()
        .any(|m| m["address"].as_u64().unwrap() + 17 == big_end
            && m["region_end"].as_u64().unwrap() == big_end));
}

#[test]
fn text_output_and_exit_codes() {
    let f = fixture();
    let pid = f.pid_arg();
    let r = run(&["search", "--pid", &pid, "--text", NEEDLE]);
    let out = r.ok();
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("0x")).collect();
    assert_eq!(lines.len(), 5, "{out}");
    assert!(lines
        .iter()
        .any(|l| l.contains("[heap]+0x") && l.contains("|MLNEEDLE-7f3a9c!|")));
    assert!(out.contains("5 matches"), "{out}");
    // Nothing found: exit 1 (grep's convention).
    let r = run(&["search", "--pid", &pid, "--text", "MLNEEDLE-absent!"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    // --max stops early.
    let r = run(&[
        "search", "--pid", &pid, "--text", NEEDLE, "--max", "2", "--format", "json",
    ]);
    let lowest: Vec<u64> = planted(&f).into_iter().take(2).collect();
    assert_eq!(
        addresses(r.json().as_array().unwrap()),
        lowest,
        "the 2 lowest, in order"
    );
}

#[test]
fn several_patterns_in_one_pass() {
    let f = fixture();
    let matches = search_json(
        &f,
        &["--hex", "4d 4c 4e ?? 45 44 4c 45 2d", "--utf16", "MLwide"],
    );
    let hex: BTreeSet<u64> = matches
        .iter()
        .filter(|m| m["pattern_index"] == 0)
        .map(|m| m["address"].as_u64().unwrap())
        .collect();
    assert_eq!(hex, planted(&f));
    let wide: Vec<u64> = matches
        .iter()
        .filter(|m| m["pattern"] == "utf16:MLwide")
        .map(|m| m["address"].as_u64().unwrap())
        .collect();
    assert_eq!(wide, [f.addr("wide")]);
}

#[test]
fn typed_values_endianness_and_alignment() {
    let f = fixture();
    let v = f.addr("values");
    let range = format!("{:#x}-{:#x}", v, v + 4096);
    let got = |extra: &[&str]| {
        let mut a = vec!["--range", range.as_str()];
        a.extend_from_slice(extra);
        addresses(&search_json(&f, &a))
    };
    assert_eq!(got(&["--u64", "0x1122334455667788"]), [v + 8, v + 17]);
    assert_eq!(got(&["--u64", "0x1122334455667788", "--aligned"]), [v + 8]);
    assert_eq!(
        got(&["--u64", "1234605616436508552", "--big-endian"]),
        [v + 32]
    );
    assert_eq!(got(&["--i64", "1234605616436508552", "--aligned"]), [v + 8]);
}

#[test]
fn region_filters() {
    let f = fixture();
    let stack = f.vars["needle"].last().unwrap().clone();
    let m = search_json(&f, &["--text", NEEDLE, "--type", "threadstack"]);
    assert_eq!(addresses(&m), [f.addr_of(&stack)]);
    let m = search_json(&f, &["--text", NEEDLE, "--type", "heap"]);
    assert_eq!(addresses(&m), [*planted(&f).first().unwrap()]);
    let pid = f.pid_arg();
    // Nothing executable holds the needle.
    let r = run(&["search", "--pid", &pid, "--text", NEEDLE, "--perms", "r-x"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    // A file-backed hit reads as file+offset: the program's own ELF header.
    let m = search_json(&f, &["--hex", "7f 45 4c 46 02 01 01", "--perms", "r--p"]);
    let own = m
        .iter()
        .find(|m| {
            m["region_name"]
                .as_str()
                .is_some_and(|n| n.ends_with("/needles"))
        })
        .expect("the fixture's ELF header");
    assert_eq!(own["file_offset"], 0);
    let r = run(&[
        "search",
        "--pid",
        &pid,
        "--hex",
        "7f 45 4c 46 02 01 01",
        "--perms",
        "r--p",
    ]);
    assert!(r.ok().contains("needles+0x0 "), "{}", r.stdout);
}

#[test]
fn resident_only_still_finds_touched_needles() {
    let f = fixture();
    let got: BTreeSet<u64> = addresses(&search_json(&f, &["--text", NEEDLE, "--resident-only"]))
        .into_iter()
        .collect();
    assert_eq!(got, planted(&f));
    // Most of the 40 MiB region was never touched: it is skipped, not read.
    let pid = f.pid_arg();
    let r = run(&["search", "--pid", &pid, "--text", NEEDLE, "--resident-only"]);
    let summary = r.ok().lines().last().unwrap().to_string();
    assert!(summary.contains("not resident skipped"), "{summary}");
}

#[test]
fn bad_patterns_and_ranges() {
    let f = fixture();
    let pid = f.pid_arg();
    let s = |extra: &[&str]| {
        let mut a = vec!["search", "--pid", pid.as_str()];
        a.extend_from_slice(extra);
        run(&a)
    };
    s(&["--hex", "abc"]).assert_error(&["odd number of hex digits"]);
    s(&["--hex", "???"]).assert_error(&["odd number"]);
    s(&["--hex", "?? ??"]).assert_error(&["no fixed byte"]);
    s(&["--hex", ""]).assert_error(&["empty"]);
    s(&["--hex", "zz"]).assert_error(&["\"zz\""]);
    s(&["--text", ""]).assert_error(&["empty"]);
    s(&["--u8", "256"]).assert_error(&["out of range for u8"]);
    s(&["--i16", "-40000"]).assert_error(&["out of range for i16"]);
    s(&["--u32", "-1"]).assert_error(&["out of range for u32"]);
    s(&["--f32", "abc"]).assert_error(&["not a number"]);
    s(&[]).assert_error(&["no pattern"]);
    s(&["--text", "x", "--range", "1000-2000"]).assert_error(&["0x1000-0x2000", "not mapped"]);
    s(&["--text", "x", "--range", "2000-1000"]).assert_error(&["end must be above"]);
    s(&["--text", "x", "--type", "bogus"]).assert_error(&["unknown region type"]);
    s(&["--text", "x", "--perms", "rwz"]).assert_error(&["permission filter"]);
    s(&["--text", "x", "--max", "0"]).assert_error(&["--max"]);
}

#[test]
fn process_exiting_mid_scan_is_reported() {
    let mut f = Fixture::start("bigmem", &["768"]);
    let pid = f.pid_arg();
    let child = crate::support::memlink()
        .args(["search", "--pid", &pid, "--text", NEEDLE])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(150));
    let _ = f.child.kill();
    let _ = f.child.wait();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("process {pid} exited while it was being searched"))
            || stderr.contains("does not exist"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
}

/// A procfs root other than `/proc` that reaches the live fixture: a directory holding
/// `PID -> /proc/PID`. memlink then reads `ROOT/PID/mem`, not `process_vm_readv`.
fn linked_proc_root(f: &Fixture) -> String {
    let root = f.dir.path().join("procroot");
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(format!("/proc/{}", f.pid()), root.join(f.pid_arg())).unwrap();
    root.to_str().unwrap().to_string()
}

#[test]
fn proc_root_other_than_proc_is_searched() {
    let f = fixture();
    let pid = f.pid_arg();
    let root = linked_proc_root(&f);
    let args = [
        "search", "--pid", &pid, "--text", NEEDLE, "--format", "json",
    ];
    let mut through_root = vec!["--proc-root", &root];
    through_root.extend_from_slice(&args);
    let found = run(&through_root).json();
    assert_eq!(
        addresses(found.as_array().unwrap())
            .into_iter()
            .collect::<BTreeSet<_>>(),
        planted(&f)
    );
    assert_eq!(
        found,
        run(&args).json(),
        "the same matches as through /proc"
    );

    // A root where the process is not: an error naming it, nothing searched.
    let empty = f.dir.path().join("emptyroot");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.to_str().unwrap();
    run(&[
        "--proc-root",
        empty,
        "search",
        "--pid",
        &pid,
        "--text",
        NEEDLE,
    ])
    .assert_error(&[&pid, "does not exist"]);
}

/// The `search_context` fixture's needle (12 bytes, so `context` holds 4 bytes after it).
const CTX_NEEDLE: &str = "MLCTXq81zK0!";

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn context_fixture() -> Fixture {
    Fixture::start("search_context", &["{dir}"])
}

/// The match at the fixture's address `key`.
fn match_at<'a>(f: &Fixture, matches: &'a [Value], key: &str) -> &'a Value {
    let a = f.addr(key);
    matches
        .iter()
        .find(|m| m["address"].as_u64() == Some(a))
        .unwrap_or_else(|| panic!("no match at {key} ({a:#x}): {matches:?}"))
}

#[test]
fn context_before_and_after_are_clipped_to_the_region() {
    let f = context_fixture();
    let matches = search_json(&f, &["--text", CTX_NEEDLE]);
    assert_eq!(matches.len(), 3, "{matches:?}");
    // `context` keeps its meaning: the match and the bytes after it, 16 in all.
    let middle = match_at(&f, &matches, "middle");
    assert_eq!(
        middle["context"],
        hex_of(&format!("{CTX_NEEDLE}ghij")),
        "{middle}"
    );
    assert_eq!(middle["context_before"], hex_of("0123456789abcdef"));
    assert_eq!(middle["context_after"], hex_of("ghijklmnopqrstuv"));
    // At a region's first byte there is nothing before; at its last, nothing after.
    let start = match_at(&f, &matches, "start");
    assert_eq!(start["context_before"], "");
    assert_eq!(start["context_after"], hex_of("AFTER-START-0123"));
    let end = match_at(&f, &matches, "end");
    assert_eq!(end["context_before"], hex_of("BEFORE-SHARED-16"));
    assert_eq!(end["context_after"], "");
    assert_eq!(end["region_end"].as_u64().unwrap(), f.addr("end") + 12);

    // --context N: N bytes each side, clipped to the region (the middle needle is 200 bytes
    // above the region's start, where the first needle is).
    let matches = search_json(&f, &["--text", CTX_NEEDLE, "--context", "4"]);
    let middle = match_at(&f, &matches, "middle");
    assert_eq!(middle["context_before"], hex_of("cdef"));
    assert_eq!(middle["context_after"], hex_of("ghij"));
    assert_eq!(middle["context"], hex_of(&format!("{CTX_NEEDLE}ghij")));
    let matches = search_json(&f, &["--text", CTX_NEEDLE, "--context", "300"]);
    let middle = match_at(&f, &matches, "middle");
    let before = middle["context_before"].as_str().unwrap();
    assert_eq!(before.len(), 2 * 200, "{before}");
    assert!(before.starts_with(&hex_of(CTX_NEEDLE)), "{before}");
    assert!(before.ends_with(&hex_of("0123456789abcdef")), "{before}");
    let end = match_at(&f, &matches, "end");
    assert_eq!(end["context_after"], "");
    assert_eq!(end["context_before"].as_str().unwrap().len(), 2 * 300);
    let matches = search_json(&f, &["--text", CTX_NEEDLE, "--context", "0"]);
    assert_eq!(match_at(&f, &matches, "middle")["context_before"], "");
    assert_eq!(match_at(&f, &matches, "middle")["context_after"], "");

    // Text shows the bytes before and after.
    let pid = f.pid_arg();
    let r = run(&["search", "--pid", &pid, "--text", CTX_NEEDLE]);
    let out = r.ok();
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("{:#014x}", f.addr("middle"))))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("|0123456789abcdef|"), "{line}");
    assert!(line.contains("|ghijklmnopqrstuv|"), "{line}");

    // Past the maximum: one line, exit 2.
    let r = run(&[
        "search",
        "--pid",
        &pid,
        "--text",
        CTX_NEEDLE,
        "--context",
        "4097",
    ]);
    r.assert_error(&["--context", "4096"]);
    let r = run(&[
        "search",
        "--pid",
        &pid,
        "--text",
        CTX_NEEDLE,
        "--context",
        "4096",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn pattern_index_follows_the_command_line() {
    let f = context_fixture();
    let wanted = [
        ("text:MLCTXq81zK0!", 0),
        ("hex:4d 4c 43 54 58", 1),
        ("text:AFTER-START-0123", 2),
    ];
    let matches = search_json(
        &f,
        &[
            "--text",
            CTX_NEEDLE,
            "--hex",
            "4d 4c 43 54 58",
            "--text",
            "AFTER-START-0123",
        ],
    );
    for (label, index) in wanted {
        let of: Vec<&Value> = matches.iter().filter(|m| m["pattern"] == label).collect();
        assert!(!of.is_empty(), "no match of {label}: {matches:?}");
        for m in of {
            assert_eq!(m["pattern_index"], index, "{m}");
        }
    }
}

#[test]
fn control_bytes_in_file_names_are_escaped_once() {
    let f = context_fixture();
    let pid = f.pid_arg();
    let r = run(&["search", "--pid", &pid, "--text", CTX_NEEDLE]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.raw_stdout.contains(&0x1b), "raw ESC in {:?}", r.stdout);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with(&format!("{:#014x}", f.addr("end"))))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(line.contains(r"ctx\x1b\xffname+0x"), "{line}");
    assert!(!line.contains(r"\\x"), "escaped twice: {line}");
}
