//! The test harness: running the `memlink` binary, building and owning fixture processes, and
//! skipping (or, under `MEMLINK_REQUIRE_ALL=1`, failing) when an outside program is missing.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::sync::Mutex;

/// A child process, killed and reaped when dropped.
pub struct Reaped(pub Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One HTTP/1.1 GET of `path` on 127.0.0.1:`port`, with `headers` (whole lines, each ending in
/// CRLF) after `Host`; the whole response, or `None` when the connection failed.
pub fn http_get(
    port: u16,
    path: &str,
    headers: &str,
    timeout: std::time::Duration,
) -> Option<String> {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}\r\n").ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    Some(resp)
}

/// The `memlink` binary under test.
pub fn memlink() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_memlink"));
    c.env_remove("MEMLINK_LOG");
    c
}

/// What a finished `memlink` run printed.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub raw_stdout: Vec<u8>,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            raw_stdout: o.stdout,
        }
    }

    /// Asserts exit code 0 and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, 0, "memlink failed: stderr: {}", self.stderr);
        &self.stdout
    }

    /// Asserts a one-line `memlink: ...` error with exit code 2 containing every `needle`.
    #[track_caller]
    pub fn assert_error(&self, needles: &[&str]) {
        assert_eq!(
            self.code, 2,
            "expected exit 2; stdout: {} stderr: {}",
            self.stdout, self.stderr
        );
        let err = self.stderr.trim_end();
        assert_eq!(err.lines().count(), 1, "error must be one line: {err:?}");
        assert!(
            err.starts_with("memlink: "),
            "error must start with 'memlink: ': {err:?}"
        );
        for n in needles {
            assert!(err.contains(n), "error {err:?} should mention {n:?}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }

    /// Parses stdout as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok())
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", self.stdout))
    }
}

/// Runs `memlink ARGS` to completion.
pub fn run(args: &[&str]) -> Run {
    Run::from(memlink().args(args).output().expect("run memlink"))
}

/// Runs a command to completion.
pub fn run_cmd(cmd: &mut Command) -> Run {
    Run::from(cmd.output().expect("run command"))
}

/// True when the named program is on PATH. When it is not, prints why the caller skips, or
/// panics when `MEMLINK_REQUIRE_ALL=1` (CI installs every outside program).
pub fn require(program: &str, why: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()));
    if !found {
        require_fail(&format!("{program} is not installed ({why})"));
    }
    found
}

/// Skips (printing `reason`) or, under `MEMLINK_REQUIRE_ALL=1`, fails.
pub fn require_fail(reason: &str) {
    if std::env::var("MEMLINK_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("required capability missing: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
}

/// True when running as root.
pub fn is_root() -> bool {
    // The effective uid from /proc avoids an FFI call in tests.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Compiles `tests/fixtures/programs/NAME.c` once per test run and returns the binary's path.
pub fn build_c(name: &str, extra_flags: &[&str]) -> PathBuf {
    let _g = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/programs")
        .join(format!("{name}.c"));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fixtures");
    // Builds with other flags are other binaries, in a folder of their own so that the
    // process keeps its name.
    let tag: String = extra_flags
        .concat()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let out_dir = out_dir.join(if tag.is_empty() { "plain" } else { &tag });
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join(name);
    let fresh = match (std::fs::metadata(&out), std::fs::metadata(&src)) {
        (Ok(o), Ok(s)) => o.modified().unwrap() >= s.modified().unwrap(),
        _ => false,
    };
    if !fresh {
        let tmp = out.with_extension("tmp");
        let st = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
            .args(["-O1", "-g", "-Wall", "-pthread", "-o"])
            .arg(&tmp)
            .arg(&src)
            .args(extra_flags)
            .status()
            .expect("run the C compiler");
        assert!(st.success(), "compiling {} failed", src.display());
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

/// A fixture process owned by the test: killed and reaped when dropped.
pub struct Fixture {
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    /// The `key=value` lines printed before `ready` (repeated keys keep every value).
    pub vars: HashMap<String, Vec<String>>,
    /// A private folder for files the fixture maps.
    pub dir: tempdir::TempDir,
}

pub mod tempdir {
    //! A minimal self-removing temporary folder.
    use std::path::{Path, PathBuf};

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "memlink-test-{}-{}-{}",
                tag,
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Fixture {
    /// Builds and starts fixture `name` with `args`, waiting for its `ready` line.
    pub fn start(name: &str, args: &[&str]) -> Fixture {
        Self::start_with(name, args, |_| {})
    }

    /// Like [`start`](Self::start), letting the caller adjust the command (user, env...).
    pub fn start_with(name: &str, args: &[&str], adjust: impl FnOnce(&mut Command)) -> Fixture {
        Self::launch(build_c(name, &[]), name, args, adjust)
    }

    /// Like [`start`](Self::start), linked statically: it then shares no library pages with
    /// other processes, so its PSS does not change as they come and go.
    pub fn start_static(name: &str, args: &[&str]) -> Fixture {
        Self::launch(build_c(name, &["-static"]), name, args, |_| {})
    }

    fn launch(
        bin: PathBuf,
        name: &str,
        args: &[&str],
        adjust: impl FnOnce(&mut Command),
    ) -> Fixture {
        let dir = tempdir::TempDir::new(name);
        let mut cmd = Command::new(bin);
        cmd.args(
            args.iter()
                .map(|a| a.replace("{dir}", &dir.path().to_string_lossy())),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        adjust(&mut cmd);
        let mut child = cmd.spawn().expect("start fixture");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut f = Fixture {
            child,
            stdin,
            stdout,
            vars: HashMap::new(),
            dir,
        };
        loop {
            let line = f.read_line();
            if line == "ready" {
                break;
            }
            if let Some((k, v)) = line.split_once('=') {
                f.vars.entry(k.to_string()).or_default().push(v.to_string());
            }
        }
        f
    }

    /// The fixture's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The PID as a string, for command lines.
    pub fn pid_arg(&self) -> String {
        self.pid().to_string()
    }

    /// A printed value.
    #[track_caller]
    pub fn var(&self, key: &str) -> &str {
        &self
            .vars
            .get(key)
            .unwrap_or_else(|| panic!("fixture printed no {key}"))[0]
    }

    /// A printed address.
    #[track_caller]
    pub fn addr(&self, key: &str) -> u64 {
        let v = self.var(key);
        u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("{key}={v}"))
    }

    /// Parses a printed address value.
    #[track_caller]
    pub fn addr_of(&self, v: &str) -> u64 {
        u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("{v}"))
    }

    /// Reads one line of the fixture's output.
    #[track_caller]
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        let n = self
            .stdout
            .read_line(&mut line)
            .expect("read fixture output");
        assert!(n > 0, "fixture exited early");
        line.trim_end().to_string()
    }

    /// Sends a command and returns the one-line answer.
    #[track_caller]
    pub fn ask(&mut self, cmd: &str) -> String {
        let stdin = self.stdin.as_mut().expect("fixture stdin");
        writeln!(stdin, "{cmd}").expect("write to fixture");
        stdin.flush().unwrap();
        self.read_line()
    }

    /// Sends SIGSTOP and waits until the kernel reports the process stopped.
    pub fn stop(&self) {
        signal(self.pid(), "STOP");
        for _ in 0..500 {
            let stat =
                std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
            if stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('T'))
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("fixture did not stop");
    }

    /// Sends SIGCONT.
    pub fn cont(&self) {
        signal(self.pid(), "CONT");
    }
}

/// Takes the child's stdout and reads it until a `ready` line (for programs started without
/// [`Fixture`], e.g. built with other flags or run under a wrapper). Panics if it exits first.
#[track_caller]
pub fn wait_ready(child: &mut Child) -> BufReader<ChildStdout> {
    let mut out = BufReader::new(child.stdout.take().expect("child stdout piped"));
    let mut line = String::new();
    while line.trim() != "ready" {
        line.clear();
        assert!(
            out.read_line(&mut line).expect("read child output") > 0,
            "child exited before ready"
        );
    }
    out
}

/// Sends a signal by name with kill(1).
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Fixture {
    /// Starts fixture `name` built with `flags` (for example `-O2 -fomit-frame-pointer`).
    pub fn start_flags(name: &str, flags: &[&str], args: &[&str]) -> Fixture {
        Self::launch(build_c(name, flags), name, args, |_| {})
    }

    /// Writes one line to the fixture's standard input without waiting for an answer.
    pub fn send(&mut self, cmd: &str) {
        let stdin = self.stdin.as_mut().expect("fixture stdin");
        writeln!(stdin, "{cmd}").expect("write to fixture");
        stdin.flush().unwrap();
    }
}
