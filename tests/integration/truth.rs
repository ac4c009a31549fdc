//! Figures and text that are right or say that they do not know: totals from `smaps_rollup`
//! with their source, text that cannot rewrite the terminal, a process whose main thread
//! exited, and listings of a busy multi-threaded process that do not change between two runs.

use crate::support::{run, Fixture};
use serde_json::Value;

/// Starts the `busy` fixture mapping a file called `name` (created in the fixture's folder).
fn busy(name: &[u8], spin: u32, sleep: u32, leave: bool) -> Fixture {
    use std::os::unix::ffi::OsStrExt;
    let dir = crate::support::tempdir::TempDir::new("truth");
    let path = dir.path().join(std::ffi::OsStr::from_bytes(name));
    std::fs::write(&path, b"x").unwrap();
    let f = Fixture::start(
        "busy",
        &[
            path.to_str().unwrap_or_else(|| panic!("{path:?}")),
            &spin.to_string(),
            &sleep.to_string(),
            "3",
            if leave { "1" } else { "0" },
        ],
    );
    // The file stays until the fixture's folder goes.
    std::mem::forget(dir);
    f
}

/// A kernel figure of `smaps_rollup`, in bytes.
fn rollup_kb(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no {key} in smaps_rollup"))
        * 1024
}

#[test]
fn totals_come_from_smaps_rollup_and_say_so() {
    let f = busy(b"plain", 0, 2, false);
    let pid = f.pid_arg();
    let r = run(&["analyze", "--pid", &pid, "--summary", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["total_source"], "smaps_rollup", "{v}");
    let total = &v["total"];
    let rows = &v["sum_of_regions"];
    let d = &v["total_minus_regions"];
    for k in ["rss", "pss", "uss", "swap"] {
        let (t, s) = (total[k].as_i64().unwrap(), rows[k].as_i64().unwrap());
        assert_eq!(d[k].as_i64().unwrap(), t - s, "{k}: {v}");
    }
    // The rows sum what the kernel rounded down per region: never more than the rollup.
    assert!(d["pss"].as_i64().unwrap() >= 0, "{v}");
    // The fixture's memory holds still, so the rollup read now gives the same RSS (PSS moves
    // with other processes sharing its libraries).
    assert_eq!(total["rss"].as_u64().unwrap(), rollup_kb(f.pid(), "Rss"));
    // The by-type rows sum to the sum of regions, not to the rollup.
    let by_type: i64 = v["by_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["pss"].as_i64().unwrap())
        .sum();
    assert_eq!(by_type, rows["pss"].as_i64().unwrap());

    // Text says where the total comes from and how the rows differ.
    let r = run(&["analyze", "--pid", &pid, "--summary"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("Total from smaps_rollup; total minus the sum of the rows"),
        "{}",
        r.stdout
    );

    // A snapshot keeps the same source, and the map's header names it.
    let snap = f.dir.path().join("s.json");
    let r = run(&["snapshot", "--pid", &pid, "-o", snap.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let s: Value = serde_json::from_slice(&std::fs::read(&snap).unwrap()).unwrap();
    assert_eq!(s["stats"]["total_source"], "smaps_rollup");
    let r = run(&[
        "map",
        "--snapshot",
        snap.to_str().unwrap(),
        "--color",
        "never",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("above are the kernel's (smaps_rollup)"),
        "{}",
        r.stdout
    );
    let r = run(&["analyze", "--snapshot", snap.to_str().unwrap(), "--summary"]);
    assert!(r.stdout.contains("Total from smaps_rollup"), "{}", r.stdout);
}

#[test]
fn per_region_pss_split_is_null_not_zero() {
    let f = busy(b"plain", 0, 1, false);
    let r = run(&[
        "list",
        "--pid",
        &f.pid_arg(),
        "--detailed",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let regions = v.as_array().unwrap();
    assert!(!regions.is_empty());
    for reg in regions {
        let u = &reg["usage"];
        for k in ["pss_anon", "pss_file", "pss_shmem"] {
            assert!(u[k].is_null(), "{k} of {reg}");
        }
        assert!(u["pss"].is_u64(), "{reg}");
    }
    // Snapshots with the nulls load back.
    let snap = f.dir.path().join("n.json");
    let r = run(&[
        "snapshot",
        "--pid",
        &f.pid_arg(),
        "-o",
        snap.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&[
        "analyze",
        "--snapshot",
        snap.to_str().unwrap(),
        "--format",
        "json",
        "--detailed",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("\"pss_anon\":null"),
        "{}",
        &r.stdout[..400.min(r.stdout.len())]
    );
}

/// A file name that retitles the terminal, with a tab, C1's one-byte CSI and a backslash (a
/// newline the kernel itself writes as `\012` in `maps`).
const EVIL: &[u8] = b"ev\x1b]0;owned\x07il\tline\xc2\x9b31m\\x41";

fn assert_inert(out: &[u8], what: &str) {
    let text = String::from_utf8_lossy(out);
    for c in text.chars() {
        assert!(
            !(('\u{80}'..='\u{9f}').contains(&c) || c.is_control() && c != '\n'),
            "{what}: control {c:?} printed raw:\n{text}"
        );
    }
}

#[test]
fn file_names_cannot_rewrite_the_terminal() {
    let f = busy(EVIL, 0, 1, false);
    let pid = f.pid_arg();
    let safe = r"ev\x1b]0;owned\x07il\x09line\xc2\x9b31m\\x41";
    for args in [
        vec!["list", "--pid", &pid],
        vec!["list", "--pid", &pid, "--detailed"],
        vec!["analyze", "--pid", &pid],
    ] {
        let r = run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_inert(&r.raw_stdout, &args.join(" "));
        assert!(r.stdout.contains(safe), "{args:?}:\n{}", r.stdout);
        // The escaped form reads back to the exact name.
        let line = r.stdout.lines().find(|l| l.contains(safe)).unwrap();
        let at = line.find("/").unwrap();
        let shown = line[at..].split("    ").next().unwrap();
        let back = memlink::text::unescape_terminal(shown);
        assert!(back.ends_with(EVIL), "{shown}");
    }
    // Snapshot, diff and the terminal map.
    let a = f.dir.path().join("a.json");
    let r = run(&["snapshot", "--pid", &pid, "-o", a.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(&["map", "--snapshot", a.to_str().unwrap(), "--color", "never"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_inert(&r.raw_stdout, "map");
    let b = f.dir.path().join("b.json");
    let mut s: Value = serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
    // The evil region removed in B: the diff names it.
    s["regions"].as_array_mut().unwrap().retain(|r| {
        !r["mapped_file"]
            .as_str()
            .is_some_and(|p| p.contains("owned"))
    });
    std::fs::write(&b, serde_json::to_vec(&s).unwrap()).unwrap();
    let r = run(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_inert(&r.raw_stdout, "diff");
    // A snapshot keeps paths in their `\xNN` form, where a literal `\x41` reads as `A`.
    assert!(
        r.stdout
            .contains(r"ev\x1b]0;owned\x07il\x09line\xc2\x9b31m"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_process_whose_main_thread_exited_is_read_through_its_threads() {
    let f = busy(b"leader-gone", 0, 2, true);
    // Wait for the leader to become a zombie (it calls pthread_exit after `ready`).
    let stat = format!("/proc/{}/stat", f.pid());
    let mut zombie = false;
    for _ in 0..500 {
        let s = std::fs::read_to_string(&stat).unwrap_or_default();
        if s.rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
        {
            zombie = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(zombie, "the leader did not exit");
    let pid = f.pid_arg();
    let r = run(&["list", "--pid", &pid]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Two sleeping threads and the stdin reader.
    assert!(
        r.stdout
            .contains("Note: the main thread exited; 3 threads remain"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("leader-gone"), "{}", r.stdout);
    assert!(r.stdout.contains("[heap]"), "{}", r.stdout);
    let r = run(&["analyze", "--pid", &pid, "--summary", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    // Three 1 MiB blocks were touched: the memory is there, not "no memory left".
    assert!(v["total"]["rss"].as_u64().unwrap() > 3 << 20, "{v}");
    assert_eq!(v["total_source"], "smaps_rollup");
    let r = run(&["analyze", "--pid", &pid]);
    assert!(r.stdout.contains("the main thread exited"), "{}", r.stdout);
}

#[test]
fn map_refuses_what_it_cannot_draw_with_one_line() {
    let f = busy(b"plain", 0, 1, false);
    let pid = f.pid_arg();
    for w in ["0", "4294967295", "18446744073709551615", "39"] {
        let r = run(&["map", "--pid", &pid, "--width", w]);
        assert_eq!(r.code, 2, "--width {w}: {}", r.stdout);
        assert!(r.stdout.is_empty());
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.starts_with("memlink: "), "{}", r.stderr);
    }
    let r = run(&["map", "--pid", &pid, "--width", "40", "--color", "never"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let a = f.dir.path().join("a.json");
    assert_eq!(
        run(&["snapshot", "--pid", &pid, "-o", a.to_str().unwrap()]).code,
        0
    );
    let a = a.to_str().unwrap();
    let r = run(&["map", "--diff", a, a]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty(), "HTML on the terminal");
    assert!(r.stderr.contains("-o FILE.html"), "{}", r.stderr);
    let log =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/map/watch.jsonl");
    let r = run(&["map", "--watch", log.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty(), "HTML on the terminal");
    assert!(r.stderr.contains("-o FILE.html"), "{}", r.stderr);
    // Asked for explicitly, HTML still goes to stdout.
    let r = run(&["map", "--diff", a, a, "--format", "html"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("<html"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
}

#[test]
fn terminal_map_legend_names_its_figure_and_no_gap_above_user_space() {
    let f = busy(b"plain", 0, 1, false);
    let r = run(&[
        "map",
        "--pid",
        &f.pid_arg(),
        "--color",
        "never",
        "--width",
        "100",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("The legend's sizes are RSS by type"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("EB unmapped"), "{}", r.stdout);
    if r.stdout.contains("0xffffffffff600000") {
        assert!(r.stdout.contains("end of user space"), "{}", r.stdout);
    }
}

#[test]
fn summary_by_file_elides_long_paths_in_the_middle() {
    let long = format!("{}-end-of-a-long-name", "d".repeat(120));
    let f = busy(long.as_bytes(), 0, 1, false);
    let r = run(&["analyze", "--pid", &f.pid_arg(), "--summary"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let files: Vec<&str> = r
        .stdout
        .lines()
        .skip_while(|l| *l != "Summary by file")
        .collect();
    let row = files
        .iter()
        .find(|l| l.contains("end-of-a-long-name"))
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert!(row.contains('…'), "{row}");
    let header = files[1];
    // Every row has the header's width: the name did not push the figures out.
    assert_eq!(
        row.chars().count(),
        header.chars().count(),
        "{row}\n{header}"
    );
}

/// Two runs of list, snapshot + diff and map on a process with threads spinning on every CPU
/// and threads blocked: nothing changed, so nothing is reported as changed.
#[test]
fn a_second_run_on_a_busy_process_shows_no_change() {
    let f = busy(b"plain", 3, 3, false);
    let pid = f.pid_arg();
    let list = |detailed: bool| {
        let mut args = vec!["list", "--pid", &pid];
        if detailed {
            args.push("--detailed");
        }
        args.extend(["--format", "json"]);
        let r = run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{} {} {} {}",
                    r["address_hex"], r["end_address_hex"], r["region_type"], r["type_reason"]
                )
            })
            .collect::<Vec<_>>()
    };
    let first = list(false);
    for _ in 0..5 {
        assert_eq!(list(false), first);
        // The detailed listing gives the same types (reasons may be more precise).
        let types = |l: &[String]| {
            l.iter()
                .map(|s| s.splitn(4, ' ').take(3).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
        };
        assert_eq!(types(&list(true)), types(&first));
    }
    let text = |args: &[&str]| {
        let r = run(args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
    };
    assert_eq!(
        text(&["list", "--pid", &pid]),
        text(&["list", "--pid", &pid])
    );
    let a = f.dir.path().join("a.json");
    let b = f.dir.path().join("b.json");
    for s in [&a, &b] {
        let r = run(&["snapshot", "--pid", &pid, "-o", s.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = run(&[
        "diff",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d: Value = serde_json::from_str(&r.stdout).unwrap();
    for k in ["added", "removed", "grown", "shrunk"] {
        assert_eq!(d[k].as_array().map(Vec::len), Some(0), "{k}: {d}");
    }
    assert_eq!(
        d["total_sources"],
        serde_json::json!(["smaps_rollup", "smaps_rollup"])
    );
    let types = |p: &std::path::Path| {
        let s: Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        s["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r["address_hex"], r["region_type"]))
            .collect::<Vec<_>>()
    };
    assert_eq!(types(&a), types(&b));
    let map = |p: &std::path::Path| {
        let out = text(&[
            "map",
            "--snapshot",
            p.to_str().unwrap(),
            "--color",
            "never",
            "--width",
            "120",
        ]);
        // The header's RSS/PSS is a figure of the moment; the picture and legend's types are not.
        out.lines()
            .skip(1)
            .filter(|l| !l.starts_with("Legend") && !l.starts_with(' '))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(map(&a), map(&b));
}
