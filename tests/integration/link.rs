//! `memlink link` and `memlink unlink` against pairs of `linkee` fixtures.
//!
//! Every ptrace operation runs in the `memlink` binary: a `waitpid(-1)` loop inside this test
//! process would reap other tests' children. Rollback tests use the test-only hook
//! `MEMLINK_TEST_FAULT=after:STEP:ACTION` so that "a process died at step X" is deterministic.

use std::time::Duration;

use crate::support::{self, is_root, memlink, run, run_cmd, Fixture, Run};

/// True when this machine lets us ptrace our children; otherwise prints why the test skips.
fn can_trace() -> bool {
    let scope = std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if scope >= 2 && !is_root() || scope == 3 {
        support::require_fail(&format!(
            "ptrace is restricted here (kernel.yama.ptrace_scope = {scope})"
        ));
        return false;
    }
    true
}

/// A `linkee` fixture with PAGES pages and the extra arguments (shared by the link tests).
pub(crate) fn linkee(pages: u32, extra: &[&str]) -> Fixture {
    let p = pages.to_string();
    let mut args = vec![p.as_str()];
    args.extend_from_slice(extra);
    Fixture::start("linkee", &args)
}

/// Source (seed 3) and target (seed 9).
fn pair(pages: u32, extra: &[&str]) -> (Fixture, Fixture) {
    let s = linkee(pages, extra);
    let mut t_extra = vec!["seed=9"];
    t_extra.extend_from_slice(extra);
    let t = linkee(pages, &t_extra);
    (s, t)
}

pub(crate) fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn link(s: &Fixture, t: &Fixture, extra: &[&str]) -> Run {
    link_env(s, t, extra, None)
}

fn link_env(s: &Fixture, t: &Fixture, extra: &[&str], fault: Option<&str>) -> Run {
    let mut c = memlink();
    c.args([
        "link",
        "--source",
        &s.pid_arg(),
        "--target",
        &t.pid_arg(),
        "--address",
        &hex(s.addr("region")),
        "--size",
        s.var("size"),
        "--target-address",
        &hex(t.addr("hole")),
    ])
    .args(extra);
    if let Some(f) = fault {
        c.env("MEMLINK_TEST_FAULT", f);
    }
    run_cmd(&mut c)
}

/// The fixture's own view of its threads' real signal masks: every thread compares its mask
/// with the one it started with after each wait (`/proc` shows ppoll's temporary mask, so it
/// cannot be compared from outside).
fn masks_fine(f: &mut Fixture) {
    let st = f.ask("status");
    assert!(
        st.contains("maskbad=0 "),
        "a thread's signal mask changed: {st}"
    );
}

/// Open fds of `pid` that point at a memlink memfd.
pub(crate) fn link_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|p| p.to_string_lossy().contains("memlink-link"))
        .count()
}

/// The `maps` line starting at `addr`, if any.
pub(crate) fn maps_line(pid: u32, addr: u64) -> Option<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let start = format!("{addr:x}-");
    maps.lines()
        .find(|l| l.starts_with(&start))
        .map(str::to_string)
}

fn maps_mention(pid: u32, what: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap()
        .contains(what)
}

/// The counters of the fixture's waiting threads, after letting each finish one full wait.
/// No test but the signal flood sends signals, so a sleep ended by EINTR is an error.
fn assert_threads_fine(f: &mut Fixture) {
    assert_threads_fine_but(f, "intr=0")
}

fn assert_threads_fine_but(f: &mut Fixture, also: &str) {
    std::thread::sleep(Duration::from_millis(1700));
    let st = f.ask("status");
    for bad in [
        "early=0",
        "badrc=0",
        "condbad=0",
        "ppollbad=0",
        "maskbad=0 ",
        also,
    ] {
        assert!(st.contains(bad), "{st}");
    }
    assert!(!st.contains("sleeps=0 "), "sleeper never woke: {st}");
    assert_eq!(f.ask("ping"), "pong");
}

/// The survivor of a failed link: unchanged, answering, no memfd leaked.
fn assert_unchanged_source(s: &mut Fixture) {
    assert_eq!(s.ask("ping"), "pong");
    assert_eq!(s.ask("check"), "pattern ok");
    let line = maps_line(s.pid(), s.addr("region")).expect("source region still mapped");
    assert!(
        line.contains("rw-p"),
        "source range must stay private: {line}"
    );
    assert!(
        !maps_mention(s.pid(), "memlink-link"),
        "memfd left mapped in source"
    );
    assert_eq!(link_fds(s.pid()), 0, "memfd fd leaked in source");
    masks_fine(s);
}

fn assert_unchanged_target(t: &mut Fixture) {
    assert_eq!(t.ask("ping"), "pong");
    assert_eq!(t.ask("check"), "pattern ok");
    assert!(
        maps_line(t.pid(), t.addr("hole")).is_none(),
        "target hole got a mapping"
    );
    assert!(
        !maps_mention(t.pid(), "memlink-link"),
        "memfd left mapped in target"
    );
    assert_eq!(link_fds(t.pid()), 0, "memfd fd leaked in target");
    masks_fine(t);
}

#[test]
fn share_link_survives_and_shares_both_ways() {
    if !can_trace() {
        return;
    }
    let (mut s, mut t) = pair(16, &[]);
    let r = link(&s, &t, &["--verify", "--format", "json"]);
    let j = r.json();
    assert_eq!(j["mode"], "share");
    assert_eq!(j["verified"], true);
    assert_eq!(j["bytes_copied"], 16 * 4096);
    // memlink-link:S:A:PID:START, with memlink's own PID and start time.
    let prefix = format!("memlink-link:{}:{:x}:", s.pid(), s.addr("region"));
    let name = j["memfd_name"].as_str().unwrap().to_string();
    let owner = name
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{name}"));
    let (mpid, start) = owner.split_once(':').unwrap();
    assert!(mpid.parse::<u32>().unwrap() > 0 && start.parse::<u64>().unwrap() > 0);
    // The pattern survives in the source and appears in the target.
    assert_eq!(s.ask("check"), "pattern ok");
    let size = s.var("size").to_string();
    let hole = t.addr("hole");
    assert_eq!(t.ask(&format!("checkat {hole:x} {size} 3")), "pattern ok");
    // A write by one is read by the other, both ways.
    let region = s.addr("region");
    assert_eq!(s.ask(&format!("pokeat {:x} 200", region + 5)), "ok");
    assert_eq!(t.ask(&format!("peekat {:x}", hole + 5)), "200");
    assert_eq!(
        t.ask(&format!("pokeat {:x} 77", hole + 4096 * 15 + 1)),
        "ok"
    );
    assert_eq!(s.ask(&format!("peek {}", 4096 * 15 + 1)), "77");
    // Both map the same memfd; no fd is left behind.
    let sl = maps_line(s.pid(), region).unwrap();
    let tl = maps_line(t.pid(), hole).unwrap();
    assert!(sl.contains("rw-s") && sl.contains(&name), "{sl}");
    assert!(tl.contains("rw-s") && tl.contains(&name), "{tl}");
    assert_eq!(link_fds(s.pid()) + link_fds(t.pid()), 0);
    // Signal masks unchanged; sleeper, condvar and ppoll threads saw nothing odd.
    masks_fine(&mut s);
    masks_fine(&mut t);
    assert_threads_fine(&mut s);
    assert_threads_fine(&mut t);
    // list classifies the range as a memlink link; the plain memfd is not one.
    let list = run(&["list", "--pid", &s.pid_arg(), "--format", "json"]).json();
    let regions = list.as_array().unwrap();
    let at = |a: u64| {
        regions
            .iter()
            .find(|r| r["base_address"].as_u64() == Some(a))
            .unwrap()
            .clone()
    };
    let linked = at(region);
    assert_eq!(linked["region_type"], "SharedMemory");
    assert!(linked["type_reason"]
        .as_str()
        .unwrap()
        .contains("memlink link"));
    let demo = at(s.addr("memfd_demo"));
    assert!(!demo["type_reason"]
        .as_str()
        .unwrap()
        .contains("memlink link"));
    // The partners of the linked range.
    let p = memlink::link::link_partners(s.pid()).unwrap();
    let linked = p.iter().find(|p| p.start == region).expect("partners");
    assert_eq!(linked.partners, vec![t.pid()]);
    let text = run(&["analyze", "--pid", &s.pid_arg()]).ok().to_string();
    let want = format!("{region:#x}-{:#x}", region + 16 * 4096);
    let line = text
        .lines()
        .find(|l| l.starts_with(&want) && l.contains("partners:"))
        .unwrap_or_else(|| panic!("analyze shows no partners: {text}"));
    assert!(line.ends_with(&format!("partners: {}", t.pid())), "{line}");
    let p = memlink::link::link_partners(t.pid()).unwrap();
    assert_eq!(
        p.iter().find(|p| p.start == hole).unwrap().partners,
        vec![s.pid()]
    );
}

#[test]
fn mixed_protections_are_kept_per_piece() {
    if !can_trace() {
        return;
    }
    let (mut s, mut t) = pair(3, &["mixed", "nospin"]);
    let out = link(&s, &t, &[]).ok().to_string();
    assert!(out.starts_with("Linked 12.0KB"), "{out}");
    let (a, h) = (s.addr("region"), t.addr("hole"));
    for (off, perms) in [(0, "rw-s"), (4096, "r--s"), (8192, "rw-s")] {
        assert!(maps_line(s.pid(), a + off).unwrap().contains(perms));
        assert!(maps_line(t.pid(), h + off).unwrap().contains(perms));
    }
    assert_eq!(s.ask("check"), "pattern ok");
    assert_eq!(t.ask(&format!("checkat {h:x} 12288 3")), "pattern ok");
}

#[test]
fn dry_run_changes_nothing() {
    if !can_trace() {
        return;
    }
    let (mut s, mut t) = pair(4, &["nospin"]);
    let out = link(&s, &t, &["--dry-run"]).ok().to_string();
    assert!(out.starts_with("Would link 16.0KB"), "{out}");
    assert!(out.contains("nothing was changed"));
    assert_unchanged_source(&mut s);
    assert_unchanged_target(&mut t);
}

/// Each failure point of the rollback table: the survivor (or both) unchanged.
#[test]
fn rollback_at_every_failure_point() {
    if !can_trace() {
        return;
    }
    for (fault, source_dies, target_dies) in [
        ("after:stop:fail", false, false),
        ("after:scratch:kill-target", false, true),
        ("after:memfd:fail", false, false),
        ("after:copy:kill-target", false, true),
        ("after:copy:kill-source", true, false),
        ("after:target-fd:kill-source", true, false),
        ("after:target-fd:fail", false, false),
        ("after:target-map:kill-target", false, true),
        ("after:target-map:kill-source", true, false),
        ("after:target-map:fail", false, false),
        ("after:check:fail", false, false),
    ] {
        let (mut s, mut t) = pair(8, &[]);
        let r = link_env(&s, &t, &[], Some(fault));
        assert_ne!(r.code, 0, "{fault}: {}", r.stdout);
        let dead = if source_dies { s.pid() } else { t.pid() };
        if source_dies || target_dies {
            r.assert_error(&[&format!("process {dead} exited")]);
        } else {
            r.assert_error(&["test fault injected"]);
        }
        if !source_dies {
            assert_unchanged_source(&mut s);
        }
        if !target_dies {
            assert_unchanged_target(&mut t);
        }
        if !source_dies && !target_dies {
            assert_threads_fine(&mut s);
        }
    }
}

#[test]
fn target_dying_after_the_remap_leaves_the_source_linked_and_intact() {
    if !can_trace() {
        return;
    }
    let (mut s, t) = pair(4, &["nospin"]);
    let r = link_env(&s, &t, &[], Some("after:remap:kill-target"));
    r.assert_error(&[
        &format!("process {} exited", t.pid()),
        "source keeps a shared mapping",
    ]);
    assert_eq!(s.ask("check"), "pattern ok");
    assert!(maps_line(s.pid(), s.addr("region"))
        .unwrap()
        .contains("rw-s"));
    assert_eq!(link_fds(s.pid()), 0);
    assert_eq!(s.ask("ping"), "pong");
}

#[test]
fn refusals_name_the_cause_and_change_nothing() {
    if !can_trace() {
        return;
    }
    let (mut s, mut t) = pair(4, &["nospin"]);
    let (sp, tp) = (s.pid_arg(), t.pid_arg());
    let hole = hex(t.addr("hole"));
    let try_link = |addr: &str, size: &str, extra: &[&str]| {
        let mut a = vec![
            "link",
            "--source",
            &sp,
            "--target",
            &tp,
            "--address",
            addr,
            "--size",
            size,
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let region = hex(s.addr("region"));
    let ta = ["--target-address", hole.as_str()];
    try_link(&region, "0", &ta).assert_error(&["size must not be 0"]);
    try_link(&hex(s.addr("region") + 1), "4096", &ta).assert_error(&["not a multiple"]);
    try_link(&region, "100", &ta).assert_error(&["not a multiple"]);
    try_link("0x7ffffffff000", "8KiB", &ta).assert_error(&["overflows user space"]);
    try_link(&hex(s.addr("shared")), "4KiB", &ta).assert_error(&["already shared"]);
    try_link(&hex(s.addr("prot_none")), "4KiB", &ta).assert_error(&["PROT_NONE"]);
    if s.vars.contains_key("mlocked") {
        try_link(&hex(s.addr("mlocked")), "4KiB", &ta).assert_error(&["mlocked"]);
    }
    try_link(&hex(s.addr("holed")), "12KiB", &ta).assert_error(&["not mapped"]);
    try_link(&hex(s.addr("heap")), "4KiB", &ta).assert_error(&["heap"]);
    try_link(&hex(s.addr("stack")), "4KiB", &ta).assert_error(&["stack"]);
    try_link(&hex(s.addr("libc")), "4KiB", &ta).assert_error(&["backed by the file"]);
    try_link(
        &hex(s.addr("big")),
        "64GiB",
        &["--target-address", "0x100000000000"],
    )
    .assert_error(&["not enough memory"]);
    // Target range occupied (its own pattern region).
    try_link(
        &region,
        "16KiB",
        &["--target-address", &hex(t.addr("region"))],
    )
    .assert_error(&["occupied"]);
    // Same process, missing process, kernel thread.
    run(&[
        "link",
        "--source",
        &sp,
        "--target",
        &sp,
        "--address",
        &region,
        "--size",
        "4096",
    ])
    .assert_error(&["same process"]);
    run(&[
        "link",
        "--source",
        &sp,
        "--target",
        "999999999",
        "--address",
        &region,
        "--size",
        "4096",
    ])
    .assert_error(&["999999999"]);
    run(&[
        "link",
        "--source",
        "2",
        "--target",
        &tp,
        "--address",
        &region,
        "--size",
        "4096",
    ])
    .assert_error(&["kernel thread"]);
    // Bad syntax.
    run(&[
        "link",
        "--source",
        &sp,
        "--target",
        &tp,
        "--address",
        "zz",
        "--size",
        "4096",
    ])
    .assert_error(&["invalid address"]);
    run(&[
        "link",
        "--source",
        &sp,
        "--target",
        &tp,
        "--address",
        &region,
        "--size",
        "4XB",
    ])
    .assert_error(&["invalid size"]);
    assert_unchanged_source(&mut s);
    assert_unchanged_target(&mut t);
}

#[test]
fn refuses_zombies_traced_processes_and_pinned_pages() {
    if !can_trace() {
        return;
    }
    let mut t = linkee(4, &["nospin"]);
    let tp = t.pid_arg();
    // A zombie: a child of `sleep` that exits and is never reaped.
    let mut parent = std::process::Command::new("sh")
        .args(["-c", "sleep 0 & exec sleep 30"])
        .spawn()
        .unwrap();
    let zombie = (0..200)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(10));
            let c = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", parent.id()))
                .ok()?;
            let z = c.split_whitespace().next()?.to_string();
            let st = std::fs::read_to_string(format!("/proc/{z}/stat")).ok()?;
            st.contains(") Z ").then_some(z)
        })
        .expect("a zombie child");
    run(&[
        "link",
        "--source",
        &zombie,
        "--target",
        &tp,
        "--address",
        "0x10000",
        "--size",
        "4096",
    ])
    .assert_error(&["zombie"]);
    let _ = parent.kill();
    let _ = parent.wait();

    // Pinned pages (io_uring), then --allow-pinned links.
    let s = linkee(4, &["nospin", "uring"]);
    link(&s, &t, &[]).assert_error(&["io_uring", "--allow-pinned"]);
    link(&s, &t, &["--allow-pinned"]).ok();
    assert_eq!(
        t.ask(&format!("checkat {:x} 16384 3", t.addr("hole"))),
        "pattern ok"
    );

    // Already traced: gdb holds the process.
    if support::require("gdb", "to hold a process traced") {
        let s2 = linkee(4, &["nospin"]);
        let t2 = linkee(4, &["nospin", "seed=9"]);
        let mut gdb = std::process::Command::new("gdb")
            .args([
                "-q",
                "-nx",
                "-batch",
                "-p",
                &s2.pid_arg(),
                "-ex",
                "shell sleep 20",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let traced = (0..1000).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            std::fs::read_to_string(format!("/proc/{}/status", s2.pid()))
                .unwrap()
                .lines()
                .any(|l| l.starts_with("TracerPid:") && !l.ends_with("\t0"))
        });
        assert!(traced, "gdb did not attach");
        link(&s2, &t2, &[]).assert_error(&["already traced by process"]);
        let _ = gdb.kill();
        let _ = gdb.wait();
    }
}

#[test]
fn seccomp_is_suspended_when_privileged() {
    if !can_trace() || !is_root() {
        return;
    }
    let (mut s, t) = pair(4, &["nospin", "seccomp"]);
    let st = std::fs::read_to_string(format!("/proc/{}/status", s.pid())).unwrap();
    assert!(
        st.contains("Seccomp:\t2"),
        "fixture did not install seccomp"
    );
    link(&s, &t, &[]).ok();
    assert_eq!(s.ask("check"), "pattern ok");
    assert_eq!(s.ask("ping"), "pong");
}

/// memlink as `nobody`: refused against root processes (permission), and against its own
/// seccomp-filtered processes (it cannot suspend seccomp without CAP_SYS_ADMIN).
#[test]
fn unprivileged_caller_is_refused() {
    if !is_root() {
        support::require_fail("the cross-user test needs root to start processes as two users");
        return;
    }
    if !support::require("setpriv", "to run memlink as nobody") {
        return;
    }
    let (s, t) = pair(4, &["nospin"]);
    let bin = env!("CARGO_BIN_EXE_memlink");
    let as_nobody = |args: &[&str]| {
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", bin])
            .args(args);
        run_cmd(&mut c)
    };
    let region = hex(s.addr("region"));
    let hole = hex(t.addr("hole"));
    as_nobody(&[
        "link",
        "--source",
        &s.pid_arg(),
        "--target",
        &t.pid_arg(),
        "--address",
        &region,
        "--size",
        "16KiB",
        "--target-address",
        &hole,
    ])
    .assert_error(&["permission denied", "CAP_SYS_PTRACE"]);
    assert!(maps_line(s.pid(), s.addr("region"))
        .unwrap()
        .contains("rw-p"));

    // Both processes belong to nobody, the source runs under seccomp: without CAP_SYS_ADMIN
    // memlink cannot suspend seccomp, so it refuses.
    use std::os::unix::process::CommandExt;
    let nobody = |c: &mut std::process::Command| {
        c.uid(65534).gid(65534);
    };
    let mut s = Fixture::start_with("linkee", &["4", "nospin", "seccomp"], nobody);
    let t = Fixture::start_with("linkee", &["4", "nospin", "seed=9"], nobody);
    as_nobody(&[
        "link",
        "--source",
        &s.pid_arg(),
        "--target",
        &t.pid_arg(),
        "--address",
        &hex(s.addr("region")),
        "--size",
        "16KiB",
        "--target-address",
        &hex(t.addr("hole")),
    ])
    .assert_error(&["seccomp"]);
    assert_unchanged_source(&mut s);
}

#[test]
fn copy_mode_copies_exact_bytes_and_reports_partial_copies() {
    let (s, mut t) = pair(4, &["nospin"]);
    let (sp, tp) = (s.pid_arg(), t.pid_arg());
    let region = hex(s.addr("region"));
    let tregion = hex(t.addr("region"));
    assert_eq!(
        t.ask("check"),
        "pattern ok",
        "target starts with its own pattern"
    );
    let j = run(&[
        "link",
        "--mode",
        "copy",
        "--source",
        &sp,
        "--target",
        &tp,
        "--address",
        &region,
        "--size",
        "16KiB",
        "--target-address",
        &tregion,
        "--verify",
        "--format",
        "json",
    ])
    .json();
    assert_eq!(j["bytes_copied"], 16384);
    assert_eq!(j["verified"], true);
    assert_eq!(
        t.ask(&format!("checkat {:x} 16384 3", t.addr("region"))),
        "pattern ok"
    );
    // Nothing is shared: a later write stays private.
    assert!(maps_line(t.pid(), t.addr("region"))
        .unwrap()
        .contains("rw-p"));
    // Pages 2-3 of `beyond` lie past the end of its file: exactly one page arrives.
    run(&[
        "link",
        "--mode",
        "copy",
        "--source",
        &sp,
        "--target",
        &tp,
        "--address",
        &hex(s.addr("beyond")),
        "--size",
        "12KiB",
        "--target-address",
        &tregion,
    ])
    .assert_error(&["stopped after 4096 of 12288 bytes"]);
    // Target not writable.
    run(&[
        "link",
        "--mode",
        "copy",
        "--source",
        &sp,
        "--target",
        &tp,
        "--address",
        &region,
        "--size",
        "4KiB",
        "--target-address",
        &hex(t.addr("prot_none")),
    ])
    .assert_error(&["must be writable"]);
    // Target not mapped.
    run(&[
        "link",
        "--mode",
        "copy",
        "--source",
        &sp,
        "--target",
        &tp,
        "--address",
        &region,
        "--size",
        "4KiB",
        "--target-address",
        &hex(t.addr("hole")),
    ])
    .assert_error(&["not mapped"]);
}

#[test]
fn unlink_makes_the_range_private_again() {
    if !can_trace() {
        return;
    }
    let (mut s, mut t) = pair(4, &[]);
    link(&s, &t, &[]).ok();
    let (a, h) = (s.addr("region"), t.addr("hole"));
    let sp = s.pid_arg();
    // Refusals first: a range that is not a link.
    run(&[
        "unlink",
        "--pid",
        &sp,
        "--address",
        &hex(s.addr("heap")),
        "--size",
        "4096",
    ])
    .assert_error(&["not a shared memfd"]);
    run(&["unlink", "--pid", &sp, "--address", &hex(a), "--size", "0"])
        .assert_error(&["size must not be 0"]);
    // A failed unlink leaves the link as it was.
    let mut c = memlink();
    c.args([
        "unlink",
        "--pid",
        &sp,
        "--address",
        &hex(a),
        "--size",
        "16KiB",
    ])
    .env("MEMLINK_TEST_FAULT", "after:copy:fail");
    run_cmd(&mut c).assert_error(&["test fault injected"]);
    assert!(maps_line(s.pid(), a).unwrap().contains("rw-s"));
    masks_fine(&mut s);

    // The unlinked process dying half-way leaves the partner's mapping intact.
    let (s2, mut t2) = pair(4, &["nospin"]);
    link(&s2, &t2, &[]).ok();
    let mut c = memlink();
    c.args([
        "unlink",
        "--pid",
        &s2.pid_arg(),
        "--address",
        &hex(s2.addr("region")),
        "--size",
        "16KiB",
    ])
    .env("MEMLINK_TEST_FAULT", "after:copy:kill-source");
    run_cmd(&mut c).assert_error(&[&format!("process {}", s2.pid())]);
    let h2 = t2.addr("hole");
    assert!(maps_line(t2.pid(), h2).unwrap().contains("memlink-link"));
    assert_eq!(t2.ask(&format!("checkat {h2:x} 16384 3")), "pattern ok");
    assert_eq!(t2.ask("ping"), "pong");

    let out = run(&[
        "unlink",
        "--pid",
        &sp,
        "--address",
        &hex(a),
        "--size",
        "16KiB",
    ])
    .ok()
    .to_string();
    assert!(out.starts_with("Made 16.0KB"), "{out}");
    let line = maps_line(s.pid(), a).unwrap();
    assert!(line.contains("rw-p") && !line.contains("memfd"), "{line}");
    assert_eq!(s.ask("check"), "pattern ok");
    // The partner keeps its mapping and content; writes no longer cross.
    assert!(maps_line(t.pid(), h).unwrap().contains("memlink-link"));
    assert_eq!(t.ask(&format!("checkat {h:x} 16384 3")), "pattern ok");
    assert_eq!(s.ask("poke 0 111"), "ok");
    assert_eq!(t.ask(&format!("peekat {h:x}")), "3");
    masks_fine(&mut s);
    assert_threads_fine(&mut s);
    assert_eq!(link_fds(s.pid()), 0);
}

/// A target of another user cannot `pidfd_getfd` from the source, so the memfd travels over a
/// socket pair brokered by memlink (root here).
#[test]
fn cross_user_link_passes_the_memfd_over_a_socket() {
    if !can_trace() {
        return;
    }
    if !is_root() {
        support::require_fail("the cross-user link needs root to start a process as nobody");
        return;
    }
    use std::os::unix::process::CommandExt;
    let mut s = linkee(4, &["nospin"]);
    let mut t = Fixture::start_with("linkee", &["4", "nospin", "seed=9"], |c| {
        c.uid(65534).gid(65534);
    });
    let maps = |pid: u32| -> Vec<(u64, u64)> {
        std::fs::read_to_string(format!("/proc/{pid}/maps"))
            .unwrap()
            .lines()
            .map(|l| {
                let (a, b) = l.split_once(' ').unwrap().0.split_once('-').unwrap();
                (
                    u64::from_str_radix(a, 16).unwrap(),
                    u64::from_str_radix(b, 16).unwrap(),
                )
            })
            .collect()
    };
    let (ms, mt) = (maps(s.pid()), maps(t.pid()));
    let j = link(&s, &t, &["--format", "json"]).json();
    assert_eq!(j["fd_method"], "scm-rights");
    // No scratch page is left behind: the target gained exactly the linked range, and every
    // new line in the source is the range itself or a neighbour split off from it.
    let (a, n) = (s.addr("region"), 16384);
    let new_t: Vec<_> = maps(t.pid())
        .into_iter()
        .filter(|m| !mt.contains(m))
        .collect();
    assert_eq!(new_t, vec![(t.addr("hole"), t.addr("hole") + n)]);
    for m in maps(s.pid()).into_iter().filter(|m| !ms.contains(m)) {
        assert!(
            m.0 == a || m.0 == a + n || m.1 == a,
            "unexpected new mapping {m:x?}"
        );
    }
    let h = t.addr("hole");
    assert_eq!(t.ask(&format!("checkat {h:x} 16384 3")), "pattern ok");
    assert_eq!(t.ask(&format!("pokeat {h:x} 42")), "ok");
    assert_eq!(s.ask("peek 0"), "42");
    assert_eq!(link_fds(s.pid()) + link_fds(t.pid()), 0);
    masks_fine(&mut s);
    masks_fine(&mut t);
}

/// The fd limit reached in the source (memfd_create) or in the target (pidfd_open, then
/// socketpair): EMFILE, and both processes unchanged.
#[test]
fn fd_limit_in_either_process_rolls_back() {
    if !can_trace() {
        return;
    }
    let mut s = linkee(4, &["nospin", "fdlimit"]);
    let mut t = linkee(4, &["nospin", "seed=9"]);
    link(&s, &t, &[]).assert_error(&["memfd_create", "Too many open files"]);
    assert_unchanged_source(&mut s);
    assert_unchanged_target(&mut t);

    let mut s = linkee(4, &["nospin"]);
    let mut t = linkee(4, &["nospin", "seed=9", "fdlimit"]);
    link(&s, &t, &[]).assert_error(&["Too many open files"]);
    assert_unchanged_source(&mut s);
    assert_unchanged_target(&mut t);
}

/// A stopped (`T`) source is linked and stays stopped; after SIGCONT it runs normally.
#[test]
fn stopped_source_stays_stopped_and_resumes() {
    if !can_trace() {
        return;
    }
    let (mut s, mut t) = pair(4, &["nospin"]);
    s.stop();
    link(&s, &t, &[]).ok();
    let state = |pid: u32| {
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        st.rsplit_once(')')
            .unwrap()
            .1
            .trim_start()
            .chars()
            .next()
            .unwrap()
    };
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(state(s.pid()), 'T', "the source must stay stopped");
    s.cont();
    assert_eq!(s.ask("check"), "pattern ok");
    let h = t.addr("hole");
    assert_eq!(t.ask(&format!("pokeat {h:x} 9")), "ok");
    assert_eq!(s.ask("peek 0"), "9");
    assert_threads_fine(&mut s);
}

/// The injection thread (the main thread) stopped in each kind of wait: `clock_nanosleep`
/// (-ERESTART_RESTARTBLOCK, resumed through `restart_syscall`), a condvar futex wait, `ppoll`
/// with a temporary mask (-ERESTARTNOHAND) and user space. The default fixture covers `read`
/// (-ERESTARTSYS). Each resumes correctly: no early wake-up, no errno 512-516, masks intact.
#[test]
fn injection_thread_resumes_from_every_kind_of_wait() {
    if !can_trace() {
        return;
    }
    for mode in ["main=sleep", "main=cond", "main=ppoll", "main=spin"] {
        let (mut s, mut t) = pair(4, &["nospin", mode]);
        // Let the main threads settle into their waits.
        std::thread::sleep(Duration::from_millis(50));
        link(&s, &t, &[]).ok();
        assert_eq!(s.ask("check"), "pattern ok", "{mode}");
        let h = t.addr("hole");
        assert_eq!(
            t.ask(&format!("checkat {h:x} 16384 3")),
            "pattern ok",
            "{mode}"
        );
        assert_threads_fine(&mut s);
        assert_threads_fine(&mut t);
    }
}

/// A flood of SIGUSR1 at both processes during a 64 MiB link: no handler runs on memlink's
/// borrowed context (signals are blocked while a call is in flight), the signals are
/// delivered afterwards, and both processes carry on normally.
#[test]
fn signal_flood_during_a_link() {
    if !can_trace() {
        return;
    }
    let (mut s, mut t) = pair(16384, &["nospin"]);
    let flood = |pid: u32| {
        std::process::Command::new("sh")
            .args([
                "-c",
                &format!("while kill -USR1 {pid} 2>/dev/null; do :; done"),
            ])
            .spawn()
            .unwrap()
    };
    let (mut fs, mut ft) = (flood(s.pid()), flood(t.pid()));
    std::thread::sleep(Duration::from_millis(50));
    let r = link(&s, &t, &["--verify"]);
    let _ = fs.kill();
    let _ = ft.kill();
    let _ = fs.wait();
    let _ = ft.wait();
    r.ok();
    assert_eq!(s.ask("check"), "pattern ok");
    let h = t.addr("hole");
    assert_eq!(t.ask(&format!("checkat {h:x} 4096 3")), "pattern ok");
    for f in [&mut s, &mut t] {
        let st = f.ask("status");
        let usr1: u64 = st
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("usr1="))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(usr1 > 0, "no SIGUSR1 was delivered: {st}");
        // The flood itself interrupts clock_nanosleep (EINTR), as it would without memlink.
        assert_threads_fine_but(f, "");
    }
}

/// The binary under test carries the test-only fault hook: the package's dev-dependency on
/// itself turns on the `test-hooks` feature whenever the tests are built, so an invalid
/// `MEMLINK_TEST_FAULT` is refused before anything else. A binary without the hook ignores the
/// variable (`benches/link/release_ignores_fault_hook.sh` checks the release build), and then
/// every rollback test above would prove nothing.
#[test]
fn the_tested_binary_has_the_fault_hook() {
    let link = [
        "link",
        "--source",
        "1",
        "--target",
        "2",
        "--address",
        "0x1000",
        "--size",
        "4096",
    ];
    let unlink = [
        "unlink",
        "--pid",
        "1",
        "--address",
        "0x1000",
        "--size",
        "4096",
    ];
    for args in [&link[..], &unlink[..]] {
        let mut c = memlink();
        c.args(args).env("MEMLINK_TEST_FAULT", "after:nowhere:fail");
        run_cmd(&mut c).assert_error(&["invalid test fault \"after:nowhere:fail\""]);
    }
}
