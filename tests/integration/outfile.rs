//! Files memlink writes and reads (`snapshot`, `dump`, `map` outputs; `diff` and
//! `map --snapshot` inputs) in a world-writable directory where an unprivileged user plants
//! symlinks and FIFOs: nothing memlink did not create is ever written, chmodded or removed, and
//! nothing blocks. Every test runs memlink under a deadline, so a regression fails instead of
//! hanging.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::tempdir::TempDir;
use crate::support::{is_root, memlink, require_fail, signal, Fixture, Run};

/// How long any memlink run here may take before it counts as hung.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Runs `cmd` to completion, killing it and failing the test after [`DEADLINE`].
#[track_caller]
pub fn run_within(cmd: &mut Command) -> Run {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start memlink");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => {
            let o = out.expect("wait for memlink");
            Run {
                code: o.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                raw_stdout: o.stdout,
            }
        }
        Err(_) => {
            signal(pid, "KILL");
            panic!("memlink hung for {DEADLINE:?}: {cmd:?}");
        }
    }
}

/// Runs `memlink ARGS` under the deadline.
#[track_caller]
pub fn ml(args: &[&str]) -> Run {
    run_within(memlink().args(args))
}

/// True when the test may plant files as another user (root with `setpriv`); else prints why
/// it skips.
pub fn can_plant() -> bool {
    if !is_root() {
        require_fail("planting files as another user needs root");
        return false;
    }
    crate::support::require("setpriv", "plants files as user nobody")
}

/// A world-writable (0777, not sticky) directory, like a shared scratch folder.
pub fn shared_dir(tag: &str) -> TempDir {
    let d = TempDir::new(tag);
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

/// Runs `argv` as user and group 65534 (nobody) without supplementary groups.
#[track_caller]
pub fn as_nobody(argv: &[&str]) {
    let st = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .args(argv)
        .status()
        .expect("run setpriv");
    assert!(st.success(), "as nobody: {argv:?}");
}

/// Plants `link -> target` as user nobody.
#[track_caller]
pub fn plant_symlink(target: &Path, link: &Path) {
    as_nobody(&["ln", "-s", target.to_str().unwrap(), link.to_str().unwrap()]);
    let m = std::fs::symlink_metadata(link).unwrap();
    assert!(m.file_type().is_symlink());
    assert_eq!(m.uid(), 65534);
}

/// A root-owned file (mode 0644, known content) in a root-only directory: what a planted
/// symlink aims at.
pub struct Victim {
    _dir: TempDir,
    pub path: PathBuf,
}

pub const VICTIM_TEXT: &[u8] = b"precious root-owned content\n";

impl Victim {
    pub fn new() -> Victim {
        let dir = TempDir::new("victim");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let path = dir.path().join("precious.conf");
        std::fs::write(&path, VICTIM_TEXT).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        Victim { _dir: dir, path }
    }

    /// Asserts the file is exactly as created.
    #[track_caller]
    pub fn assert_untouched(&self) {
        let m = std::fs::symlink_metadata(&self.path).expect("victim still exists");
        assert!(m.is_file());
        assert_eq!(m.permissions().mode() & 0o7777, 0o644, "victim mode");
        assert_eq!(m.uid(), 0);
        assert_eq!(
            std::fs::read(&self.path).unwrap(),
            VICTIM_TEXT,
            "victim content"
        );
    }
}

/// Name, type, mode, owner, size and symlink target of every entry, to show that nothing
/// else changed (no stray temporary files either).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.path().symlink_metadata().unwrap();
            let link = std::fs::read_link(e.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            format!(
                "{} {:o} {} {} {link}",
                e.file_name().to_string_lossy(),
                m.mode(),
                m.uid(),
                if m.is_file() { m.len() } else { 0 }
            )
        })
        .collect();
    v.sort();
    v
}

/// The fixture process to take outputs from, and the argument that dumps its `values` page.
pub fn target() -> (Fixture, String) {
    let f = Fixture::start("needles", &["{dir}"]);
    let values = format!("{:#x}", f.addr("values"));
    (f, values)
}

/// The three commands that write an output file, with `out` as their `-o`.
pub fn writers(f: &Fixture, values: &str, snap: &Path, out: &Path) -> Vec<Vec<String>> {
    let pid = f.pid_arg();
    let o = out.to_str().unwrap().to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        s(&["snapshot", "--pid", &pid, "-o", &o]),
        s(&["dump", "--pid", &pid, "--region", values, "-o", &o]),
        s(&[
            "map",
            "--snapshot",
            snap.to_str().unwrap(),
            "--format",
            "json",
            "-o",
            &o,
        ]),
    ]
}

/// A snapshot of `f` saved at `path`.
pub fn snapshot_of(f: &Fixture, path: &Path) {
    ml(&[
        "snapshot",
        "--pid",
        &f.pid_arg(),
        "-o",
        path.to_str().unwrap(),
    ])
    .ok();
}

fn with_force(argv: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = argv.iter().map(String::as_str).collect();
    v.push("--force");
    v
}

fn plain(argv: &[String]) -> Vec<&str> {
    argv.iter().map(String::as_str).collect()
}

#[test]
fn a_new_output_is_0600_and_leaves_no_temporary_file() {
    let (f, values) = target();
    let dir = shared_dir("new");
    let snap = dir.path().join("snap.json");
    snapshot_of(&f, &snap);
    for (i, argv) in writers(&f, &values, &snap, &dir.path().join("out"))
        .iter()
        .enumerate()
    {
        let out = dir.path().join("out");
        let _ = std::fs::remove_file(&out);
        // Even a umask that would narrow the mode gives 0600.
        run_within(
            Command::new("sh")
                .args(["-c", "umask 0277; exec \"$0\" \"$@\""])
                .arg(env!("CARGO_BIN_EXE_memlink"))
                .args(argv),
        )
        .ok();
        let m = std::fs::symlink_metadata(&out).unwrap();
        assert!(m.is_file(), "command {i}");
        assert_eq!(m.permissions().mode() & 0o7777, 0o600, "command {i}");
        let names = listing(dir.path());
        assert_eq!(names.len(), 2, "only snap.json and out: {names:?}");
    }
}

#[test]
fn an_existing_file_is_refused_unchanged_and_replaced_with_force() {
    let (f, values) = target();
    let dir = shared_dir("exists");
    let snap = dir.path().join("snap.json");
    snapshot_of(&f, &snap);
    let out = dir.path().join("out");
    for argv in writers(&f, &values, &snap, &out) {
        std::fs::write(&out, b"old\n").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
        let before = listing(dir.path());
        ml(&plain(&argv)).assert_error(&[out.to_str().unwrap(), "already exists", "--force"]);
        assert_eq!(listing(dir.path()), before, "{argv:?}");
        assert_eq!(std::fs::read(&out).unwrap(), b"old\n");
        // A hard link to the old file keeps the old content: --force replaces the entry.
        let keep = dir.path().join("keep");
        std::fs::hard_link(&out, &keep).unwrap();
        ml(&with_force(&argv)).ok();
        assert_eq!(std::fs::read(&keep).unwrap(), b"old\n", "{argv:?}");
        let m = std::fs::metadata(&keep).unwrap();
        assert_eq!(
            m.permissions().mode() & 0o777,
            0o644,
            "old inode not chmodded"
        );
        assert_ne!(std::fs::read(&out).unwrap(), b"old\n");
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::remove_file(&keep).unwrap();
        std::fs::remove_file(&out).unwrap();
    }
}

#[test]
fn planted_symlinks_are_never_followed() {
    if !can_plant() {
        return;
    }
    let (f, values) = target();
    let dir = shared_dir("planted");
    let snap = dir.path().join("snap.json");
    snapshot_of(&f, &snap);
    let victim = Victim::new();
    let out = dir.path().join("out");
    let dangling = dir.path().join("dangling");
    let nowhere = victim.path.with_file_name("created-through-a-link");
    for argv in writers(&f, &values, &snap, &out) {
        plant_symlink(&victim.path, &out);
        let before = listing(dir.path());
        ml(&plain(&argv)).assert_error(&[out.to_str().unwrap(), "already exists"]);
        assert_eq!(listing(dir.path()), before);
        victim.assert_untouched();

        // --force replaces the link itself with a new private file.
        ml(&with_force(&argv)).ok();
        victim.assert_untouched();
        let m = std::fs::symlink_metadata(&out).unwrap();
        assert!(m.is_file(), "{argv:?}: the link was replaced");
        assert_eq!((m.uid(), m.permissions().mode() & 0o7777), (0, 0o600));
        std::fs::remove_file(&out).unwrap();

        // A dangling link creates nothing where it points.
        let argv: Vec<String> = argv
            .iter()
            .map(|a| {
                if a == out.to_str().unwrap() {
                    dangling.to_str().unwrap().to_string()
                } else {
                    a.clone()
                }
            })
            .collect();
        plant_symlink(&nowhere, &dangling);
        ml(&plain(&argv)).assert_error(&[dangling.to_str().unwrap(), "already exists"]);
        assert!(!nowhere.exists());
        ml(&with_force(&argv)).ok();
        assert!(
            !nowhere.exists(),
            "{argv:?} created a file through a dangling link"
        );
        assert!(std::fs::symlink_metadata(&dangling).unwrap().is_file());
        std::fs::remove_file(&dangling).unwrap();
        assert_eq!(listing(dir.path()).len(), 1, "{:?}", listing(dir.path()));
    }
}

#[test]
fn dev_null_is_written_as_it_is() {
    let (f, values) = target();
    let dir = TempDir::new("devnull");
    let snap = dir.path().join("snap.json");
    snapshot_of(&f, &snap);
    let null = Path::new("/dev/null");
    let before = std::fs::symlink_metadata(null).unwrap();
    for argv in writers(&f, &values, &snap, null) {
        ml(&plain(&argv)).ok();
        ml(&with_force(&argv)).ok();
        let m = std::fs::symlink_metadata(null).unwrap();
        assert!(m.file_type().is_char_device(), "{argv:?}");
        assert_eq!(m.mode(), before.mode(), "{argv:?}: mode kept");
        assert_eq!((m.rdev(), m.ino()), (before.rdev(), before.ino()));
    }
    assert_eq!(listing(dir.path()).len(), 1);
}

fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(st.success());
}

/// Reads everything written to the FIFO at `path` by the memlink run `argv`: the read end is
/// open before memlink starts, and read until memlink has exited and the pipe is empty.
pub fn through_fifo(path: &Path, argv: &[&str]) -> (Run, Vec<u8>) {
    let mut reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let args: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
    std::thread::spawn(move || {
        let _ = tx.send(ml(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    });
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let start = Instant::now();
    let mut run = None;
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) if run.is_some() => break,
            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => {
                if let Ok(r) = rx.try_recv() {
                    run = Some(r);
                    continue;
                }
                assert!(start.elapsed() < DEADLINE, "FIFO reader timed out");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
    (run.unwrap(), got)
}

#[test]
fn a_fifo_with_a_reader_gets_the_bytes() {
    let (f, values) = target();
    let dir = TempDir::new("fifo");
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let fs = fifo.to_str().unwrap();
    let mode = std::fs::metadata(&fifo).unwrap().mode();
    let pid = f.pid_arg();
    let (r, bytes) = through_fifo(&fifo, &["snapshot", "--pid", &pid, "-o", fs, "--force"]);
    r.ok();
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("a whole snapshot");
    assert_eq!(v["process"]["pid"].as_u64().unwrap(), f.pid() as u64);

    let file = dir.path().join("values.bin");
    ml(&[
        "dump",
        "--pid",
        &pid,
        "--region",
        &values,
        "-o",
        file.to_str().unwrap(),
    ])
    .ok();
    let (r, bytes) = through_fifo(
        &fifo,
        &["dump", "--pid", &pid, "--region", &values, "-o", fs],
    );
    r.ok();
    assert!(
        bytes == std::fs::read(&file).unwrap(),
        "same bytes as the file"
    );
    let m = std::fs::symlink_metadata(&fifo).unwrap();
    assert!(m.file_type().is_fifo(), "still a FIFO");
    assert_eq!(m.mode(), mode, "mode kept");
    assert_eq!(listing(dir.path()).len(), 2);
}

#[test]
fn a_fifo_without_a_reader_is_an_error_at_once() {
    let (f, values) = target();
    let dir = TempDir::new("fifo-none");
    let snap = dir.path().join("snap.json");
    snapshot_of(&f, &snap);
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let before = listing(dir.path());
    for argv in writers(&f, &values, &snap, &fifo) {
        let t = Instant::now();
        ml(&with_force(&argv)).assert_error(&[fifo.to_str().unwrap(), "FIFO"]);
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "{argv:?} took {:?}",
            t.elapsed()
        );
        assert_eq!(listing(dir.path()), before);
    }
}

#[test]
fn dash_and_dev_stdout_are_standard_output() {
    let (f, values) = target();
    let dir = TempDir::new("stdout");
    let pid = f.pid_arg();
    let file = dir.path().join("values.bin");
    let r = ml(&[
        "dump",
        "--pid",
        &pid,
        "--region",
        &values,
        "-o",
        file.to_str().unwrap(),
    ]);
    r.ok();
    let expected = std::fs::read(&file).unwrap();
    // With `-o -` the report goes to stderr; through /dev/stdout it follows the memory.
    let r = ml(&["dump", "--pid", &pid, "--region", &values, "-o", "-"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.raw_stdout == expected, "the memory on stdout");
    assert!(
        r.stderr.starts_with("wrote ") && r.stderr.contains(" to -"),
        "{}",
        r.stderr
    );
    let r = ml(&[
        "dump",
        "--pid",
        &pid,
        "--region",
        &values,
        "-o",
        "/dev/stdout",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.raw_stdout.starts_with(&expected), "the memory on stdout");
    assert!(r.raw_stdout[expected.len()..].starts_with(b"wrote "));
    let r = ml(&["snapshot", "--pid", &pid, "-o", "-"]);
    let v: serde_json::Value = serde_json::from_str(r.ok()).unwrap();
    assert_eq!(v["format"], "memlink-snapshot");
    let snap = dir.path().join("s.json");
    std::fs::write(&snap, &r.raw_stdout).unwrap();
    let r = ml(&["map", "--snapshot", snap.to_str().unwrap(), "-o", "-"]);
    assert!(
        r.ok().contains("0x"),
        "the text map on stdout: {}",
        r.stdout
    );
    assert!(!Path::new("-").exists());
    assert_eq!(listing(dir.path()).len(), 2);
}

#[test]
fn inputs_must_be_regular_files_and_never_block() {
    let (f, _) = target();
    let dir = TempDir::new("inputs");
    let snap = dir.path().join("snap.json");
    snapshot_of(&f, &snap);
    let s = snap.to_str().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    let d = dir.path().to_str().unwrap();
    for (bad, what) in [
        (fifo.to_str().unwrap(), "is a FIFO"),
        ("/dev/zero", "is a character device"),
        (d, "is a directory"),
    ] {
        for argv in [
            vec!["diff", bad, s],
            vec!["diff", s, bad],
            vec!["map", "--snapshot", bad, "-o", "-"],
            vec!["map", "--diff", s, bad, "-o", "-"],
            vec!["analyze", "--snapshot", bad],
        ] {
            let t = Instant::now();
            ml(&argv).assert_error(&[bad, what]);
            assert!(t.elapsed() < Duration::from_secs(5), "{argv:?}");
        }
    }
    // Larger than the stated limit (a sparse file: nothing is read).
    let huge = dir.path().join("huge.json");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len((1 << 30) + 1)
        .unwrap();
    let h = huge.to_str().unwrap();
    for argv in [vec!["diff", h, s], vec!["map", "--snapshot", h, "-o", "-"]] {
        ml(&argv).assert_error(&[h, "is larger than 1.0GB"]);
    }
    // A planted symlink to a FIFO is followed for reading, and still refused.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    ml(&["diff", link.to_str().unwrap(), s]).assert_error(&["link", "is a FIFO"]);
}

#[test]
fn errors_name_the_path_given_not_a_temporary_file() {
    let (f, values) = target();
    let dir = TempDir::new("errors");
    let pid = f.pid_arg();
    let missing = dir.path().join("missing/x.bin");
    let m = missing.to_str().unwrap();
    ml(&["dump", "--pid", &pid, "--region", &values, "-o", m]).assert_error(&[m]);
    ml(&["snapshot", "--pid", &pid, "-o", m]).assert_error(&[m]);
    let slash = format!("{}/", dir.path().display());
    ml(&["snapshot", "--pid", &pid, "-o", &slash]).assert_error(&[&slash]);
    ml(&[
        "snapshot",
        "--pid",
        &pid,
        "-o",
        dir.path().to_str().unwrap(),
    ])
    .assert_error(&[dir.path().to_str().unwrap(), "directory"]);
    for r in [
        ml(&["snapshot", "--pid", &pid, "-o", m]),
        ml(&[
            "snapshot",
            "--pid",
            &pid,
            "-o",
            dir.path().to_str().unwrap(),
        ]),
    ] {
        assert!(!r.stderr.contains(".memlink-"), "{}", r.stderr);
    }
    assert_eq!(listing(dir.path()).len(), 0);
}
