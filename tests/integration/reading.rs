//! Reading never grows or stalls the target, and what memlink is handed is read with bounds
//! (issue 12, items 5 and 7).

use std::os::unix::fs::PermissionsExt;

use crate::support::{is_root, run, Fixture};

const NEEDLE: &str = "MLREAD-shared-42";

/// A `kB` figure of `/proc/PID/status` or `/proc/meminfo`, in KiB.
fn kib(file: &str, key: &str) -> u64 {
    let s = std::fs::read_to_string(file).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{key} in {file}"))
}

/// A search over an untouched 256 MiB shared mapping leaves it untouched (the target's
/// RssShmem and the host's Shmem stay put), and still finds a value in a shared page that
/// only another process touched (which the target's page tables do not map).
#[test]
fn search_reads_shared_memory_without_faulting_it_in() {
    let f = Fixture::start("reading", &[]);
    let status = format!("/proc/{}/status", f.pid());
    let (shm0, file0, host0) = (
        kib(&status, "RssShmem"),
        kib(&status, "RssFile"),
        kib("/proc/meminfo", "Shmem"),
    );
    let pid = f.pid_arg();
    let r = run(&[
        "search", "--pid", &pid, "--text", NEEDLE, "--format", "json",
    ]);
    let m = r.json();
    let got: Vec<u64> = m
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["address"].as_u64().unwrap())
        .collect();
    assert_eq!(got, vec![f.addr("needle")]);
    let (shm1, file1, host1) = (
        kib(&status, "RssShmem"),
        kib(&status, "RssFile"),
        kib("/proc/meminfo", "Shmem"),
    );
    assert!(shm1 <= shm0 + 64, "RssShmem {shm0} -> {shm1} KiB");
    assert!(file1 <= file0 + 1024, "RssFile {file0} -> {file1} KiB");
    // The host's Shmem moves with other processes too; 256 MiB faulted in would show.
    assert!(
        host1 < host0 + 64 * 1024,
        "host Shmem {host0} -> {host1} KiB"
    );

    // The control: --fault-in reads through the target and does fault the mapping in, so the
    // figures above can tell.
    run(&["search", "--pid", &pid, "--text", NEEDLE, "--fault-in"]).ok();
    let shm2 = kib(&status, "RssShmem");
    assert!(shm2 >= 200 * 1024, "--fault-in: RssShmem {shm2} KiB");
}

/// `--resident-only` keeps its meaning: the page only another process touched is not mapped
/// here, so it is skipped.
#[test]
fn resident_only_still_skips_pages_not_mapped_here() {
    let f = Fixture::start("reading", &[]);
    let pid = f.pid_arg();
    let r = run(&["search", "--pid", &pid, "--text", NEEDLE, "--resident-only"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("not resident skipped"), "{}", r.stdout);
}

/// A dump of the untouched shared mapping reads zeros from the shmem object without
/// allocating: the file is all zeros and the target's RssShmem stays put.
#[test]
fn dump_of_untouched_shared_memory_allocates_nothing() {
    let f = Fixture::start("reading", &[]);
    let status = format!("/proc/{}/status", f.pid());
    let shm0 = kib(&status, "RssShmem");
    let out = f.dir.path().join("big.bin");
    let pid = f.pid_arg();
    let big = format!("{:#x}", f.addr("big"));
    let r = run(&[
        "dump",
        "--pid",
        &pid,
        "--address",
        &big,
        "--size",
        "64MiB",
        "-o",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let rep = r.json();
    assert_eq!(rep["bytes_read"].as_u64(), Some(64 << 20), "{rep}");
    assert_eq!(rep["holes"].as_array().map(|h| h.len()), Some(0), "{rep}");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes.len(), 64 << 20);
    assert!(bytes.iter().all(|&b| b == 0));
    let shm1 = kib(&status, "RssShmem");
    assert!(shm1 <= shm0 + 64, "RssShmem {shm0} -> {shm1} KiB");
    // The page only the child wrote is read from the shared object.
    let other = format!("{:#x}", f.addr("other"));
    let out2 = f.dir.path().join("other.bin");
    run(&[
        "dump",
        "--pid",
        &pid,
        "--address",
        &other,
        "--size",
        "64K",
        "-o",
        out2.to_str().unwrap(),
    ])
    .ok();
    let b = std::fs::read(&out2).unwrap();
    let at = (f.addr("needle") - f.addr("other")) as usize;
    assert_eq!(&b[at..at + NEEDLE.len()], NEEDLE.as_bytes());
}

/// A crafted --proc-root whose `maps` is /dev/zero, a FIFO or a file without line ends gives
/// one `memlink:` line and exit 2, at once.
#[test]
fn crafted_proc_root_maps_are_refused() {
    let f = Fixture::start("reading", &[]);
    let root = f.dir.path().join("root");
    let d = root.join(f.pid_arg());
    std::fs::create_dir_all(&d).unwrap();
    for n in ["stat", "status"] {
        std::fs::copy(format!("/proc/{}/{n}", f.pid()), d.join(n)).unwrap();
    }
    let pid = f.pid_arg();
    let rt = root.to_str().unwrap();
    let maps = d.join("maps");
    let check = |what: &str, needle: &str| {
        for cmd in [
            vec!["--proc-root", rt, "list", "--pid", &pid],
            vec!["--proc-root", rt, "search", "--pid", &pid, "--text", "x"],
        ] {
            let t = std::time::Instant::now();
            let r = run(&cmd);
            assert_eq!(r.code, 2, "{what}: {cmd:?}: {}", r.stderr);
            let lines: Vec<&str> = r.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{what}: {}", r.stderr);
            assert!(
                lines[0].starts_with("memlink: ") && lines[0].contains(needle),
                "{what}: {}",
                r.stderr
            );
            assert!(t.elapsed().as_secs() < 10, "{what}: took {:?}", t.elapsed());
        }
    };
    std::os::unix::fs::symlink("/dev/zero", &maps).unwrap();
    check("/dev/zero", "is a device");
    std::fs::remove_file(&maps).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(&maps)
        .status()
        .unwrap();
    assert!(st.success());
    check("a FIFO", "is a FIFO");
    std::fs::remove_file(&maps).unwrap();
    std::fs::write(&maps, vec![b'7'; 300 << 10]).unwrap();
    check("no line end", "a line longer than 64 KiB");
}

/// A match in shared anonymous memory is located by the name the kernel gives the mapping,
/// not by its base name (`zero+0x3039`); a float that does not fit its type is refused.
#[test]
fn shared_memory_location_and_float_range() {
    let f = Fixture::start("reading", &[]);
    let pid = f.pid_arg();
    let r = run(&["search", "--pid", &pid, "--text", NEEDLE]);
    let off = f.addr("needle") - f.addr("other");
    let want = format!("/dev/zero (deleted)+{off:#x}");
    assert!(r.ok().contains(&want), "{}", r.stdout);
    let r = run(&["search", "--pid", &pid, "--f64", "1e400"]);
    r.assert_error(&["f64", "1e400", "out of range"]);
}

/// A swap file turned on for one test and off again (with its file removed) when dropped.
struct SwapFile(std::path::PathBuf);

impl SwapFile {
    /// Turns on a 64 MiB swap file in `/var/tmp` (a disk filesystem: tmpfs cannot hold swap);
    /// the reason when this host cannot (not root, no swap support, a container).
    fn on() -> Result<SwapFile, String> {
        use std::process::Command;
        if !is_root() {
            return Err("turning swap on needs root".into());
        }
        let path =
            std::path::PathBuf::from(format!("/var/tmp/memlink-test-swap-{}", std::process::id()));
        let sh = |prog: &str, args: &[&str]| -> Result<(), String> {
            let o = Command::new(prog)
                .args(args)
                .output()
                .map_err(|e| format!("{prog}: {e}"))?;
            if o.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{prog} {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&o.stderr).trim()
                ))
            }
        };
        let p = path.to_str().unwrap();
        let swap = SwapFile(path.clone());
        sh(
            "dd",
            &[
                "if=/dev/zero",
                &format!("of={p}"),
                "bs=1M",
                "count=64",
                "status=none",
            ],
        )?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| e.to_string())?;
        sh("mkswap", &[p])?;
        sh("swapon", &[p])?;
        Ok(swap)
    }
}

impl Drop for SwapFile {
    fn drop(&mut self) {
        let _ = std::process::Command::new("swapoff").arg(&self.0).status();
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Swapped-out private pages are skipped and counted by default (reading them would swap them
/// back in), by `dump` (as holes) and `search` (as bytes not searched); `--fault-in` reads
/// them. The target's swap use is the witness.
#[test]
fn swapped_out_pages_are_skipped_and_counted_unless_fault_in() {
    let _swap = match SwapFile::on() {
        Ok(s) => s,
        Err(why) => {
            // Swap is a property of the host, not a program the suite installs.
            eprintln!("skipped: cannot turn swap on here ({why})");
            return;
        }
    };
    let mut f = Fixture::start("swapped", &[]);
    let status = format!("/proc/{}/status", f.pid());
    let base = f.addr("swapped");
    let len = 8u64 << 20;
    // MADV_PAGEOUT may leave a few pages behind; ask again until nearly all are out.
    let t0 = std::time::Instant::now();
    while kib(&status, "VmSwap") < 7 * 1024 {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(20),
            "the fixture's pages did not go to swap (VmSwap {} KiB)",
            kib(&status, "VmSwap")
        );
        f.send("out");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let swap0 = kib(&status, "VmSwap");
    let pid = f.pid_arg();
    let addr = format!("{base:#x}");
    let out = f.dir.path().join("swapped.bin");
    let dump = |extra: &[&str]| {
        let mut a = vec![
            "dump",
            "--pid",
            &pid,
            "--address",
            &addr,
            "--size",
            "8MiB",
            "-o",
            out.to_str().unwrap(),
            "--force",
            "--format",
            "json",
        ];
        a.extend_from_slice(extra);
        run(&a).json()
    };

    let rep = dump(&[]);
    let swapped: u64 = rep["holes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["why"] == "swapped out")
        .map(|h| h["end"].as_u64().unwrap() - h["start"].as_u64().unwrap())
        .sum();
    assert!(swapped >= swap0 * 1024 / 2, "{rep:#}");
    assert_eq!(
        rep["bytes_read"].as_u64().unwrap() + swapped,
        len,
        "{rep:#}"
    );
    assert!(
        kib(&status, "VmSwap") + 256 >= swap0,
        "the dump swapped pages back in: VmSwap {swap0} KiB before, {} KiB after",
        kib(&status, "VmSwap")
    );

    // The needle sits in a swapped page: not found, and the search says what it did not read.
    let r = run(&["search", "--pid", &pid, "--text", "MLSWAPNEEDLE-42!"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("were not searched")
            && r.stderr.contains("swapped out")
            && r.stderr.contains("--fault-in"),
        "{}",
        r.stderr
    );
    assert!(
        kib(&status, "VmSwap") + 256 >= swap0,
        "the search swapped pages back in"
    );
    let r = run(&[
        "search",
        "--pid",
        &pid,
        "--text",
        "MLSWAPNEEDLE-42!",
        "--fault-in",
        "--format",
        "json",
    ]);
    let found: Vec<u64> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["address"].as_u64().unwrap())
        .collect();
    assert_eq!(found, vec![f.addr("needle")]);

    // --fault-in reads everything, exactly, which brings the pages back.
    let rep = dump(&["--fault-in"]);
    assert_eq!(rep["bytes_read"].as_u64(), Some(len), "{rep:#}");
    let bytes = std::fs::read(&out).unwrap();
    let at = (4usize << 20) + 777;
    assert_eq!(&bytes[at..at + 16], b"MLSWAPNEEDLE-42!");
    assert_eq!(bytes[12345], (12345u64 * 7 + 1) as u8);
    assert!(
        kib(&status, "VmSwap") < swap0,
        "--fault-in should have read the swapped pages"
    );
}
