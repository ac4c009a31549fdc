//! Link and unlink safety (issue 12): refusals before anything is stopped, signals and
//! interrupted system calls exactly as without memlink, and memlink's own death.
//!
//! The control runs use `tracer`, a plain C ptrace tracer built here, which stops and resumes
//! a process the way memlink does, minus the injected calls.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

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
    #[allow(dead_code)]
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

fn linkee(pages: u32, extra: &[&str]) -> Fixture {
    let p = pages.to_string();
    let mut args = vec![p.as_str()];
    args.extend_from_slice(extra);
    Fixture::start("linkee", &args)
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
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
fn status_field(path: &str, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{path}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_default()
}

/// Polls `cond` until it holds or 10 s pass.
#[allow(dead_code)]
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn link_args(s: &Fixture, target: u32, ta: u64) -> Vec<String> {
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

fn can_trace() -> bool {
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
