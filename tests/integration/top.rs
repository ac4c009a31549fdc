//! `memlink top` end to end in a real terminal: tmux runs it, keys go in with `send-keys`, the
//! screen comes out with `capture-pane`, polled against a deadline. Also the refusals that come
//! before any screen is drawn.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{is_root, require, require_fail, run, tempdir::TempDir, Fixture};

/// A tmux server of its own (`-L`), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(tag: &str, cmd: &str, cwd: &std::path::Path) -> Tmux {
        let socket = format!("memlink-top-{tag}-{}", std::process::id());
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "120",
                "-y",
                "40",
            ])
            .arg("-c")
            .arg(cwd)
            .arg(cmd)
            .status()
            .unwrap();
        assert!(status.success());
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0"])
    }

    /// Polls the screen until `pred` holds, failing after 20 s with the last screen.
    #[track_caller]
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// Parses `12.5MB`-style cells to bytes.
fn bytes(cell: &str) -> Option<f64> {
    let cell = cell.trim_end_matches('~');
    let (num, unit) = cell.split_at(cell.find(|c: char| c.is_ascii_alphabetic())?);
    let k = match unit {
        "B" => 1.0,
        "KB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(num.parse::<f64>().ok()? * k)
}

#[test]
fn refuses_without_a_terminal_or_with_a_missing_pid() {
    // Standard output is a pipe here.
    let r = run(&["top"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with("memlink: ") && r.stderr.contains("memlink ps"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1);
    assert!(r.stdout.is_empty());
}

#[test]
fn missing_pid_refused_before_drawing() {
    if !require("tmux", "top runs in a real terminal") {
        return;
    }
    let dir = TempDir::new("top-pid");
    let out = dir.path().join("out.txt");
    let cmd = format!(
        "{} top --pid 2147483000 2>{} ; echo exit=$? >>{}; sleep 60",
        env!("CARGO_BIN_EXE_memlink"),
        out.display(),
        out.display()
    );
    let t = Tmux::start("pid", &cmd, dir.path());
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.contains("exit=") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        text,
        "memlink: process 2147483000 does not exist\nexit=2\n",
        "screen:\n{}",
        t.screen()
    );
}

#[test]
fn shows_a_fixture_drills_in_snapshots_and_restores() {
    if !require("tmux", "top runs in a real terminal") {
        return;
    }
    let big = Fixture::start_static("bigmem", &["64"]);
    let regions = Fixture::start("regions", &["{dir}", "2"]);
    let dir = TempDir::new("top-e2e");
    let cmd = format!(
        "printf 'before\\n'; {} top --delay 300ms --pss-every 300ms; echo top-exit=$?; sleep 60",
        env!("CARGO_BIN_EXE_memlink")
    );
    let t = Tmux::start("e2e", &cmd, dir.path());
    t.wait_for("the process list", |s| {
        s.contains("PID") && s.contains("COMMAND")
    });
    // The fixture with 64 MiB resident appears with its PSS.
    t.keys(&["\\"]);
    t.keys(&["-l", &big.pid_arg()]);
    t.keys(&["Enter"]);
    let pid = big.pid_arg();
    let s = t.wait_for("the bigmem row with its PSS", |s| {
        s.lines().any(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            c.first() == Some(&pid.as_str()) && c.get(3).and_then(|x| bytes(x)).is_some()
        })
    });
    let line = s
        .lines()
        .find(|l| l.starts_with(&format!("{pid} ")))
        .unwrap();
    let pss = bytes(line.split_whitespace().nth(3).unwrap()).unwrap();
    let mib = 1024.0 * 1024.0;
    assert!(
        (64.0 * mib..70.0 * mib).contains(&pss),
        "PSS {pss} in {line}"
    );
    // Filter to the threaded fixture and open it: its heap and thread stacks.
    t.keys(&["\\"]);
    t.keys(&["C-u"]);
    for _ in 0..12 {
        t.keys(&["BSpace"]);
    }
    t.keys(&["-l", &regions.pid_arg()]);
    t.keys(&["Enter"]);
    // Only the fixture's row: a short-lived process of a test running alongside, whose
    // command line holds the same digits, would otherwise be the one Enter opens.
    t.wait_for("only the regions fixture", |s| {
        let rows: Vec<&str> = s
            .lines()
            .skip_while(|l| !l.starts_with("PID "))
            .skip(1)
            .filter(|l| {
                l.split_whitespace()
                    .next()
                    .is_some_and(|w| w.parse::<u32>().is_ok())
            })
            .collect();
        !rows.is_empty()
            && rows
                .iter()
                .all(|l| l.starts_with(&format!("{} ", regions.pid())))
    });
    t.keys(&["Enter"]);
    let s = t.wait_for("the process view", |s| {
        s.contains("[heap]") && s.contains("By type")
    });
    assert!(s.contains("ThreadStack"), "{s}");
    t.keys(&["f"]);
    t.keys(&["-l", "threadstack"]);
    t.keys(&["Enter"]);
    t.wait_for("the thread stacks", |s| {
        s.lines()
            .filter(|l| l.contains("ThreadStack") && l.starts_with("0x"))
            .count()
            >= 2
    });
    // The snapshot key writes a file, and says where.
    t.keys(&["S"]);
    let s = t.wait_for("the snapshot message", |s| {
        s.contains("saved a snapshot of")
    });
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with(&format!("memlink-{}-", regions.pid())) && n.ends_with(".snapshot.json")
        })
        .collect();
    assert_eq!(files.len(), 1, "{files:?}\n{s}");
    let snap = std::fs::read_to_string(dir.path().join(&files[0])).unwrap();
    assert!(snap.contains("\"[heap]\""));
    // q leaves the terminal as it was: the line printed before is back, the shell's echo runs.
    t.keys(&["q"]);
    let s = t.wait_for("the exit", |s| s.contains("top-exit=0"));
    assert!(s.contains("before"), "{s}");
    assert!(!s.contains("COMMAND"), "{s}");
    let cursor = t.tmux(&["display", "-p", "-t", "0", "#{cursor_flag} #{alternate_on}"]);
    assert_eq!(cursor.trim(), "1 0");
}

#[test]
fn sigterm_and_sighup_restore_the_terminal() {
    if !require("tmux", "top runs in a real terminal") {
        return;
    }
    for sig in ["TERM", "HUP"] {
        let dir = TempDir::new("top-sig");
        let cmd = format!(
            "{} top --delay 500ms & echo $! > pid; wait; echo top-exit; sleep 60",
            env!("CARGO_BIN_EXE_memlink")
        );
        let t = Tmux::start(&format!("sig{sig}"), &cmd, dir.path());
        t.wait_for("the process list", |s| s.contains("COMMAND"));
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
        Command::new("kill")
            .args([&format!("-{sig}"), pid.trim()])
            .status()
            .unwrap();
        let s = t.wait_for("the exit", |s| s.contains("top-exit"));
        assert!(!s.contains("COMMAND"), "{sig}: {s}");
        let state = t.tmux(&["display", "-p", "-t", "0", "#{alternate_on}"]);
        assert_eq!(state.trim(), "0", "{sig}");
    }
}

#[test]
fn a_tiny_terminal_and_two_hundred_processes() {
    if !require("tmux", "top runs in a real terminal") {
        return;
    }
    let mut sleepers: Vec<std::process::Child> = (0..200)
        .map(|_| Command::new("sleep").arg("600").spawn().unwrap())
        .collect();
    let dir = TempDir::new("top-tiny");
    let cmd = format!(
        "{} top --delay 300ms; sleep 60",
        env!("CARGO_BIN_EXE_memlink")
    );
    let t = Tmux::start("tiny", &cmd, dir.path());
    let s = t.wait_for("at least 200 processes", |s| {
        s.lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().next()?.parse::<u32>().ok())
            .is_some_and(|n| n >= 200)
    });
    assert!(s.contains("COMMAND"), "{s}");
    t.tmux(&["resize-window", "-t", "0", "-x", "40", "-y", "10"]);
    t.wait_for("the narrow columns", |s| {
        s.lines()
            .any(|l| l.starts_with("PID") && l.contains("COMMAND") && !l.contains("USER"))
    });
    t.keys(&["End"]);
    t.keys(&["?"]);
    t.wait_for("the help", |s| s.contains("keys"));
    t.keys(&["q"]);
    for s in &mut sleepers {
        let _ = s.kill();
        let _ = s.wait();
    }
}

/// Whether `memlink leaks` can attach here (root, uprobe PMU); skips or fails otherwise.
fn leaks_ready() -> bool {
    if !is_root() {
        require_fail("memlink leaks needs root (CAP_BPF + CAP_PERFMON)");
        return false;
    }
    if !std::path::Path::new("/sys/bus/event_source/devices/uprobe/type").exists() {
        require_fail("the kernel has no uprobe PMU");
        return false;
    }
    true
}

/// The files of `dir` named `memlink-PID-*.KIND`.
fn outputs(dir: &std::path::Path, pid: u32, kind: &str) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("memlink-{pid}-")) && n.ends_with(kind))
        })
        .collect()
}

#[test]
fn leaks_key_runs_in_the_background_and_saves_its_report() {
    if !require("tmux", "top runs in a real terminal") || !leaks_ready() {
        return;
    }
    // The leaks tests count memlink's probes in the kernel: not while this one runs.
    let _g = crate::leaks::BPF.lock().unwrap_or_else(|e| e.into_inner());
    let fx = Fixture::start("leaky", &[]);
    let pid = fx.pid();
    let dir = TempDir::new("top-leaks");
    let cmd = format!(
        "{} top --delay 300ms --pid {pid} --leaks-duration 4s; echo top-exit=$?; sleep 60",
        env!("CARGO_BIN_EXE_memlink")
    );
    let t = Tmux::start("leaks", &cmd, dir.path());
    t.wait_for("the fixture's row", |s| {
        s.lines().any(|l| l.starts_with(&format!("{pid} ")))
    });
    t.keys(&["L"]);
    // The interface keeps drawing while it runs: the seconds left count down.
    t.wait_for("the running line", |s| {
        s.contains(&format!("leaks of {pid}: running, 4s left"))
            || s.contains(&format!("leaks of {pid}: running, 3s left"))
    });
    t.wait_for("fewer seconds left", |s| {
        s.contains(&format!("leaks of {pid}: running, 1s left"))
            || s.contains(&format!("leaks of {pid}: running, 2s left"))
    });
    // A second press while it runs starts nothing.
    t.keys(&["L"]);
    t.wait_for("the one-at-a-time line", |s| s.contains("one at a time"));
    let s = t.wait_for("the report line", |s| {
        s.contains(&format!("leaks of {pid}: no leak suspected; wrote"))
    });
    let files = outputs(dir.path(), pid, ".leaks.json");
    assert_eq!(files.len(), 1, "{files:?}\n{s}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    assert_eq!(report["pid"], pid);
    assert_eq!(report["mode"], "exact");
    t.keys(&["q"]);
    t.wait_for("the exit", |s| s.contains("top-exit=0"));
}

#[test]
fn leaks_key_says_why_it_failed_and_quitting_stops_it() {
    if !require("tmux", "top runs in a real terminal")
        || !require("setpriv", "top runs as another user")
        || !leaks_ready()
    {
        return;
    }
    let _g = crate::leaks::BPF.lock().unwrap_or_else(|e| e.into_inner());
    let fx = Fixture::start("leaky", &[]);
    let pid = fx.pid();
    let dir = TempDir::new("top-leaks-fail");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    // Not root: memlink leaks refuses, and top says so in its status line.
    let cmd = format!(
        "setpriv --reuid=65534 --regid=65534 --clear-groups {} top --delay 300ms --pid {pid}; \
         echo top-exit=$?; sleep 60",
        env!("CARGO_BIN_EXE_memlink")
    );
    let t = Tmux::start("leaksfail", &cmd, dir.path());
    t.wait_for("the fixture's row", |s| {
        s.lines().any(|l| l.starts_with(&format!("{pid} ")))
    });
    t.keys(&["L"]);
    let s = t.wait_for("the error line", |s| {
        s.contains(&format!("leaks of {pid} failed: "))
    });
    let line = s.lines().find(|l| l.contains("failed: ")).unwrap();
    assert!(
        line.contains("root") || line.contains("permission") || line.contains("CAP_"),
        "{line}"
    );
    assert!(outputs(dir.path(), pid, ".leaks.json").is_empty());
    t.keys(&["q"]);
    t.wait_for("the exit", |s| s.contains("top-exit=0"));
    drop(t);
    // As root, a run that is still going when top quits is stopped and leaves no report.
    let cmd = format!(
        "{} top --delay 300ms --pid {pid} --leaks-duration 60s; echo top-exit=$?; sleep 60",
        env!("CARGO_BIN_EXE_memlink")
    );
    let t = Tmux::start("leaksquit", &cmd, dir.path());
    t.wait_for("the fixture's row", |s| {
        s.lines().any(|l| l.starts_with(&format!("{pid} ")))
    });
    t.keys(&["L"]);
    t.wait_for("the running line", |s| {
        s.contains(&format!("leaks of {pid}: running"))
    });
    let child = leaks_children(pid);
    assert_eq!(child.len(), 1, "one memlink leaks runs: {child:?}");
    t.keys(&["q"]);
    t.wait_for("the exit", |s| s.contains("top-exit=0"));
    assert!(
        !std::path::Path::new(&format!("/proc/{}", child[0])).exists()
            || leaks_children(pid).is_empty(),
        "memlink leaks still runs after q"
    );
    assert!(outputs(dir.path(), pid, ".leaks.json").is_empty());
}

/// PIDs of the `memlink leaks --pid PID` processes running now.
fn leaks_children(pid: u32) -> Vec<u32> {
    let needle = format!("leaks\0--pid\0{pid}\0");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle.as_bytes()))
        })
        .collect()
}

#[test]
fn a_process_that_exits_while_shown() {
    if !require("tmux", "top runs in a real terminal") {
        return;
    }
    let mut fx = Fixture::start("regions", &["{dir}", "2"]);
    let pid = fx.pid();
    let dir = TempDir::new("top-exit");
    let cmd = format!(
        "{} top --delay 300ms --pss-every 30s --pid {pid}; echo top-exit=$?; sleep 60",
        env!("CARGO_BIN_EXE_memlink")
    );
    let t = Tmux::start("exit", &cmd, dir.path());
    // Between two smaps_rollup passes, the row keeps the PSS and USS of the last one, marked
    // `~` once older than the refresh.
    t.wait_for("the fixture's row with an earlier PSS", |s| {
        s.lines().any(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            c.first() == Some(&pid.to_string().as_str())
                && c.get(3)
                    .is_some_and(|x| x.ends_with('~') && bytes(x).is_some())
                && c.get(4)
                    .is_some_and(|x| x.ends_with('~') && bytes(x).is_some())
        })
    });
    t.keys(&["Enter"]);
    t.wait_for("the process view", |s| {
        s.contains("[heap]") && s.contains(&format!("PID {pid} "))
    });
    fx.child.kill().unwrap();
    fx.child.wait().unwrap();
    // The view says so and keeps the last figures.
    let s = t.wait_for("the exited mark", |s| {
        s.contains("[exited: the last figures read]")
    });
    assert!(s.contains("[heap]") && s.contains("By type"), "{s}");
    assert!(s.contains(&format!("process {pid} exited")), "{s}");
    // Back to the list, which no longer has it.
    t.keys(&["Escape"]);
    t.wait_for("the empty list", |s| {
        s.contains("0 processes") && s.contains("COMMAND")
    });
    t.keys(&["q"]);
    let s = t.wait_for("the exit", |s| s.contains("top-exit="));
    assert!(s.contains("top-exit=0"), "{s}");
}
