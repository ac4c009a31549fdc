//! One test per fixed bug, each named after the behaviour it pins.

use std::process::Command;

use serde_json::Value;

use crate::support::{is_root, require, run, run_cmd, tempdir::TempDir, Fixture, Run};

/// Runs memlink as user `nobody`, who may not read the fixtures' `smaps_rollup`.
fn as_nobody(args: &[&str]) -> Run {
    run_cmd(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_memlink"))
            .args(args),
    )
}

/// Whether the tests that read another user's process can run here.
fn can_switch_user() -> bool {
    if !require("setpriv", "runs memlink as an unprivileged user") {
        return false;
    }
    if !is_root() {
        crate::support::require_fail("switching to user nobody needs root");
        return false;
    }
    true
}

#[test]
fn ps_restricted_row_shows_unknown_pss_and_uss_not_zero() {
    if !can_switch_user() {
        return;
    }
    let f = Fixture::start("steady", &["4096"]);
    let pid = f.pid_arg();
    let v: Value = serde_json::from_str(
        as_nobody(&["ps", "--pid", &pid, "--format", "json", "--totals"]).ok(),
    )
    .unwrap();
    let row = &v["processes"][0];
    assert_eq!(row["restricted"], true, "{row}");
    for k in ["pss", "uss", "swap_pss"] {
        assert_eq!(row[k], Value::Null, "{k} is unknown: {row}");
    }
    assert!(row["rss"].as_u64().unwrap() >= 4096 * 1024, "{row}");
    // The only row is unknown: so is the sum, and the totals say why.
    let t = &v["totals"];
    assert_eq!((&t["pss"], &t["uss"]), (&Value::Null, &Value::Null), "{t}");
    assert_eq!(t["restricted"], 1);
    assert!(t["rss"].as_u64().unwrap() >= 4096 * 1024, "{t}");

    let csv = as_nobody(&["ps", "--pid", &pid, "--format", "csv", "--totals"]);
    let lines: Vec<&str> = csv.ok().lines().collect();
    let fields: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        (fields[5], fields[6], fields[8]),
        ("", "", ""),
        "{}",
        lines[1]
    );
    let text = as_nobody(&["ps", "--pid", &pid, "--totals"]);
    let total = text.ok().lines().find(|l| l.contains("TOTAL")).unwrap();
    let cols: Vec<&str> = total.split_whitespace().collect();
    assert_eq!((cols[2], cols[3]), ("-", "-"), "{total}");

    let by_user = as_nobody(&["ps", "--pid", &pid, "--by", "user", "--format", "json"]);
    let g = &by_user.json()["groups"][0];
    assert_eq!(
        (&g["pss"], &g["restricted"]),
        (&Value::Null, &Value::from(1)),
        "{g}"
    );
}

#[test]
fn ps_unknown_pss_sorts_last() {
    if !can_switch_user() {
        return;
    }
    // Two processes nobody may read, and memlink itself (nobody's own: readable).
    let _a = Fixture::start("steady", &["8192"]);
    let _b = Fixture::start("steady", &["16384"]);
    let v = as_nobody(&[
        "ps",
        "--command",
        "^(stead[y]|memlink)$",
        "--format",
        "json",
    ])
    .json();
    let rows = v["processes"].as_array().unwrap();
    let first_unknown = rows.iter().position(|r| r["pss"].is_null()).unwrap();
    assert!(
        rows[first_unknown..].iter().all(|r| r["pss"].is_null()),
        "known PSS first, unknown last: {rows:?}"
    );
    assert!(
        rows[..first_unknown].iter().any(|r| r["name"] == "memlink"),
        "{rows:?}"
    );
}

#[test]
fn export_without_smaps_does_not_call_rows_restricted() {
    let f = Fixture::start("steady", &["1024"]);
    let dir = TempDir::new("regression-export");
    let file = dir.path().join("m.prom");
    run(&[
        "export",
        "-o",
        file.to_str().unwrap(),
        "--pid",
        &f.pid_arg(),
    ])
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.contains("memlink_scrape_processes{outcome=\"read\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("memlink_scrape_processes{outcome=\"restricted\"} 0\n"),
        "{text}"
    );
}

#[test]
fn export_leaves_out_unreadable_series_and_counts_them() {
    if !can_switch_user() {
        return;
    }
    let f = Fixture::start("steady", &["1024"]);
    let dir = TempDir::new("regression-export-nobody");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let file = dir.path().join("m.prom");
    let pid = f.pid_arg();
    as_nobody(&[
        "export",
        "-o",
        file.to_str().unwrap(),
        "--smaps",
        "--per-pid",
        "--pid",
        &pid,
    ])
    .ok();
    let text = std::fs::read_to_string(&file).unwrap();
    let group = "group_by=\"command\",group=\"steady\"";
    assert!(
        text.contains(&format!(
            "memlink_group_memory_bytes{{{group},type=\"rss\"}}"
        )),
        "{text}"
    );
    assert!(!text.contains("type=\"pss\""), "no false zero PSS: {text}");
    assert!(!text.contains("type=\"uss\""), "no false zero USS: {text}");
    assert!(
        text.contains(&format!("memlink_group_unread_processes{{{group}}} 1\n")),
        "{text}"
    );
    assert!(
        text.contains("memlink_scrape_processes{outcome=\"restricted\"} 1\n"),
        "{text}"
    );
}

#[test]
fn ps_pid_that_does_not_exist_is_an_error() {
    run(&["ps", "--pid", "4194000"]).assert_error(&["process 4194000 does not exist"]);
    run(&[
        "ps", "--pid", "4194000", "--pid", "4194001", "--format", "json",
    ])
    .assert_error(&["4194000", "4194001", "do not exist"]);
    let f = Fixture::start("steady", &["64"]);
    let r = run(&[
        "ps",
        "--pid",
        "4194000",
        "--pid",
        &f.pid_arg(),
        "--format",
        "json",
    ]);
    assert_eq!(r.json()["processes"].as_array().unwrap().len(), 1);
    assert_eq!(r.stderr.trim(), "memlink: process 4194000 does not exist");
}

#[test]
fn ps_command_lists_memlink_itself_when_it_matches() {
    let v = run(&["ps", "--command", "^memlink$", "--format", "json"]).json();
    let rows = v["processes"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["name"] == "memlink"), "{v}");
    let v = run(&["ps", "--command", "^no-such-comman[d]$", "--format", "json"]).json();
    assert!(v["processes"].as_array().unwrap().is_empty(), "{v}");
}

#[test]
fn watch_shorter_than_the_span_is_inconclusive() {
    let f = Fixture::start("steady", &["64"]);
    let pid = f.pid_arg();
    let r = run(&[
        "watch",
        "--pid",
        &pid,
        "--interval",
        "100ms",
        "--count",
        "4",
    ]);
    let out = r.ok();
    assert!(out.contains("Verdict: inconclusive (judged"), "{out}");
    assert!(out.contains("needs 60.0s)"), "{out}");
    assert!(!out.contains("no leak suspected"), "{out}");
    assert!(out.contains("r² "), "slope and r² still shown: {out}");
    let r = run(&[
        "watch",
        "--pid",
        &pid,
        "--interval",
        "100ms",
        "--count",
        "4",
        "--format",
        "jsonl",
    ]);
    let verdict: Value = serde_json::from_str(r.ok().lines().last().unwrap()).unwrap();
    assert_eq!(verdict["inconclusive"]["needed_s"], 60.0, "{verdict}");
    assert!(
        verdict["inconclusive"]["span_s"].as_f64().unwrap() < 1.0,
        "{verdict}"
    );
    assert!(verdict["suggestion"]
        .as_str()
        .unwrap()
        .contains("inconclusive"));
}

#[test]
fn watch_fail_on_leak_refuses_a_watch_too_short_to_answer() {
    let f = Fixture::start("steady", &["64"]);
    let pid = f.pid_arg();
    run(&["watch", "--pid", &pid, "--count", "5", "--fail-on-leak"]).assert_error(&[
        "--fail-on-leak",
        "--warmup",
        "--min-span",
        "70.0s",
    ]);
    run(&[
        "watch",
        "--pid",
        &pid,
        "--duration",
        "30s",
        "--fail-on-leak",
    ])
    .assert_error(&["--duration", "--min-span"]);
    run(&["watch", "--pid", &pid, "--duration", "0"]).assert_error(&["--duration"]);
}

#[test]
fn watch_process_exiting_before_the_span_is_an_error() {
    let f = Fixture::start("steady", &["64"]);
    let pid = f.pid_arg();
    let child = crate::support::memlink()
        .args([
            "watch",
            "--pid",
            &pid,
            "--interval",
            "100ms",
            "--count",
            "100",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    drop(f);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("process {pid} exited")) && err.contains("60.0s"),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Verdict: inconclusive"));
}
