//! Every refusal of `list`/`analyze`: one line, naming the PID and the cause, exit code 2.

use std::process::{Command, Stdio};

use crate::support::{self, is_root, require, require_fail, run, Fixture};

fn unused_pid() -> String {
    let max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304);
    (max + 1).to_string()
}

/// Waits until `pid` is a zombie (or gone).
fn wait_for_zombie(pid: u32) {
    for _ in 0..500 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        match stat.rsplit_once(')') {
            None => return,
            Some((_, rest)) if rest.trim_start().starts_with('Z') => return,
            _ => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
    panic!("process {pid} did not become a zombie");
}

#[test]
fn missing_pid() {
    let pid = unused_pid();
    for cmd in ["list", "analyze"] {
        run(&[cmd, "--pid", &pid]).assert_error(&[&pid, "does not exist"]);
    }
}

#[test]
fn pid_zero_and_garbage() {
    run(&["list", "--pid", "0"]).assert_error(&["PID 0"]);
    run(&["list", "--pid", "abc"]).assert_error(&["abc"]);
    run(&["list", "--pid", "-5"]).assert_error(&[]);
    run(&["list"]).assert_error(&["--pid"]);
}

#[test]
fn usage_errors_exit_2() {
    let r = run(&["no-such-command"]);
    assert_eq!(r.code, 2);
    let r = run(&["list", "--pid", "1", "--format", "yaml"]);
    assert_eq!(r.code, 2);
}

#[test]
fn kernel_thread() {
    let kthread = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| memlink::proc::stat::parse(s.as_bytes()).ok())
                .is_some_and(|s| s.is_kernel_thread())
        });
    let Some(pid) = kthread else {
        require_fail("no kernel thread is visible in this PID namespace");
        return;
    };
    let pid = pid.to_string();
    run(&["list", "--pid", &pid]).assert_error(&[&pid, "kernel thread"]);
}

#[test]
fn zombie() {
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id();
    wait_for_zombie(pid);
    let p = pid.to_string();
    run(&["list", "--pid", &p]).assert_error(&[&p, "zombie"]);
    run(&["analyze", "--pid", &p, "--summary"]).assert_error(&[&p, "zombie"]);
    child.wait().unwrap();
}

#[test]
fn process_of_another_user() {
    if !require("setpriv", "runs memlink as an unprivileged user") {
        return;
    }
    if !is_root() {
        // Unprivileged: PID 1 belongs to root.
        run(&["list", "--pid", "1"]).assert_error(&[
            "permission denied",
            "process 1",
            "CAP_SYS_PTRACE",
        ]);
        return;
    }
    let f = Fixture::start("regions", &["{dir}", "1"]);
    let pid = f.pid_arg();
    let r = support::run_cmd(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_memlink"))
            .args(["list", "--pid", &pid]),
    );
    r.assert_error(&[
        "permission denied",
        &format!("process {pid}"),
        "CAP_SYS_PTRACE",
    ]);
    let mut f = f;
    assert_eq!(f.ask("ping"), "pong", "the target is unharmed");
}

#[test]
fn process_that_exits_while_being_read() {
    let mut f = Fixture::start("regions", &["{dir}", "1"]);
    let pid = f.pid();
    let stream = memlink::MemoryAnalyzer::new(pid)
        .unwrap()
        .regions(true)
        .unwrap();
    f.child.kill().unwrap();
    // Leave it a zombie (not reaped) until the stream has finished.
    wait_for_zombie(pid);
    let err = stream
        .collect::<Result<Vec<_>, _>>()
        .expect_err("a process that died mid-read is reported");
    let msg = err.to_string();
    assert!(msg.contains(&format!("process {pid} exited")), "{msg}");
}

#[test]
fn broken_pipe_exits_quietly() {
    let f = Fixture::start("regions", &["{dir}", "1"]);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = support::memlink()
        .args([
            "list",
            "--pid",
            &f.pid_arg(),
            "--detailed",
            "--format",
            "json",
        ])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn proc_root_without_the_process() {
    let f = crate::support::Fixture::start("steady", &["1024"]);
    let pid = f.pid_arg();
    let missing = f.dir.path().join("no-such-root");
    let missing = missing.to_str().unwrap();
    let out = f.dir.path().join("never.bin");
    let out = out.to_str().unwrap();
    let commands: [&[&str]; 3] = [
        &["search", "--pid", &pid, "--text", "x"],
        &[
            "dump",
            "--pid",
            &pid,
            "--address",
            "0x1000",
            "--size",
            "4K",
            "-o",
            out,
        ],
        &["audit", "--pid", &pid],
    ];
    for cmd in commands {
        let mut args = vec!["--proc-root", missing];
        args.extend_from_slice(cmd);
        run(&args).assert_error(&[&pid, "does not exist"]);
        // A root that is a file, not a directory: the error names the path.
        let mut args = vec!["--proc-root", "/etc/passwd"];
        args.extend_from_slice(cmd);
        run(&args).assert_error(&[&format!("/etc/passwd/{pid}"), "Not a directory"]);
    }
    assert!(!std::path::Path::new(out).exists());
}
