//! Link and unlink safety (issue 12): refusals before anything is stopped, signals and
//! interrupted system calls exactly as without memlink, and memlink's own death.
//!
//! The control runs use `tracer`, a plain C ptrace tracer built here, which stops and resumes
//! a process the way memlink does, minus the injected calls.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::link::{hex, link_fds, linkee, maps_line};
use crate::support::{self, is_root, memlink, run_cmd, Fixture};

const TRACER_C: &str = r#"/* A plain ptrace tracer for the link safety tests, doing what memlink does minus injection.
 *
 *   tracer seize TID   seize one thread (TracerPid names this process), print "ready", then
 *                      wait for stdin to close
 *   tracer hold PID    seize and PTRACE_INTERRUPT every thread of PID, wait for every stop,
 *                      print "held", read one line from stdin, detach every thread, print
 *                      "released", then wait for stdin to close
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
    perror(what);
    exit(2);
}

static void drain(void) {
    char buf[64];
    while (read(0, buf, sizeof buf) > 0) {
    }
}

int main(int argc, char **argv) {
    if (argc != 3)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);
    pid_t pid = atoi(argv[2]);
    if (!strcmp(argv[1], "seize")) {
        if (ptrace(PTRACE_SEIZE, pid, 0, 0))
            die("seize");
        printf("ready\n");
        drain();
        return 0;
    }
    pid_t tids[256];
    int n = 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        die("opendir");
    struct dirent *e;
    while ((e = readdir(d)) && n < 256)
        if (e->d_name[0] != '.')
            tids[n++] = atoi(e->d_name);
    closedir(d);
    for (int i = 0; i < n; i++) {
        if (ptrace(PTRACE_SEIZE, tids[i], 0, 0) || ptrace(PTRACE_INTERRUPT, tids[i], 0, 0))
            die("seize");
        for (;;) {
            int st;
            if (waitpid(tids[i], &st, __WALL) < 0)
                die("waitpid");
            if (WIFSTOPPED(st) && (st >> 16) == PTRACE_EVENT_STOP)
                break;
            /* A signal that raced the interrupt: deliver it, as memlink does. */
            if (WIFSTOPPED(st) && ptrace(PTRACE_CONT, tids[i], 0, WSTOPSIG(st)))
                die("cont");
        }
    }
    printf("held\n");
    char line[16];
    if (!fgets(line, sizeof line, stdin))
        return 2;
    for (int i = 0; i < n; i++)
        ptrace(PTRACE_DETACH, tids[i], 0, 0);
    printf("released\n");
    drain();
    return 0;
}
"#;

const WAITER_C: &str = r#"/* The main thread blocks once in one system call, for the signal-restart tests.
 *
 *   waiter MODE [restart]   MODE: pause sigsuspend read nanosleep futex epoll ppoll
 *
 * A SIGUSR1 handler (installed without SA_RESTART, unless `restart`) writes "usr1". For
 * sigsuspend, SIGUSR1 is blocked outside the call. A 4-page region holds byte i = (i*7+3)&0xff
 * and a free hole is kept for a link target. Prints hole=, region=, size=, nr= (the call's
 * number), then ready; when the call returns it prints "woke rc=R errno=E" and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void on_usr1(int s) {
    (void)s;
    write(1, "usr1\n", 5);
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    const char *mode = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = argc > 2 && !strcmp(argv[2], "restart") ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *region = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (long i = 0; i < 4 * page; i++)
        region[i] = (unsigned char)((i * 7 + 3) & 0xff);
    void *hole = mmap(NULL, 64 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(hole, 64 * page);
    int fds[2];
    if (pipe(fds))
        return 2;
    int ep = epoll_create1(0);
    static int word;
    long nr = -1;
    if (!strcmp(mode, "pause")) nr = SYS_pause;
    else if (!strcmp(mode, "sigsuspend")) nr = SYS_rt_sigsuspend;
    else if (!strcmp(mode, "read")) nr = SYS_read;
    else if (!strcmp(mode, "nanosleep")) nr = SYS_nanosleep;
    else if (!strcmp(mode, "futex")) nr = SYS_futex;
    else if (!strcmp(mode, "epoll")) nr = SYS_epoll_wait;
    else if (!strcmp(mode, "ppoll")) nr = SYS_ppoll;
    else return 2;
    sigset_t usr1, empty;
    sigemptyset(&usr1);
    sigemptyset(&empty);
    sigaddset(&usr1, SIGUSR1);
    if (nr == SYS_rt_sigsuspend)
        sigprocmask(SIG_BLOCK, &usr1, NULL);
    printf("hole=%p\nregion=%p\nsize=%ld\nnr=%ld\nready\n", hole, (void *)region, 4 * page, nr);
    long rc;
    char c;
    struct timespec ts = {3600, 0};
    struct epoll_event ev;
    struct pollfd pfd = {fds[0], POLLIN, 0};
    switch (nr) {
    case SYS_pause: rc = syscall(SYS_pause); break;
    case SYS_rt_sigsuspend: rc = syscall(SYS_rt_sigsuspend, &empty, 8); break;
    case SYS_read: rc = syscall(SYS_read, fds[0], &c, 1); break;
    case SYS_nanosleep: rc = syscall(SYS_nanosleep, &ts, NULL); break;
    case SYS_futex: rc = syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0); break;
    case SYS_epoll_wait: rc = syscall(SYS_epoll_wait, ep, &ev, 1, -1); break;
    default: rc = syscall(SYS_ppoll, &pfd, 1, NULL, &empty, 8); break;
    }
    printf("woke rc=%ld errno=%d\n", rc, rc < 0 ? errno : 0);
    return 0;
}
"#;

/// Compiles C source `src` as `name` once per test run.
fn build_inline(name: &str, src: &str) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("linksafe");
    std::fs::create_dir_all(&dir).unwrap();
    let c = dir.join(format!("{name}.c"));
    let bin = dir.join(name);
    if std::fs::read_to_string(&c).ok().as_deref() != Some(src) || !bin.exists() {
        std::fs::write(&c, src).unwrap();
        let tmp = dir.join(format!("{name}.tmp"));
        let st = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-O1", "-g", "-Wall", "-pthread", "-o"])
            .arg(&tmp)
            .arg(&c)
            .status()
            .expect("run the C compiler");
        assert!(st.success(), "compiling {name} failed");
        std::fs::rename(&tmp, &bin).unwrap();
    }
    bin
}

/// A running `tracer`, killed when dropped.
struct Tracer {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
}

impl Tracer {
    /// Starts `tracer MODE PID` and waits for its first line (`ready` or `held`).
    fn start(mode: &str, pid: u32) -> Tracer {
        let mut child = Command::new(build_inline("tracer", TRACER_C))
            .args([mode, &pid.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let out = BufReader::new(child.stdout.take().unwrap());
        let mut t = Tracer { child, stdin, out };
        let first = t.line();
        assert!(first == "ready" || first == "held", "tracer: {first:?}");
        t
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.out.read_line(&mut l).unwrap();
        l.trim_end().to_string()
    }

    /// Lets a `hold` tracer detach and waits until it did.
    fn release(&mut self) {
        writeln!(self.stdin.as_mut().unwrap(), "go").unwrap();
        assert_eq!(self.line(), "released");
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The threads of `pid` other than the leader.
fn other_threads(pid: u32) -> Vec<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&t| t != pid)
        .collect()
}

/// The field `key` of `/proc/PID/status` (or `/proc/PID/task/TID/status`).
pub(crate) fn status_field(path: &str, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{path}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// Polls `cond` until it holds or 10 s pass.
pub(crate) fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub(crate) fn link_args(s: &Fixture, target: u32, ta: u64) -> Vec<String> {
    vec![
        "link".into(),
        "--source".into(),
        s.pid_arg(),
        "--target".into(),
        target.to_string(),
        "--address".into(),
        hex(s.addr("region")),
        "--size".into(),
        s.var("size").into(),
        "--target-address".into(),
        hex(ta),
    ]
}

pub(crate) fn can_trace() -> bool {
    if !is_root() {
        support::require_fail("the link safety tests trace processes as root");
        return false;
    }
    true
}

/// Issue 12 item 3: `--target` naming a thread of the source is refused before anything is
/// stopped (the source never shows a tracer), without "try sudo" to root; so is the reverse.
#[test]
fn issue_12_target_thread_of_the_source_is_refused_before_stopping() {
    if !can_trace() {
        return;
    }
    let mut s = linkee(4, &["nospin"]);
    let thread = other_threads(s.pid())[0];
    for (src, tgt) in [(s.pid(), thread), (thread, s.pid())] {
        let mut args = link_args(&s, tgt, 0x7e00_0000_0000);
        args[2] = src.to_string();
        let r = run_cmd(memlink().args(&args));
        r.assert_error(&[&format!("threads of the same process ({})", s.pid())]);
        assert!(!r.stderr.contains("sudo"), "{}", r.stderr);
    }
    // Nothing was stopped: every thread still reports no tracer and answers.
    for t in std::iter::once(s.pid()).chain(other_threads(s.pid())) {
        assert_eq!(
            status_field(&format!("{}/task/{t}", s.pid()), "TracerPid:"),
            "0"
        );
    }
    assert_eq!(s.ask("ping"), "pong");
    assert_eq!(s.ask("check"), "pattern ok");
}

/// Issue 12 item 3: a tracer holding one non-leader thread of the source is invisible to the
/// pre-flight check (the leader's `TracerPid` is 0); the refused seize names it instead of
/// "permission denied (try sudo)", and the source carries on.
#[test]
fn issue_12_refused_seize_names_the_tracer_of_a_thread() {
    if !can_trace() {
        return;
    }
    let mut s = linkee(4, &["nospin"]);
    let t = linkee(4, &["nospin", "seed=9"]);
    let thread = other_threads(s.pid())[0];
    let tracer = Tracer::start("seize", thread);
    assert_eq!(status_field(&s.pid_arg(), "TracerPid:"), "0");
    let r = run_cmd(memlink().args(link_args(&s, t.pid(), t.addr("hole"))));
    r.assert_error(&[&format!("already traced by process {}", tracer.child.id())]);
    assert!(!r.stderr.contains("sudo"), "{}", r.stderr);
    drop(tracer);
    assert_eq!(s.ask("ping"), "pong");
    assert_eq!(s.ask("check"), "pattern ok");
}

/// Issue 12 item 3: the source dying during the cleanup after the link is an error (one
/// `memlink:` line, exit 2) naming it, not a success with a log warning; the target keeps the
/// linked range with its content.
#[test]
fn issue_12_source_dying_in_cleanup_is_an_error() {
    if !can_trace() {
        return;
    }
    let s = linkee(4, &["nospin"]);
    let mut t = linkee(4, &["nospin", "seed=9"]);
    let r = run_cmd(
        memlink()
            .args(link_args(&s, t.pid(), t.addr("hole")))
            .env("MEMLINK_TEST_FAULT", "after:remap:kill-source"),
    );
    r.assert_error(&[&format!("process {} exited", s.pid()), "cleanup"]);
    let h = t.addr("hole");
    assert_eq!(t.ask(&format!("checkat {h:x} 16384 3")), "pattern ok");
    assert_eq!(t.ask("ping"), "pong");
}

/// A running `waiter`, killed when dropped.
struct Waiter {
    child: Child,
    out: BufReader<ChildStdout>,
    vars: HashMap<String, String>,
}

impl Waiter {
    fn start(args: &[&str]) -> Waiter {
        let mut child = Command::new(build_inline("waiter", WAITER_C))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut vars = HashMap::new();
        loop {
            let mut l = String::new();
            assert!(out.read_line(&mut l).unwrap() > 0, "waiter exited early");
            let l = l.trim_end();
            if l == "ready" {
                break;
            }
            if let Some((k, v)) = l.split_once('=') {
                vars.insert(k.to_string(), v.to_string());
            }
        }
        let w = Waiter { child, out, vars };
        let nr = w.nr();
        wait_until("the waiter to block in its call", || w.in_call(nr));
        w
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn addr(&self, key: &str) -> u64 {
        u64::from_str_radix(self.vars[key].trim_start_matches("0x"), 16).unwrap()
    }

    fn nr(&self) -> i64 {
        self.vars["nr"].parse().unwrap()
    }

    /// Asleep (`S`) inside system call `nr` (or `restart_syscall`, 219, that resumes it).
    fn in_call(&self, nr: i64) -> bool {
        let pid = self.pid();
        let st = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let sleeping = st
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with('S'));
        let call = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
        let n = call
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<i64>().ok());
        sleeping && (n == Some(nr) || n == Some(219))
    }

    fn usr1_pending(&self) -> bool {
        let bit = 1u64 << (libc_sigusr1() - 1);
        ["ShdPnd:", "SigPnd:"].iter().any(|k| {
            u64::from_str_radix(&status_field(&self.pid().to_string(), k), 16).unwrap_or(0) & bit
                != 0
        })
    }

    /// What became of the call: the lines printed after `ready`, then `exited` once the call
    /// returned (the waiter exits), or `blocked` when it sleeps in the call again with no
    /// SIGUSR1 pending.
    fn outcome(mut self) -> String {
        let nr = self.nr();
        let deadline = Instant::now() + Duration::from_secs(10);
        let end = loop {
            if self.child.try_wait().unwrap().is_some() {
                break "exited";
            }
            if !self.usr1_pending() && self.in_call(nr) {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break "blocked";
            }
            assert!(
                Instant::now() < deadline,
                "waiter neither returned nor slept"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.out, &mut rest);
        let mut lines: Vec<&str> = rest.lines().collect();
        lines.push(end);
        lines.join("; ")
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn libc_sigusr1() -> u32 {
    10
}

/// Starts `memlink ARGS` with `MEMLINK_TEST_FAULT=FAULT` and waits until it announces
/// `test hold WHERE`; the running memlink and its standard error (the lines read so far in
/// `seen`).
#[allow(
    clippy::zombie_processes,
    reason = "the child is returned: every caller waits for it"
)]
pub(crate) fn start_holding(
    args: &[String],
    fault: &str,
    place: &str,
) -> (Child, BufReader<std::process::ChildStderr>, String) {
    let mut c = memlink()
        .args(args)
        .env("MEMLINK_TEST_FAULT", fault)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(c.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut l = String::new();
        if err.read_line(&mut l).unwrap_or(0) == 0 {
            let _ = c.kill();
            let _ = c.wait();
            panic!("memlink ended before holding ({fault}): {seen}");
        }
        seen.push_str(&l);
        if l.contains(&format!("test hold {place}")) {
            return (c, err, seen);
        }
    }
}

/// Runs `memlink ARGS` with the test hook holding the processes after step `target-map`,
/// runs `during` while they are held, then lets memlink finish; it must succeed.
fn link_holding(args: &[String], during: impl FnOnce()) {
    let (mut c, mut err, seen) = start_holding(args, "after:target-map:hold", "after target-map");
    during();
    writeln!(c.stdin.as_mut().unwrap()).unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut err, &mut rest);
    let st = c.wait().unwrap();
    assert!(st.success(), "memlink failed: {seen}{rest}");
}

/// Sends SIGUSR1 to the waiter (when `signal`) and waits until it is pending.
fn signal_waiter(w: &Waiter, signal: bool) {
    if signal {
        support::signal(w.pid(), "USR1");
        wait_until("SIGUSR1 to be pending", || w.usr1_pending());
    }
}

/// Issue 12 item 2: the injection thread blocked in `pause`, `sigsuspend`, `read` (with and
/// without `SA_RESTART`), `nanosleep`, `futex`, `epoll_wait` or `ppoll`, with or without a
/// SIGUSR1 sent while memlink holds it, ends exactly as in a control run where a plain tracer
/// stops and resumes it without injecting anything. With a handler without `SA_RESTART` every
/// call returns EINTR (the manual restart used to re-issue `pause`, `sigsuspend` and `read`,
/// which then missed their wake-up); with `SA_RESTART` the `read` goes on.
#[test]
fn issue_12_interrupted_calls_end_as_without_memlink() {
    if !can_trace() {
        return;
    }
    let cases: &[&[&str]] = &[
        &["pause"],
        &["sigsuspend"],
        &["read"],
        &["read", "restart"],
        &["nanosleep"],
        &["futex"],
        &["epoll"],
        &["ppoll"],
    ];
    for case in cases {
        for signal in [true, false] {
            let w = Waiter::start(case);
            let mut tracer = Tracer::start("hold", w.pid());
            signal_waiter(&w, signal);
            tracer.release();
            let control = w.outcome();
            drop(tracer);
            if signal {
                let want = if case.len() > 1 {
                    "usr1; blocked"
                } else {
                    "usr1; woke rc=-1 errno=4; exited"
                };
                assert_eq!(control, want, "control {case:?}");
            }
            // memlink with the waiter as the target, then as the source.
            for role in ["target", "source"] {
                let w = Waiter::start(case);
                let mut other = linkee(4, &["nospin", "seed=9"]);
                let args = if role == "target" {
                    link_args(&other, w.pid(), w.addr("hole"))
                } else {
                    let mut a = link_args(&other, w.pid(), other.addr("hole"));
                    a[2] = w.pid().to_string();
                    a[4] = other.pid_arg();
                    a[6] = hex(w.addr("region"));
                    a[8] = w.vars["size"].clone();
                    a
                };
                link_holding(&args, || {
                    if role == "target" {
                        // The waiter exits once its call returns: look while it is held.
                        let maps =
                            std::fs::read_to_string(format!("/proc/{}/maps", w.pid())).unwrap();
                        let at = format!("{:x}-", w.addr("hole"));
                        assert!(maps.contains(&at), "{case:?}: target not mapped");
                    }
                    signal_waiter(&w, signal)
                });
                if role == "source" {
                    let at = other.addr("hole");
                    assert_eq!(
                        other.ask(&format!("checkat {at:x} 16384 3")),
                        "pattern ok",
                        "{case:?}"
                    );
                } else {
                    assert_eq!(other.ask("check"), "pattern ok");
                }
                assert_eq!(
                    w.outcome(),
                    control,
                    "{case:?} signal={signal} as {role}: differs from the control run"
                );
            }
        }
    }
}

/// Starts `memlink ARGS` holding after `step`, waits until it holds, and SIGKILLs it there.
fn kill_memlink_holding(args: &[String], step: &str) {
    kill_memlink_at(
        args,
        &format!("after:{step}:hold"),
        &format!("after {step}"),
    );
}

/// Starts `memlink ARGS` with `MEMLINK_TEST_FAULT=FAULT`, waits until it announces
/// `test hold WHERE`, and SIGKILLs it there.
pub(crate) fn kill_memlink_at(args: &[String], fault: &str, place: &str) {
    let (mut c, _, _) = start_holding(args, fault, place);
    c.kill().unwrap();
    c.wait().unwrap();
}

pub(crate) fn cleanup(pid: u32) -> String {
    run_cmd(memlink().args(["unlink", "--cleanup", "--pid", &pid.to_string()]))
        .ok()
        .to_string()
}

/// Issue 12 item 1 (the part outside injected calls): memlink SIGKILLed between two injected
/// calls, after each step, harms neither process (both answer, content and signal masks
/// intact), leaves exactly the documented leftovers (no scratch page; memfd fds; a target
/// mapping whose source stayed private), and `memlink unlink --cleanup` removes them, keeping
/// a link that passed its point of no return.
#[test]
fn issue_12_memlink_killed_between_calls_and_cleanup() {
    if !can_trace() {
        return;
    }
    let steps = [
        "stop",
        "scratch",
        "memfd",
        "truncate",
        "copy",
        "target-fd",
        "target-map",
        "check",
        "remap",
    ];
    for (i, step) in steps.iter().enumerate() {
        let mut s = linkee(4, &[]);
        let mut t = linkee(4, &["seed=9"]);
        let maps_before = std::fs::read_to_string(format!("/proc/{}/maps", s.pid()))
            .unwrap()
            .lines()
            .count();
        kill_memlink_holding(&link_args(&s, t.pid(), t.addr("hole")), step);
        for p in [s.pid(), t.pid()] {
            wait_until("the kernel to detach", || {
                status_field(&p.to_string(), "TracerPid:") == "0"
            });
        }
        for f in [&mut s, &mut t] {
            assert_eq!(f.ask("ping"), "pong", "{step}");
            assert_eq!(f.ask("check"), "pattern ok", "{step}");
            assert!(f.ask("status").contains("maskbad=0 "), "{step}");
        }
        let (region, hole) = (s.addr("region"), t.addr("hole"));
        let linked = *step == "remap";
        // The leftovers, exactly.
        let memfd_made = i >= 2;
        let target_fd = i >= 5;
        let target_mapped = i >= 6;
        assert_eq!(
            link_fds(s.pid()),
            usize::from(memfd_made),
            "{step}: source fds"
        );
        assert_eq!(
            link_fds(t.pid()),
            usize::from(target_fd),
            "{step}: target fds"
        );
        assert_eq!(maps_line(t.pid(), hole).is_some(), target_mapped, "{step}");
        if !linked {
            let maps_now = std::fs::read_to_string(format!("/proc/{}/maps", s.pid()))
                .unwrap()
                .lines()
                .count();
            assert_eq!(
                maps_now, maps_before,
                "{step}: a mapping was left in the source"
            );
        }
        let out = cleanup(s.pid()) + &cleanup(t.pid());
        assert_eq!(
            out.contains("Removed:"),
            memfd_made,
            "{step}: cleanup said {out}"
        );
        assert_eq!(link_fds(s.pid()) + link_fds(t.pid()), 0, "{step}: {out}");
        let sl = maps_line(s.pid(), region).unwrap();
        if linked {
            // Past the point of no return: the link stands and works both ways.
            assert!(sl.contains("rw-s"), "{step}: {sl}");
            assert!(maps_line(t.pid(), hole).is_some(), "{step}");
            assert_eq!(t.ask(&format!("pokeat {:x} 42", hole + 1)), "ok");
            assert_eq!(s.ask("peek 1"), "42");
        } else {
            assert!(sl.contains("rw-p"), "{step}: {sl}");
            assert!(maps_line(t.pid(), hole).is_none(), "{step}: {out}");
        }
        for f in [&mut s, &mut t] {
            assert_eq!(f.ask("ping"), "pong", "{step}");
        }
        assert_eq!(
            cleanup(s.pid()),
            format!("No memlink leftovers in process {}\n", s.pid())
        );
    }
}

/// Issue 12 item 1: every piece gets its protection from its own `mmap`, in the source and in
/// the target, so no instant between two calls (memlink killed there) leaves a writable
/// piece read-only: a link of mixed protections issues no `mprotect` at all (the hook would
/// announce the first one).
#[test]
fn issue_12_pieces_are_mapped_with_their_own_protection() {
    if !can_trace() {
        return;
    }
    let s = linkee(4, &["nospin", "mixed"]);
    let t = linkee(4, &["nospin", "seed=9"]);
    let before: Vec<String> = std::fs::read_to_string(format!("/proc/{}/maps", s.pid()))
        .unwrap()
        .lines()
        .filter(|l| {
            let start = u64::from_str_radix(l.split('-').next().unwrap(), 16).unwrap();
            start >= s.addr("region") && start < s.addr("region") + 16384
        })
        .map(|l| l[l.find(' ').unwrap() + 1..][..3].to_string())
        .collect();
    assert!(before.len() > 1, "the fixture has mixed pieces: {before:?}");
    let r = run_cmd(
        memlink()
            .args(link_args(&s, t.pid(), t.addr("hole")))
            .env("MEMLINK_TEST_FAULT", "during:mprotect:hold")
            .stdin(Stdio::null()),
    );
    r.ok();
    assert!(
        !r.stderr.contains("test hold"),
        "an mprotect was injected: {}",
        r.stderr
    );
    for (pid, at) in [(s.pid(), s.addr("region")), (t.pid(), t.addr("hole"))] {
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
        let perms: Vec<String> = maps
            .lines()
            .filter(|l| {
                let start = u64::from_str_radix(l.split('-').next().unwrap(), 16).unwrap();
                start >= at && start < at + 16384
            })
            .map(|l| l[l.find(' ').unwrap() + 1..][..3].to_string())
            .collect();
        assert_eq!(perms, before, "process {pid}");
    }
}
