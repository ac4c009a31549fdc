//! One test per fixed bug, each named after the behaviour it pins.

use crate::support::{is_root, run, Fixture, Run};

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
