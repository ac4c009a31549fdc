//! One test per fixed bug, each named after the behaviour it pins.

use crate::support::{run, Fixture};

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
