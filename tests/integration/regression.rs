//! Regression tests: one test per bug fixed, each named after the behaviour it pins (what must
//! stay true), with a line saying what went wrong before the fix. A test goes here when the fix
//! has no better home in an area's test file; either way, it runs against the real binary or a
//! real process, like the rest of the suite.
//!
//! Add new tests at the end of the file.

use crate::outfile::{
    can_plant, listing, ml, plant_symlink, run_within, shared_dir, snapshot_of, target, writers,
    Victim,
};
use crate::support::{is_root, require, run, run_cmd, tempdir::TempDir, Fixture, Run};
use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A procfs root holding copies of a live fixture's `stat`, `status`, `maps`, `smaps` and its thread's
/// `syscall`, but no `mem`: what a captured `--proc-root` looks like.
fn captured_root(f: &Fixture) -> std::path::PathBuf {
    let pid = f.pid();
    let root = f.dir.path().join("captured");
    let dir = root.join(pid.to_string());
    std::fs::create_dir_all(dir.join(format!("task/{pid}"))).unwrap();
    for name in [
        "stat",
        "status",
        "maps",
        "smaps",
        &format!("task/{pid}/syscall"),
    ] {
        let bytes = std::fs::read(format!("/proc/{pid}/{name}")).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    root
}

/// `search`, `dump` and `audit` ignored `--proc-root` and read the memory of the PID in
/// memlink's own `/proc`: a root without the process's `mem` and `pagemap` files now fails for
/// the commands that must read memory, naming the file of the root, and the audit skips its
/// memory check.
#[test]
fn search_dump_and_audit_read_memory_through_the_proc_root() {
    let f = Fixture::start("needles", &["{dir}"]);
    let pid = f.pid_arg();
    let root = captured_root(&f);
    let r = root.to_str().unwrap();
    // Search and dump read private memory by page kind, so the first file they need is
    // `pagemap` or `mem`: either way one of the capture's files, never memlink's own `/proc`.
    let pid_dir = format!("{}/", root.join(&pid).display());

    run(&[
        "--proc-root",
        r,
        "search",
        "--pid",
        &pid,
        "--text",
        "MLNEEDLE-7f3a9c!",
    ])
    .assert_error(&[&pid_dir, "No such file"]);

    let out = f.dir.path().join("dump.bin");
    let big = format!("{:#x}", f.addr("big"));
    let o = out.to_str().unwrap();
    run(&[
        "--proc-root",
        r,
        "dump",
        "--pid",
        &pid,
        "--address",
        &big,
        "--size",
        "4K",
        "-o",
        o,
    ])
    .assert_error(&[&pid_dir, "No such file"]);
    assert!(!out.exists(), "the partial dump is removed");

    // The audit's rules need only the map; the ELF check, which reads memory, finds nothing
    // to read (through /proc it reports the fixture's ELF image).
    let a = run(&["--proc-root", r, "audit", "--pid", &pid, "--format", "json"]);
    assert_eq!(a.code, 1, "{}", a.stderr);
    let report: serde_json::Value = serde_json::from_str(&a.stdout).unwrap();
    let kinds: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"elf_in_anonymous_memory"), "{kinds:?}");
    assert!(kinds.contains(&"writable_executable"), "{kinds:?}");
}

/// The memory reader used `process_vm_readv` whatever the procfs root, although a PID of
/// another root may name another process in memlink's namespace: it now reads `ROOT/PID/mem`
/// under any root but `/proc`.
#[test]
fn memory_reader_uses_the_pid_syscall_only_on_proc() {
    use memlink::platform::Method;
    let f = Fixture::start("steady", &["1024"]);
    let root = f.dir.path().join("procroot");
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(format!("/proc/{}", f.pid()), root.join(f.pid_arg())).unwrap();
    let own = memlink::MemoryAnalyzer::new(f.pid()).unwrap();
    assert_eq!(own.memory().method(), Method::VmReadv);
    let other = memlink::MemoryAnalyzer::with_proc_root(&root, f.pid()).unwrap();
    let reader = other.memory();
    assert_eq!(reader.method(), Method::ProcMem);
    // Both read the same bytes of the same mapping.
    let r = own.list().unwrap();
    let first = r
        .iter()
        .find(|r| r.perms.contains(memlink::Perms::READ))
        .unwrap();
    let (mut a, mut b) = (vec![0u8; 64], vec![0u8; 64]);
    let at = first.base_address as u64;
    assert_eq!(own.memory().read(at, &mut a).unwrap(), 64);
    assert_eq!(reader.read(at, &mut b).unwrap(), 64);
    assert_eq!(a, b);
}

fn forced(argv: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = argv.iter().map(String::as_str).collect();
    v.push("--force");
    v
}

/// `export -o FILE` wrote through `.FILE.PID.tmp` with `O_CREAT|O_TRUNC`: a symlink planted
/// there made root overwrite and chmod its target.
#[test]
fn export_never_writes_through_a_symlink_at_its_temporary_name() {
    if !can_plant() {
        return;
    }
    let dir = shared_dir("export-tmp");
    let victim = Victim::new();
    let out = dir.path().join("memlink.prom");
    // The shell plants the link under its own PID, which memlink keeps across `exec`.
    let script = format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups ln -s '{}' '{}/.memlink.prom.'$$'.tmp' \
         && exec \"$0\" export --pid $$ -o '{}'",
        victim.path.display(),
        dir.path().display(),
        out.display()
    );
    let r = run_within(
        Command::new("sh")
            .args(["-c", &script])
            .arg(env!("CARGO_BIN_EXE_memlink")),
    );
    r.ok();
    victim.assert_untouched();
    let m = std::fs::symlink_metadata(&out).unwrap();
    assert!(m.is_file(), "the metrics file is a file of its own");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("memlink_"), "{text}");
}

/// With `--force`, `dump`, `snapshot` and `map` followed a symlink at the destination: they
/// truncated, chmodded and overwrote its target, or created a file through a dangling link.
#[test]
fn force_replaces_a_symlink_at_the_destination_never_its_target() {
    if !can_plant() {
        return;
    }
    let (f, values) = target();
    let dir = shared_dir("force-link");
    let snap = dir.path().join("snap.json");
    snapshot_of(&f, &snap);
    let victim = Victim::new();
    let out = dir.path().join("out");
    let through = victim.path.with_file_name("through-dangling");
    for argv in writers(&f, &values, &snap, &out) {
        plant_symlink(&victim.path, &out);
        ml(&argv.iter().map(String::as_str).collect::<Vec<_>>()).assert_error(&["already exists"]);
        victim.assert_untouched();
        ml(&forced(&argv)).ok();
        victim.assert_untouched();
        assert!(
            std::fs::symlink_metadata(&out).unwrap().is_file(),
            "{argv:?}"
        );
        std::fs::remove_file(&out).unwrap();

        plant_symlink(&through, &out);
        ml(&forced(&argv)).ok();
        assert!(
            !through.exists(),
            "{argv:?} created a file through a dangling link"
        );
        std::fs::remove_file(&out).unwrap();
    }
}

/// `-o DEVICE --force` chmodded the device node 0600 and, when the write then failed (a
/// device cannot be truncated), unlinked it: `dump -o /dev/null --force` deleted `/dev/null`.
/// A private node for the same device stands in for `/dev/null` (which `outfile.rs` checks
/// too), so that a regression does not break the machine.
#[test]
fn force_onto_a_device_node_neither_chmods_nor_removes_it() {
    let (f, values) = target();
    let dir = TempDir::new("devnode");
    let snap = dir.path().join("snap.json");
    snapshot_of(&f, &snap);
    let node = dir.path().join("null");
    let made = Command::new("mknod")
        .arg(&node)
        .args(["c", "1", "3"])
        .status()
        .is_ok_and(|s| s.success());
    let node = if made {
        std::fs::set_permissions(&node, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .unwrap();
        node
    } else {
        crate::support::require_fail("mknod needs CAP_MKNOD; checking /dev/null itself");
        Path::new("/dev/null").to_path_buf()
    };
    let before = std::fs::symlink_metadata(&node).unwrap();
    for argv in writers(&f, &values, &snap, &node) {
        ml(&forced(&argv)).ok();
        let m = std::fs::symlink_metadata(&node).expect("the device node still exists");
        assert!(m.file_type().is_char_device(), "{argv:?}");
        assert_eq!(
            (m.mode(), m.rdev(), m.ino()),
            (before.mode(), before.rdev(), before.ino())
        );
    }
}

/// Opening a FIFO as the output (with `--force`) blocked forever when nobody read it.
#[test]
fn a_fifo_output_without_a_reader_fails_instead_of_blocking() {
    let (f, values) = target();
    let dir = TempDir::new("fifo-out");
    let snap = dir.path().join("snap.json");
    snapshot_of(&f, &snap);
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let before = listing(dir.path());
    for argv in writers(&f, &values, &snap, &fifo) {
        let t = Instant::now();
        // With and without --force: the old code blocked in open(2) with it.
        ml(&forced(&argv)).assert_error(&[
            fifo.to_str().unwrap(),
            "no process has this FIFO open for reading",
        ]);
        ml(&argv.iter().map(String::as_str).collect::<Vec<_>>()).assert_error(&[
            fifo.to_str().unwrap(),
            "no process has this FIFO open for reading",
        ]);
        assert!(t.elapsed() < Duration::from_secs(5), "{argv:?}");
        assert_eq!(listing(dir.path()), before);
    }
}

/// `diff` and `map --snapshot` blocked forever on a FIFO and read `/dev/zero` until memory ran
/// out.
#[test]
fn fifo_and_dev_zero_snapshot_inputs_fail_at_once() {
    let (f, _) = target();
    let dir = TempDir::new("fifo-in");
    let snap = dir.path().join("snap.json");
    snapshot_of(&f, &snap);
    let s = snap.to_str().unwrap();
    let fifo = dir.path().join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let fs = fifo.to_str().unwrap();
    for (input, what) in [(fs, "is a FIFO"), ("/dev/zero", "is a character device")] {
        for argv in [
            vec!["diff", input, s],
            vec!["map", "--snapshot", input, "-o", "-"],
        ] {
            let t = Instant::now();
            ml(&argv).assert_error(&[input, what, "not a regular file"]);
            assert!(t.elapsed() < Duration::from_secs(5), "{argv:?}");
        }
    }
}

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

/// The `maps` line of `pid` starting at `addr`, if any.
fn maps_line(pid: u32, addr: u64) -> Option<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let start = format!("{addr:x}-");
    maps.lines()
        .find(|l| l.starts_with(&start))
        .map(str::to_string)
}

/// `TracerPid` of `pid`.
fn tracer(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:"))
        .unwrap()
        .trim()
        .to_string()
}

/// `link` and `unlink` trace processes by the PIDs of memlink's own PID namespace, so another
/// `--proc-root` (the host's /proc mounted in a container) is refused with one line and exit 2
/// before any process is stopped or changed; `/proc` spelled another way is still the default.
#[test]
fn link_and_unlink_refuse_another_proc_root() {
    let mut s = Fixture::start("linkee", &["4", "nospin"]);
    let mut t = Fixture::start("linkee", &["4", "seed=9", "nospin"]);
    let (sp, tp) = (s.pid_arg(), t.pid_arg());
    let region = format!("{:#x}", s.addr("region"));
    let hole = format!("{:#x}", t.addr("hole"));
    let root = std::env::temp_dir();
    let root = root.to_str().unwrap();
    let link = |before: &[&str], after: &[&str]| -> Run {
        let mut a = before.to_vec();
        a.extend([
            "link",
            "--source",
            &sp,
            "--target",
            &tp,
            "--address",
            &region,
            "--size",
            "16KiB",
            "--target-address",
            &hole,
        ]);
        a.extend_from_slice(after);
        run(&a)
    };
    let refused = format!("link does not support --proc-root {root}");
    link(&["--proc-root", root], &[]).assert_error(&[&refused, "PID namespace"]);
    link(&[], &["--proc-root", root, "--mode", "copy"]).assert_error(&[&refused]);
    run(&[
        "unlink",
        "--pid",
        &sp,
        "--address",
        &region,
        "--size",
        "16KiB",
        "--proc-root",
        root,
    ])
    .assert_error(&[&format!("unlink does not support --proc-root {root}")]);
    // Nothing was stopped or changed.
    for f in [&mut s, &mut t] {
        assert_eq!(f.ask("ping"), "pong");
        assert_eq!(f.ask("check"), "pattern ok");
        assert_eq!(tracer(f.pid()), "0");
    }
    let line = maps_line(s.pid(), s.addr("region")).unwrap();
    assert!(line.contains("rw-p") && !line.contains("memlink"), "{line}");
    assert!(maps_line(t.pid(), t.addr("hole")).is_none());
    // The default procfs, however spelled, is accepted.
    if is_root() {
        for spelling in ["/proc/", "/proc/self/.."] {
            let out = link(&["--proc-root", spelling], &["--dry-run"]);
            assert!(out.ok().contains("nothing was changed"), "{spelling}");
        }
    }
}

fn list(f: &Fixture, detailed: bool) -> Vec<Value> {
    let pid = f.pid_arg();
    let mut args = vec!["list", "--pid", &pid, "--format", "json"];
    if detailed {
        args.push("--detailed");
    }
    run(&args).json().as_array().unwrap().clone()
}

#[track_caller]
fn at(regions: &[Value], addr: u64) -> &Value {
    regions
        .iter()
        .find(|r| {
            let b = r["base_address"].as_u64().unwrap();
            addr >= b && addr < b + r["size"].as_u64().unwrap()
        })
        .unwrap_or_else(|| panic!("no region contains {addr:#x}"))
}

/// While threads ran on CPUs, the glibc layout fallback took any writable region above an
/// inaccessible page (allocator and JIT pages) for a thread stack, and the page below it for a
/// guard, so two listings a moment apart disagreed.
#[test]
fn running_threads_leave_guarded_allocator_regions_private() {
    let f = Fixture::start("stacks", &["2", "4", "0", "0"]);
    for detailed in [false, true] {
        let regions = list(&f, detailed);
        for (alloc, guard) in f.vars["alloc"].iter().zip(&f.vars["alloc_guard"]) {
            let r = at(&regions, f.addr_of(alloc));
            assert_eq!(r["region_type"], "Private", "{r}");
            let g = at(&regions, f.addr_of(guard));
            assert_eq!(g["region_type"], "Reserved", "{g}");
        }
        let stacks = regions
            .iter()
            .filter(|r| r["region_type"] == "ThreadStack")
            .count();
        assert_eq!(stacks, 2, "one stack per running thread");
    }
}

/// A lone inaccessible page, next to neither a stack nor the heap, was called a `Guard`.
#[test]
fn a_lone_inaccessible_page_is_reserved_not_a_guard() {
    let f = Fixture::start("regions", &["{dir}", "1"]);
    let r = at(&list(&f, false), f.addr("guard")).clone();
    assert_eq!(r["region_type"], "Reserved", "{r}");
    assert_eq!(r["protection"], "---p");
    assert!(r["type_reason"]
        .as_str()
        .unwrap()
        .contains("no stack or heap next to it"));
}

/// A live file whose name really ends in ` (deleted)` was reported as deleted, under the name
/// without the suffix.
#[test]
fn a_live_file_named_with_the_deleted_suffix_is_not_deleted() {
    let f = Fixture::start("deleted_names", &["{dir}"]);
    for detailed in [false, true] {
        let r = at(&list(&f, detailed), f.addr("live")).clone();
        assert_eq!(r["deleted"], false, "{r}");
        assert_eq!(
            r["mapped_file"],
            format!("{}/x (deleted)", f.var("dir")),
            "{r}"
        );
    }
}
