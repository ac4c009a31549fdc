//! `ps`: the system-wide table against fixtures whose memory is known.

use serde_json::Value;

use std::process::{Child, Command, Stdio};

use crate::support::{build_c, run, signal, wait_ready, Fixture};

/// A statically linked `steady` fixture, killed and reaped on drop. Static linking matters: a
/// dynamically linked fixture shares libc pages with memlink, so memlink's own start lowers the
/// fixture's PSS while it is being read.
struct Static(Child);

impl Static {
    fn start(kib: u64) -> Static {
        let bin = build_c("steady_static", &["-static"]);
        let mut child = Command::new(bin)
            .arg(kib.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        wait_ready(&mut child);
        Static(child)
    }
}

impl Drop for Static {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (rss, pss, uss, swap) from a process's smaps_rollup.
fn rollup(pid: u32) -> [u64; 4] {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap();
    let kb = |key: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(&format!("{key}:")))
            .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024)
            .unwrap_or(0)
    };
    [
        kb("Rss"),
        kb("Pss"),
        kb("Private_Clean") + kb("Private_Dirty"),
        kb("Swap"),
    ]
}

fn sum(pids: &[u32]) -> [u64; 4] {
    pids.iter().map(|&p| rollup(p)).fold([0; 4], |mut a, r| {
        for i in 0..4 {
            a[i] += r[i];
        }
        a
    })
}

#[test]
fn totals_equal_the_sum_of_smaps_rollup() {
    let fixtures: Vec<Static> = [2048, 4096, 6144].map(Static::start).into();
    let pids: Vec<u32> = fixtures.iter().map(|f| f.0.id()).collect();
    for &p in &pids {
        signal(p, "STOP");
    }
    let mut args = vec![
        "ps".to_string(),
        "--totals".into(),
        "--format".into(),
        "json".into(),
    ];
    for p in &pids {
        args.push("--pid".into());
        args.push(p.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Retry until the sum is the same before and after the run (the three fixtures share their
    // text pages with each other only, so this is only a guard).
    let mut last = None;
    for _ in 0..10 {
        let before = sum(&pids);
        let v = run(&args).json();
        let after = sum(&pids);
        if before != after {
            continue;
        }
        let t = &v["totals"];
        let got = [
            t["rss"].as_u64().unwrap(),
            t["pss"].as_u64().unwrap(),
            t["uss"].as_u64().unwrap(),
            t["swap"].as_u64().unwrap(),
        ];
        if got == before {
            assert_eq!(t["processes"], 3);
            let rows = v["processes"].as_array().unwrap();
            assert_eq!(rows.len(), 3);
            // Sorted by PSS, largest first: the 6 MiB fixture leads.
            assert_eq!(rows[0]["pid"].as_u64().unwrap(), pids[2] as u64);
            for r in rows {
                assert_eq!(r["restricted"], false);
                assert_eq!(r["name"], "steady_static");
                assert!(r["mappings"].as_u64().unwrap() > 5);
                assert_eq!(r["threads"], 1);
                assert_eq!(r["ns_pid"], r["pid"]);
                assert!(r["cgroup"]["path"].as_str().unwrap().starts_with('/'));
            }
            return;
        }
        last = Some((got, before));
    }
    panic!("ps totals never matched the rollups: {last:?}");
}

#[test]
fn filters_grouping_and_formats() {
    let f = Fixture::start("steady", &["4096"]);
    let pid = f.pid_arg();
    let me = std::fs::read_to_string("/proc/self/status").unwrap();
    let uid = me
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();

    let v = run(&[
        "ps",
        "--command",
        "^stead[y]$",
        "--user",
        &uid,
        "--format",
        "json",
    ])
    .json();
    let rows = v["processes"].as_array().unwrap();
    assert!(rows
        .iter()
        .any(|r| r["pid"].as_u64() == Some(f.pid() as u64)));
    assert!(rows.iter().all(|r| r["name"] == "steady"));

    // The cgroup filter: our own cgroup contains the fixture.
    let mine = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let cg = mine
        .lines()
        .find(|l| {
            l.split(':')
                .nth(1)
                .is_some_and(|c| c.split(',').any(|c| c == "memory"))
        })
        .or_else(|| mine.lines().find(|l| l.starts_with("0::")))
        .unwrap()
        .splitn(3, ':')
        .nth(2)
        .unwrap()
        .to_string();
    let v = run(&["ps", "--cgroup", &cg, "--pid", &pid, "--format", "json"]).json();
    assert_eq!(v["processes"].as_array().unwrap().len(), 1);
    let v = run(&[
        "ps",
        "--cgroup",
        "/no/such/group",
        "--pid",
        &pid,
        "--format",
        "json",
    ])
    .json();
    assert_eq!(v["processes"].as_array().unwrap().len(), 0);

    let v = run(&["ps", "--by", "cgroup", "--pid", &pid, "--format", "json"]).json();
    let g = &v["groups"][0];
    assert_eq!(g["key"].as_str().unwrap(), cg);
    assert_eq!(g["processes"], 1);
    // The v1 (or v2) memory controller's own figures are read live, where the cgroup's files are
    // visible (a v2 root cgroup has no memory.current).
    let rel = cg.trim_start_matches('/');
    let visible = std::path::Path::new("/sys/fs/cgroup/memory")
        .join(rel)
        .join("memory.usage_in_bytes")
        .exists()
        || std::path::Path::new("/sys/fs/cgroup")
            .join(rel)
            .join("memory.current")
            .exists();
    if visible {
        let m = &g["cgroup_memory"];
        assert!(m["current"].as_u64().unwrap() > 0, "{g}");
        assert!(m["stat"].as_array().unwrap().len() >= 3, "{g}");
        let text = run(&["ps", "--by", "cgroup", "--pid", &pid]);
        assert!(text.ok().contains("memory.stat:"), "{}", text.stdout);
    } else {
        eprintln!("note: the memory files of cgroup {cg} are not visible here; not checked");
    }

    let v = run(&["ps", "--by", "user", "--pid", &pid, "--format", "json"]).json();
    let g = &v["groups"][0];
    assert_eq!(g["processes"], 1);
    let expected_user = if uid == "0" {
        "root".to_string()
    } else {
        g["key"].as_str().unwrap().to_string()
    };
    assert_eq!(g["key"].as_str().unwrap(), expected_user);
    assert!(g["pss"].as_u64().unwrap() >= 4096 * 1024);

    let v = run(&["ps", "--by", "mapping", "--pid", &pid, "--format", "json"]).json();
    assert_eq!(v["source"], "smaps");
    let maps = v["mappings"].as_array().unwrap();
    let anon = maps.iter().find(|m| m["key"] == "[anon]").unwrap();
    assert!(anon["rss"].as_u64().unwrap() >= 4096 * 1024);
    assert!(run(&["ps", "--by", "mapping", "--pid", &pid])
        .ok()
        .contains("from smaps"));

    let csv = run(&["ps", "--pid", &pid, "--format", "csv", "--totals"]);
    let lines: Vec<&str> = csv.ok().lines().collect();
    assert!(lines[0].starts_with("pid,ns_pid,user,name,rss,pss"));
    assert!(lines[1].starts_with(&format!("{pid},{pid},")));
    assert!(lines[2].starts_with("total,"));

    let text = run(&["ps", "--pid", &pid, "--sort", "rss", "--totals"]);
    assert!(text.ok().contains("TOTAL"));
    assert!(text.stdout.contains("steady 4096"));

    // A PID that does not exist is named on stderr; the others are still listed.
    let r = run(&["ps", "--pid", "4194000", "--pid", &pid, "--format", "json"]);
    let v = r.json();
    assert_eq!(v["exited"], 0);
    assert_eq!(v["processes"].as_array().unwrap().len(), 1);
    assert!(
        r.stderr.contains("process 4194000 does not exist"),
        "{}",
        r.stderr
    );
}

#[test]
fn ps_bad_input() {
    run(&["ps", "--user", "no-such-user-xyz"]).assert_error(&["unknown user", "no-such-user-xyz"]);
    run(&["ps", "--command", "(unclosed"]).assert_error(&["invalid --command regular expression"]);
    run(&["ps", "--sort", "size"]).assert_error(&["size"]);
    run(&["ps", "--budget", "soon"]).assert_error(&["invalid duration"]);
    run(&["--proc-root", "/nonexistent", "ps"]).assert_error(&["/nonexistent"]);
}

#[test]
fn proc_root_reads_another_procfs_mount() {
    let f = Fixture::start("steady", &["1024"]);
    let pid = f.pid_arg();
    // Only /proc is mounted here; a symlinked copy of its path stands for "another mount".
    let dir = crate::support::tempdir::TempDir::new("procroot");
    let link = dir.path().join("hostproc");
    std::os::unix::fs::symlink("/proc", &link).unwrap();
    let root = link.to_str().unwrap();
    let v = run(&["--proc-root", root, "ps", "--pid", &pid, "--format", "json"]).json();
    assert_eq!(v["processes"][0]["pid"].as_u64().unwrap(), f.pid() as u64);
    run(&["--proc-root", root, "list", "--pid", &pid]).ok();
    run(&["--proc-root", root, "analyze", "--pid", &pid, "--summary"]).ok();
    run(&[
        "--proc-root",
        dir.path().to_str().unwrap(),
        "list",
        "--pid",
        &pid,
    ])
    .assert_error(&[&pid]);
}

#[test]
fn unreadable_processes_are_listed_from_status_and_marked() {
    if !crate::support::require("setpriv", "runs memlink as an unprivileged user") {
        return;
    }
    if !crate::support::is_root() {
        // Unprivileged already: PID 1 belongs to root.
        let v = run(&["ps", "--pid", "1", "--format", "json"]).json();
        assert_eq!(v["processes"][0]["restricted"], true);
        return;
    }
    let f = Fixture::start("steady", &["4096"]);
    let pid = f.pid_arg();
    let r = crate::support::run_cmd(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_memlink"))
            .args(["ps", "--pid", &pid, "--format", "json", "--totals"]),
    );
    let v: Value = serde_json::from_str(r.ok()).unwrap();
    let row = &v["processes"][0];
    assert_eq!(row["restricted"], true, "{row}");
    assert!(
        row["rss"].as_u64().unwrap() >= 4096 * 1024,
        "RSS from status: {row}"
    );
    assert_eq!(row["pss"], Value::Null, "unknown, not 0: {row}");
    assert_eq!(row["name"], "steady");
    assert_eq!(v["totals"]["restricted"], 1);
    let r = crate::support::run_cmd(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_memlink"))
            .args(["ps", "--pid", &pid]),
    );
    assert!(r.ok().contains(&format!("{pid}*")), "{}", r.stdout);
    assert!(r.stdout.contains("1 restricted"));
}

#[test]
fn pid_inside_its_own_namespace() {
    if !crate::support::is_root() {
        crate::support::require_fail("a new PID namespace needs root (unshare --pid)");
        return;
    }
    if !crate::support::require("unshare", "starts a process in a new PID namespace") {
        return;
    }
    let bin = build_c("steady", &[]);
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "--"])
        .arg(bin)
        .arg("64")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(&mut child);
    let u = child.id();
    let host_pid: u32 = std::fs::read_to_string(format!("/proc/{u}/task/{u}/children"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let guard = Static(child);
    let v = run(&["ps", "--pid", &host_pid.to_string(), "--format", "json"]).json();
    let row = &v["processes"][0];
    assert_eq!(row["pid"].as_u64().unwrap(), host_pid as u64);
    assert_eq!(row["ns_pid"], 1, "{row}");
    drop(guard);
    signal(host_pid, "KILL");
}

#[test]
fn text_escapes_control_characters_and_trims_padding() {
    // ESC (a colour sequence), a newline, DEL, C1 CSI (U+009B), a backslash, then the padding
    // blanks a program setting its title leaves.
    let evil = "a\x1b[31mb\nc\x7fd\u{9b}e\\f   ";
    let f = Fixture::start("steady", &["64", evil]);
    let pid = f.pid_arg();
    let text = run(&["ps", "--pid", &pid]);
    let out = text.ok();
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(&pid))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        line.ends_with(r"64 a\x1b[31mb\x0ac\x7fd\xc2\x9be\\f"),
        "escaped, padding trimmed: {line:?}"
    );
    assert!(
        !out.contains('\x1b') && !out.contains('\x7f') && !out.contains('\u{9b}'),
        "{out:?}"
    );
    // JSON keeps its own escaping and the command line as it is.
    let v = run(&["ps", "--pid", &pid, "--format", "json"]).json();
    let cmd = v["processes"][0]["command"].as_str().unwrap();
    assert!(cmd.ends_with(&format!("64 {evil}")), "{cmd:?}");
}

#[test]
fn a_process_whose_main_thread_exited_is_read_and_counted() {
    let f = Fixture::start("leader_exit", &["4096"]);
    let pid = f.pid_arg();
    // Wait until the leader is a zombie while its threads live.
    let t0 = std::time::Instant::now();
    loop {
        let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        if st
            .lines()
            .any(|l| l.starts_with("State:") && l.contains('Z'))
        {
            break;
        }
        assert!(t0.elapsed().as_secs() < 10, "the leader did not exit: {st}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let v = run(&["ps", "--pid", &pid, "--totals", "--format", "json"]).json();
    let rows = v["processes"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "listed, not left out: {v}");
    let r = &rows[0];
    assert_eq!(r["leader_exited"], true, "{r}");
    assert_eq!(r["name"], "leader_exit");
    assert!(r["pss"].as_u64().unwrap() >= 4096 * 1024, "{r}");
    assert!(
        r["command"].as_str().unwrap().contains("leader_exit"),
        "{r}"
    );
    let t = &v["totals"];
    assert_eq!(t["processes"], 1);
    assert!(
        t["pss"].as_u64().unwrap() >= 4096 * 1024,
        "in the totals: {t}"
    );
    let text = run(&["ps", "--pid", &pid]);
    assert!(
        text.ok().contains("main thread exited; 2 threads remain"),
        "{}",
        text.stdout
    );
}

#[test]
fn rollup_over_budget_is_unknown_with_its_source() {
    let f = Fixture::start("steady", &["65536"]);
    let pid = f.pid_arg();
    // 64 MiB resident is estimated above 0.1 ms: PSS and USS not read, RSS from status.
    let v = run(&[
        "ps",
        "--pid",
        &pid,
        "--rollup-budget",
        "0.1ms",
        "--format",
        "json",
    ])
    .json();
    let r = &v["processes"][0];
    assert_eq!(r["pss_state"], "over_budget", "{r}");
    assert_eq!((&r["pss"], &r["uss"]), (&Value::Null, &Value::Null), "{r}");
    assert_eq!(r["sources"]["rss"]["source"], "status", "{r}");
    assert_eq!(r["sources"]["pss"], Value::Null, "{r}");
    assert_eq!(r["rollup_read_s"], Value::Null, "{r}");
    assert!(r["rss"].as_u64().unwrap() >= 64 << 20, "{r}");
    assert!(r["split"]["anon"].as_u64().unwrap() >= 64 << 20, "{r}");
    let text = run(&["ps", "--pid", &pid, "--rollup-budget", "0.1ms"]);
    assert!(text.ok().contains(&format!("{pid}^")), "{}", text.stdout);
    assert!(
        text.stdout.contains("1 over the rollup budget"),
        "{}",
        text.stdout
    );
    // The default budget (5 ms) fits 64 MiB: read now, from the rollup, with memlink's read time.
    let v = run(&["ps", "--pid", &pid, "--format", "json"]).json();
    let r = &v["processes"][0];
    assert_eq!(r["pss_state"], "read", "{r}");
    assert_eq!(r["sources"]["pss"]["source"], "smaps_rollup", "{r}");
    assert_eq!(r["sources"]["pss"]["age_s"], 0.0, "{r}");
    assert!(r["rollup_read_s"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["pss"].as_u64().unwrap() >= 64 << 20, "{r}");
}
