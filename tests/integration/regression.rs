//! One test per fixed bug, each named after the behaviour it pins.

use crate::outfile::{
    can_plant, listing, ml, plant_symlink, run_within, shared_dir, snapshot_of, target, writers,
    Victim,
};
use crate::support::tempdir::TempDir;
use crate::support::{run, Fixture};
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
/// memlink's own `/proc`: a root without the process's `mem` file now fails for the commands
/// that must read memory, naming that file, and the audit skips its memory check.
#[test]
fn search_dump_and_audit_read_memory_through_the_proc_root() {
    let f = Fixture::start("needles", &["{dir}"]);
    let pid = f.pid_arg();
    let root = captured_root(&f);
    let r = root.to_str().unwrap();
    let mem = root.join(&pid).join("mem");
    let mem = mem.to_str().unwrap();

    run(&[
        "--proc-root",
        r,
        "search",
        "--pid",
        &pid,
        "--text",
        "MLNEEDLE-7f3a9c!",
    ])
    .assert_error(&[mem, "No such file"]);

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
    .assert_error(&[mem, "No such file"]);
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
