//! Parsers and classifier on real `/proc` captures (`tests/fixtures/proc/`, see its README),
//! read through a fake procfs root so that the same code path as a live process runs.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use memlink::region::ShmKind;
use memlink::{Error, MemoryAnalyzer, RegionType, TypeReason};

use crate::support::tempdir::TempDir;

fn capture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/proc")
        .join(name)
}

/// A procfs root where PID `pid` is the capture `name`.
fn fake_root(name: &str, pid: u32) -> TempDir {
    let root = TempDir::new("procroot");
    std::os::unix::fs::symlink(capture(name), root.path().join(pid.to_string())).unwrap();
    root
}

#[test]
fn odd_capture_is_classified_exactly() {
    let root = fake_root("odd", 6683);
    let a = MemoryAnalyzer::with_proc_root(root.path(), 6683).unwrap();
    let regions = a.analyze().unwrap();
    let maps = std::fs::read(capture("odd/maps")).unwrap();
    assert_eq!(
        regions.len(),
        maps.split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .count()
    );
    let at = |addr: usize| regions.iter().find(|r| r.base_address == addr).unwrap();

    let latin = at(0x7f6867b50000);
    assert_eq!(
        latin.mapped_file.as_deref(),
        Some("/srv/fixture/caf\\xe9-latin1.bin")
    );
    assert_eq!(
        latin.path.as_ref().unwrap().as_os_str().as_bytes(),
        b"/srv/fixture/caf\xe9-latin1.bin"
    );
    assert_eq!(latin.protection, "rw-s");
    assert_eq!(latin.region_type, RegionType::MappedFile);

    let spaced = at(0x7f6867b52000);
    assert_eq!(
        spaced.mapped_file.as_deref(),
        Some("/srv/fixture/file with space.bin")
    );

    let deleted = at(0x7f6867b4e000);
    assert!(deleted.deleted);
    assert_eq!(
        deleted.mapped_file.as_deref(),
        Some("/srv/fixture/deleted.bin")
    );

    let memfd = at(0x7f6867b4d000);
    assert_eq!(memfd.region_type, RegionType::SharedMemory);
    assert_eq!(memfd.type_reason, TypeReason::Shared(ShmKind::Memfd));
    assert_eq!(memfd.mapped_file.as_deref(), Some("/memfd:memlink-demo"));
    assert_eq!(
        at(0x7f6867b4c000).type_reason,
        TypeReason::Shared(ShmKind::SysV)
    );
    assert_eq!(
        at(0x7f686795f000).type_reason,
        TypeReason::Shared(ShmKind::Anonymous)
    );

    let rwx = at(0x7f6867b4b000);
    assert_eq!(
        (rwx.region_type, rwx.protection.as_str()),
        (RegionType::Private, "rwxp")
    );

    for (stack, guard, tid) in [
        (0x7f686215c000, 0x7f686215b000, 6686),
        (0x7f686295d000, 0x7f686295c000, 6685),
        (0x7f686315e000, 0x7f686315d000, 6684),
    ] {
        assert_eq!(at(stack).region_type, RegionType::ThreadStack);
        assert_eq!(at(stack).type_reason, TypeReason::ThreadStackPointer(tid));
        assert_eq!(at(guard).region_type, RegionType::Guard);
        assert_eq!(at(guard).type_reason, TypeReason::GuardBelowStack);
    }
    let lone = at(0x7f6867961000);
    assert_eq!(
        (lone.region_type, lone.type_reason),
        (RegionType::Reserved, TypeReason::SmallInaccessible)
    );
    assert_eq!(
        at(0x7f686395e000).region_type,
        RegionType::Private,
        "the 64 MiB malloc block"
    );
    assert_eq!(at(0x55e707075000).region_type, RegionType::Heap);
    assert_eq!(at(0x7ffea4d84000).region_type, RegionType::Stack);
    assert_eq!(at(0x55e6eacaf000).region_type, RegionType::Code);
    let vclock = at(0x7f6867b5a000);
    assert_eq!(vclock.region_type, RegionType::Kernel);
    assert_eq!(vclock.name.as_deref(), Some("[vvar_vclock]"));
    assert_eq!(at(0xffffffffff600000).region_type, RegionType::Kernel);

    // The captured process was stopped: per-region figures add up to smaps_rollup.
    let rollup = a.rollup().unwrap();
    let sum = |f: fn(&memlink::Usage) -> u64| {
        regions
            .iter()
            .map(|r| f(r.usage.as_ref().unwrap()))
            .sum::<u64>()
    };
    assert_eq!(sum(|u| u.rss), rollup.usage.rss);
    assert_eq!(rollup.usage.rss, 2460 * 1024);
    assert_eq!(sum(|u| u.private_dirty), rollup.usage.private_dirty);
    assert_eq!(sum(|u| u.anonymous), rollup.usage.anonymous);
    assert_eq!(sum(|u| u.swap), rollup.usage.swap);
}

#[test]
fn odd_capture_without_stack_pointers_uses_the_layout_rule() {
    // Same capture, but with the threads' syscall files missing (as when they are unreadable).
    let root = TempDir::new("procroot-nosp");
    let dir = root.path().join("6683");
    std::fs::create_dir_all(dir.join("task")).unwrap();
    for f in ["maps", "smaps", "smaps_rollup", "stat", "status"] {
        std::fs::copy(capture("odd").join(f), dir.join(f)).unwrap();
    }
    for tid in ["6683", "6684", "6685", "6686"] {
        std::fs::create_dir_all(dir.join("task").join(tid)).unwrap();
    }
    let regions = MemoryAnalyzer::with_proc_root(root.path(), 6683)
        .unwrap()
        .list()
        .unwrap();
    let stacks: Vec<_> = regions
        .iter()
        .filter(|r| r.region_type == RegionType::ThreadStack)
        .collect();
    assert!(stacks.len() >= 3, "{stacks:#?}");
    assert!(stacks
        .iter()
        .all(|r| r.type_reason == TypeReason::ThreadStackLayout));
    assert!(stacks.iter().any(|r| r.base_address == 0x7f686215c000));
}

#[test]
fn zombie_and_kernel_thread_captures_are_refused() {
    let root = fake_root("zombie", 4242);
    assert!(matches!(
        MemoryAnalyzer::with_proc_root(root.path(), 4242),
        Err(Error::Zombie { pid: 4242 })
    ));
    let root = fake_root("kthread", 2);
    assert!(matches!(
        MemoryAnalyzer::with_proc_root(root.path(), 2),
        Err(Error::KernelThread { pid: 2 })
    ));
}

#[test]
fn parsers_accept_every_captured_file() {
    for name in ["odd", "kthread", "zombie"] {
        let dir = capture(name);
        let stat = memlink::proc::stat::parse(&std::fs::read(dir.join("stat")).unwrap()).unwrap();
        let status =
            memlink::proc::status::parse(&std::fs::read(dir.join("status")).unwrap()).unwrap();
        assert_eq!(stat.pid, status.tgid);
        memlink::proc::maps::parse(&std::fs::read(dir.join("maps")).unwrap()).unwrap();
        let smaps =
            memlink::proc::smaps::parse(&std::fs::read(dir.join("smaps")).unwrap()).unwrap();
        let rollup =
            memlink::proc::smaps::parse_rollup(&std::fs::read(dir.join("smaps_rollup")).unwrap())
                .unwrap();
        assert_eq!(smaps.is_empty(), rollup.is_none(), "{name}");
    }
    let odd = memlink::proc::status::parse(&std::fs::read(capture("odd/status")).unwrap()).unwrap();
    assert_eq!(odd.threads, 4);
    assert_eq!(odd.state, b'T');
    let z =
        memlink::proc::status::parse(&std::fs::read(capture("zombie/status")).unwrap()).unwrap();
    assert_eq!(z.state, b'Z');
}
