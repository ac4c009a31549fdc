//! `snapshot`, `diff` and `analyze --snapshot` on a fixture that maps and unmaps known regions.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::support::{run, Fixture};

fn starts(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["start"].as_u64().unwrap())
        .collect()
}

#[test]
fn diff_lists_exactly_the_mapped_and_unmapped_regions() {
    let mut f = Fixture::start("mapper", &["{dir}"]);
    let pid = f.pid_arg();
    let page = f.var("page_size").parse::<u64>().unwrap();
    let (a, c) = (f.addr("a"), f.addr("c"));
    let snap_a = f.dir.path().join("a.json");
    let snap_b = f.dir.path().join("b.json");
    let sa = snap_a.to_str().unwrap();
    let sb = snap_b.to_str().unwrap();
    run(&["snapshot", "--pid", &pid, "-o", sa]).ok();
    let mode = std::fs::metadata(&snap_a).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "snapshot files are private");

    let answer = f.ask("step");
    let d = u64::from_str_radix(answer.trim_start_matches("d=0x"), 16).unwrap();
    run(&["snapshot", "--pid", &pid, "-o", sb]).ok();
    // Refuses to replace an existing file.
    run(&["snapshot", "--pid", &pid, "-o", sb]).assert_error(&["already exists", "--force"]);

    for v in [
        run(&["diff", sa, sb, "--format", "json"]).json(),
        run(&["diff", "--pid", &pid, sa, "--format", "json"]).json(),
    ] {
        assert_eq!(v["same_process"], true);
        assert_eq!(starts(&v["added"]), vec![d], "added: {}", v["added"]);
        assert_eq!(starts(&v["removed"]), vec![a], "removed: {}", v["removed"]);
        assert_eq!(v["added"][0]["size"].as_u64().unwrap(), 3 * page);
        assert!(v["added"][0]["label"].as_str().unwrap().ends_with("/d.bin"));
        assert!(v["removed"][0]["label"]
            .as_str()
            .unwrap()
            .ends_with("/a.bin"));
        let grown = v["grown"].as_array().unwrap();
        let cg = grown
            .iter()
            .find(|g| {
                let s = g["after"]["start"].as_u64().unwrap();
                c >= s && c < g["after"]["end"].as_u64().unwrap()
            })
            .unwrap_or_else(|| panic!("the touched region grew: {}", v["grown"]));
        assert!(
            cg["rss_delta"].as_i64().unwrap() >= (16 * page) as i64,
            "{cg}"
        );
        assert_eq!(cg["size_delta"], 0);
        let files = v["by_file"].as_array().unwrap();
        let file = |suffix: &str| {
            files
                .iter()
                .find(|g| g["key"].as_str().unwrap().ends_with(suffix))
                .unwrap_or_else(|| panic!("{suffix} in by_file"))
                .clone()
        };
        assert_eq!(file("/a.bin")["delta"]["count"], -1);
        assert_eq!(file("/d.bin")["delta"]["count"], 1);
        assert_eq!(
            file("/d.bin")["delta"]["virtual_size"].as_u64().unwrap(),
            3 * page
        );
    }
    let text = run(&["diff", sa, sb]);
    assert!(text.ok().contains("Added (1)"), "{}", text.stdout);
    assert!(text.stdout.contains("Removed (1)"));
    // Exit 1 on a change when asked.
    assert_eq!(run(&["diff", sa, sb, "--fail-on-change"]).code, 1);
    assert_eq!(run(&["diff", sa, sa, "--fail-on-change"]).code, 0);
}

#[test]
fn analyze_reads_a_snapshot_like_the_live_process() {
    let f = Fixture::start("steady", &["1024"]);
    let pid = f.pid_arg();
    f.stop();
    let snap = f.dir.path().join("s.json");
    let s = snap.to_str().unwrap();
    run(&["snapshot", "--pid", &pid, "-o", s]).ok();
    let live = run(&["analyze", "--pid", &pid, "--format", "json"]).json();
    let saved = run(&["analyze", "--snapshot", s, "--format", "json"]).json();
    assert_eq!(live, saved, "same regions without figures");
    let summary = run(&["analyze", "--snapshot", s, "--summary", "--format", "json"]).json();
    assert_eq!(summary["pid"].as_u64().unwrap(), f.pid() as u64);
    assert!(summary["total"]["rss"].as_u64().unwrap() >= 1024 * 1024);
    let text = run(&["analyze", "--snapshot", s]);
    assert!(text
        .ok()
        .contains(&format!("Memory Analysis for PID: {}", f.pid())));
    run(&["analyze", "--snapshot", s, "--pid", &pid]).assert_error(&["cannot be used with"]);
    run(&["analyze"]).assert_error(&["--pid", "--snapshot"]);
    f.cont();
}

#[test]
fn bad_snapshots_are_one_line_errors() {
    let dir = crate::support::tempdir::TempDir::new("badsnap");
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let garbage = write("garbage.json", "{\"format\": ");
    run(&["diff", &garbage, &garbage]).assert_error(&["garbage.json"]);
    let other = write("other.json", "{\"hello\": 1}");
    run(&["analyze", "--snapshot", &other]).assert_error(&["not a memlink snapshot"]);
    let future = write(
        "future.json",
        "{\"format\":\"memlink-snapshot\",\"version\":99}",
    );
    run(&["diff", &future, &future]).assert_error(&["version 99"]);
    let field = write(
        "field.json",
        "{\"format\":\"memlink-snapshot\",\"version\":1,\"taken_at\":1,\"process\":{\"pid\":\"x\"}}",
    );
    run(&["analyze", "--snapshot", &field]).assert_error(&["field process.pid"]);
    let missing = dir.path().join("missing.json");
    run(&["diff", missing.to_str().unwrap(), &garbage]).assert_error(&["missing.json"]);
}
