//! memlink SIGKILLed while a thread of the source or the target is *inside* an injected system
//! call (issue 12, item 1): the thread finishes the call unsupervised and returns through the
//! `rt_sigreturn` frame memlink prepared, to exactly where it was. The test-only hook
//! `MEMLINK_TEST_FAULT=during:CALL@PROCESS:hold` stops memlink at the syscall-entry stop of
//! that call, so each kill lands inside a chosen call.

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use crate::link::{hex, link_fds, linkee, maps_line};
use crate::linksafe::{
    can_trace, cleanup, kill_memlink_at, link_args, start_holding, status_field, wait_until,
};
use crate::support::{self, memlink, run_cmd, Fixture};

/// The number of an injected call the hook can name.
fn nr(call: &str) -> u32 {
    match call {
        "close" => 3,
        "mmap" => 9,
        "pwrite64" => 18,
        "mremap" => 25,
        "recvmsg" => 47,
        "socketpair" => 53,
        "ftruncate" => 77,
        "memfd_create" => 319,
        "pidfd_open" => 434,
        "pidfd_getfd" => 438,
        _ => panic!("no such call {call}"),
    }
}

/// SIGKILLs memlink inside `call` (`CALL@source` or `CALL@target`) of the link `args`, then
/// waits until the kernel has detached both processes.
fn kill_inside(args: &[String], spec: &str, pids: [u32; 2]) {
    let call = spec.split('@').next().unwrap();
    kill_memlink_at(
        args,
        &format!("during:{spec}:hold"),
        &format!("during system call {}", nr(call)),
    );
    for p in pids {
        wait_until("the kernel to detach", || {
            !std::path::Path::new(&format!("/proc/{p}")).exists()
                || status_field(&p.to_string(), "TracerPid:") == "0"
        });
    }
}

/// After a kill and `unlink --cleanup` of both: no memlink fd is left, and the range is either
/// linked in both (the remap ran) or private in S with nothing in T's hole.
fn assert_consistent(s: &mut Fixture, t: &mut Fixture, what: &str) {
    let out = cleanup(s.pid()) + &cleanup(t.pid());
    assert_eq!(link_fds(s.pid()) + link_fds(t.pid()), 0, "{what}: {out}");
    let (region, hole) = (s.addr("region"), t.addr("hole"));
    let sl = maps_line(s.pid(), region).expect("source range mapped");
    if sl.contains("rw-s") {
        assert!(maps_line(t.pid(), hole).is_some(), "{what}: {sl}");
        assert_eq!(t.ask(&format!("pokeat {:x} 42", hole + 1)), "ok", "{what}");
        assert_eq!(s.ask("peek 1"), "42", "{what}");
    } else {
        assert!(sl.contains("rw-p"), "{what}: {sl}");
        assert!(maps_line(t.pid(), hole).is_none(), "{what}: {out}");
    }
}

/// Kills memlink inside `spec` of a link from `s` to `t`; both `linkee` processes must then
/// answer with their pattern and masks intact, and be consistent after the cleanup.
fn kill_and_check(s: &mut Fixture, t: &mut Fixture, spec: &str) {
    kill_inside(
        &link_args(s, t.pid(), t.addr("hole")),
        spec,
        [s.pid(), t.pid()],
    );
    for f in [&mut *s, &mut *t] {
        assert_eq!(f.ask("ping"), "pong", "{spec}");
        assert_eq!(f.ask("check"), "pattern ok", "{spec}");
        assert!(f.ask("status").contains("maskbad=0 "), "{spec}");
    }
    assert_consistent(s, t, spec);
}

/// Both `linkee` processes alive, answering, with their content and signal masks, after
/// memlink died inside each injected call of a link (pidfd method), in the source and in the
/// target; `unlink --cleanup` then leaves a consistent state. Before the return frame, the
/// thread resumed after the borrowed `syscall` with injected registers and the process died.
#[test]
fn issue_12_memlink_killed_inside_each_injected_call() {
    if !can_trace() {
        return;
    }
    for spec in [
        "memfd_create@source",
        "ftruncate@source",
        "pwrite64@source",
        "pidfd_open@target",
        "pidfd_getfd@target",
        "mmap@target",
        "mmap@source",
        "close@target",
        "close@source",
    ] {
        let mut s = linkee(4, &[]);
        let mut t = linkee(4, &["seed=9"]);
        kill_and_check(&mut s, &mut t, spec);
        let st = s.ask("status");
        assert!(st.contains("early=0 badrc=0"), "{spec}: {st}");
    }
}

/// The same inside the calls of the socket method (a target of another user), where the
/// message header lies in the target's stack below the return frame.
#[test]
fn issue_12_memlink_killed_inside_the_socket_calls() {
    if !can_trace() {
        return;
    }
    if !support::is_root() {
        support::require_fail("the socket method needs a target of another user (root starts it)");
        return;
    }
    for spec in ["socketpair@target", "recvmsg@target", "close@target"] {
        let mut s = linkee(4, &["nospin"]);
        let mut t = Fixture::start_with("linkee", &["4", "nospin", "seed=9"], |c| {
            c.uid(65534).gid(65534);
        });
        kill_and_check(&mut s, &mut t, spec);
    }
}

/// A field `key=N` of an `avxee` status line.
fn field(status: &str, key: &str) -> u64 {
    status
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {status}"))
}

/// Waits until the `avxee` fixture has done `more` further rounds of its vector loop.
fn wait_rounds(f: &mut Fixture, more: u64) -> String {
    let start = field(&f.ask("status"), "rounds");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let st = f.ask("status");
        if field(&st, "rounds") >= start + more {
            return st;
        }
        assert!(Instant::now() < deadline, "the vector loop stalled: {st}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The injection thread computes with AVX registers and owns an alternate signal stack.
/// memlink is killed inside a call injected into it (as the source and as the target): the
/// thread's vector registers come back from the frame's XSAVE image (every sum stays right),
/// its mask from the frame, and its sigaltstack is untouched (`uc_stack` carries a mode the
/// kernel ignores): a SIGUSR1 sent afterwards runs its handler on the alternate stack.
#[test]
fn issue_12_vector_state_and_sigaltstack_survive_a_kill_inside_a_call() {
    if !can_trace() {
        return;
    }
    let avx2 = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.contains(" avx2"));
    if !avx2 {
        support::require_fail("the vector fixture needs AVX2");
        return;
    }
    for spec in [
        "pwrite64@source",
        "mmap@source",
        "mmap@target",
        "pidfd_getfd@target",
    ] {
        let mut s = Fixture::start("avxee", &["4"]);
        let mut t = Fixture::start("avxee", &["4", "seed=9"]);
        wait_rounds(&mut s, 2);
        wait_rounds(&mut t, 2);
        kill_inside(
            &link_args(&s, t.pid(), t.addr("hole")),
            spec,
            [s.pid(), t.pid()],
        );
        for (name, f) in [("source", &mut s), ("target", &mut t)] {
            assert_eq!(f.ask("ping"), "pong", "{spec}: {name}");
            assert_eq!(f.ask("check"), "pattern ok", "{spec}: {name}");
            let st = wait_rounds(f, 20);
            assert_eq!(field(&st, "avxbad"), 0, "{spec}: {name}: {st}");
            assert_eq!(field(&st, "maskbad"), 0, "{spec}: {name}: {st}");
            support::signal(f.pid(), "USR1");
            wait_until("the SIGUSR1 handler", || {
                let st = f.ask("status");
                field(&st, "onalt") + field(&st, "offalt") >= 1
            });
            let st = f.ask("status");
            assert_eq!(
                (field(&st, "onalt"), field(&st, "offalt")),
                (1, 0),
                "{spec}: {name}: the handler did not run on the alternate stack: {st}"
            );
        }
        let (region, hole) = (s.addr("region"), t.addr("hole"));
        let _ = cleanup(s.pid()) + &cleanup(t.pid());
        assert_eq!(link_fds(s.pid()) + link_fds(t.pid()), 0, "{spec}");
        if maps_line(s.pid(), region).unwrap().contains("rw-s") {
            assert_eq!(t.ask(&format!("checkat {hole:x} 16384 3")), "pattern ok");
        }
    }
}

/// `unlink` killed inside its own injected calls (the `mmap` of the temporary range, the
/// `mremap` over the range): the process lives with its content; the partner keeps the link.
#[test]
fn issue_12_memlink_killed_inside_an_unlink_call() {
    if !can_trace() {
        return;
    }
    for call in ["mmap", "mremap"] {
        let mut s = linkee(4, &[]);
        let mut t = linkee(4, &["seed=9"]);
        run_cmd(memlink().args(link_args(&s, t.pid(), t.addr("hole")))).ok();
        let args: Vec<String> = [
            "unlink",
            "--pid",
            &s.pid_arg(),
            "--address",
            &hex(s.addr("region")),
            "--size",
            "16384",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        kill_inside(&args, call, [s.pid(), s.pid()]);
        assert_eq!(s.ask("ping"), "pong", "{call}");
        assert_eq!(s.ask("check"), "pattern ok", "{call}");
        assert!(s.ask("status").contains("maskbad=0 "), "{call}");
        let _ = cleanup(s.pid());
        assert_eq!(s.ask("check"), "pattern ok", "{call}");
        let h = t.addr("hole");
        assert_eq!(t.ask(&format!("checkat {h:x} 16384 3")), "pattern ok");
        assert_eq!(t.ask("ping"), "pong");
    }
}

/// The lines of `/proc/PID/maps`.
fn maps_lines(pid: u32) -> Vec<String> {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// An `unlink` killed after it mapped its temporary range (after `scratch`, after `copy`)
/// leaves that N-byte range named by a marker memfd (`memlink-unlink:P:A:TMP:N:PID:START`);
/// `unlink --cleanup` finds and removes both, and the range is still the link it was. Before,
/// the temporary range was an unnamed anonymous mapping no cleanup could find.
#[test]
fn issue_12_cleanup_removes_the_temporary_range_of_a_killed_unlink() {
    if !can_trace() {
        return;
    }
    for step in ["scratch", "copy"] {
        let mut s = linkee(4, &[]);
        let mut t = linkee(4, &["seed=9"]);
        run_cmd(memlink().args(link_args(&s, t.pid(), t.addr("hole")))).ok();
        let before = maps_lines(s.pid());
        let region = s.addr("region");
        let args: Vec<String> = [
            "unlink",
            "--pid",
            &s.pid_arg(),
            "--address",
            &hex(region),
            "--size",
            "16384",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        kill_memlink_at(
            &args,
            &format!("after:{step}:hold"),
            &format!("after {step}"),
        );
        wait_until("the kernel to detach", || {
            status_field(&s.pid_arg(), "TracerPid:") == "0"
        });
        assert_eq!(s.ask("ping"), "pong", "{step}");
        let left = maps_lines(s.pid());
        let new: Vec<&String> = left.iter().filter(|l| !before.contains(l)).collect();
        assert_eq!(new.len(), 1, "{step}: one temporary range: {new:?}");
        let out = cleanup(s.pid());
        assert!(out.contains("the temporary range of"), "{step}: {out}");
        assert!(out.contains("memlink-unlink:"), "{step}: {out}");
        assert_eq!(maps_lines(s.pid()), before, "{step}: {out}");
        let fds = std::fs::read_dir(format!("/proc/{}/fd", s.pid()))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|p| p.to_string_lossy().contains("memlink-unlink"))
            .count();
        assert_eq!(fds, 0, "{step}: the marker fd is closed");
        // Still the link it was, both ways.
        assert!(maps_line(s.pid(), region).unwrap().contains("rw-s"));
        assert_eq!(s.ask("check"), "pattern ok", "{step}");
        let h = t.addr("hole");
        assert_eq!(t.ask(&format!("pokeat {:x} 42", h + 1)), "ok");
        assert_eq!(s.ask("peek 1"), "42", "{step}");
    }
}

/// `unlink --cleanup` never touches another memlink's work in flight: with a link held after
/// `target-map` (the target then holds the memfd's fd and mapping, named with the running
/// memlink's PID and start time), a cleanup of the target finds nothing to remove and stops
/// nothing, and the held link then completes.
#[test]
fn issue_12_cleanup_keeps_the_work_of_a_running_memlink() {
    if !can_trace() {
        return;
    }
    use std::io::Write;
    let mut s = linkee(4, &["nospin"]);
    let mut t = linkee(4, &["nospin", "seed=9"]);
    let (mut c, _err, _) = start_holding(
        &link_args(&s, t.pid(), t.addr("hole")),
        "after:target-map:hold",
        "after target-map",
    );
    assert_eq!(link_fds(t.pid()), 1);
    let out = cleanup(t.pid());
    assert_eq!(
        out,
        format!("No memlink leftovers in process {}\n", t.pid())
    );
    assert_eq!(link_fds(t.pid()), 1, "the running link's fd was kept");
    writeln!(c.stdin.as_mut().unwrap()).unwrap();
    assert!(c.wait().unwrap().success());
    let h = t.addr("hole");
    assert_eq!(t.ask(&format!("checkat {h:x} 16384 3")), "pattern ok");
    assert_eq!(t.ask(&format!("pokeat {h:x} 42")), "ok");
    assert_eq!(s.ask("peek 0"), "42");
}
