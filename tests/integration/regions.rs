//! `list` and `analyze` against the `regions` fixture, whose addresses are known.

use serde_json::Value;

use crate::support::{run, Fixture};

fn fixture() -> Fixture {
    Fixture::start("regions", &["{dir}", "3"])
}

/// The region containing `addr` in a JSON region list.
#[track_caller]
fn region_at(regions: &[Value], addr: u64) -> &Value {
    regions
        .iter()
        .find(|r| {
            let b = r["base_address"].as_u64().unwrap();
            addr >= b && addr < b + r["size"].as_u64().unwrap()
        })
        .unwrap_or_else(|| panic!("no region contains {addr:#x}"))
}

fn list_json(f: &Fixture, detailed: bool) -> Vec<Value> {
    let pid = f.pid_arg();
    let mut args = vec!["list", "--pid", &pid, "--format", "json"];
    if detailed {
        args.push("--detailed");
    }
    run(&args).json().as_array().unwrap().clone()
}

#[test]
fn every_known_region_is_reported_exactly() {
    let f = fixture();
    let regions = list_json(&f, false);
    let page = f.var("page_size").parse::<u64>().unwrap();
    let check = |key: &str, ty: &str, perms: &str, exact_size: Option<u64>| {
        let addr = f.addr(key);
        let r = region_at(&regions, addr);
        assert_eq!(r["region_type"], ty, "{key}: {r}");
        assert_eq!(r["protection"], perms, "{key}: {r}");
        assert_eq!(r["state"], "active");
        assert_eq!(
            r["address_hex"].as_str().unwrap(),
            format!("{:#x}", r["base_address"].as_u64().unwrap())
        );
        if let Some(size) = exact_size {
            assert_eq!(
                r["base_address"].as_u64().unwrap(),
                addr,
                "{key} starts at its address"
            );
            assert_eq!(r["size"].as_u64().unwrap(), size, "{key}: {r}");
        }
        r.clone()
    };
    let heap = check("heap", "Heap", "rw-p", None);
    assert_eq!(heap["name"], "[heap]");
    assert_eq!(heap["mapped_file"], Value::Null);

    let file = check("file", "MappedFile", "r--p", Some(2 * page));
    assert_eq!(file["mapped_file"], f.var("file_path"));
    assert_eq!(file["deleted"], false);
    assert!(file["inode"].as_u64().unwrap() > 0);

    let spaced = check("spaced", "MappedFile", "r--p", Some(page));
    assert!(spaced["mapped_file"]
        .as_str()
        .unwrap()
        .ends_with("/with space.bin"));

    let latin = check("latin1", "MappedFile", "rw-s", Some(page));
    assert!(
        latin["mapped_file"]
            .as_str()
            .unwrap()
            .ends_with("/caf\\xe9.bin"),
        "non-UTF-8 byte escaped: {latin}"
    );

    let gone = check("deleted", "MappedFile", "r--p", Some(page));
    assert_eq!(gone["deleted"], true);
    assert!(gone["mapped_file"].as_str().unwrap().ends_with("/gone.bin"));

    let sh = check("shared_anon", "SharedMemory", "rw-s", Some(2 * page));
    assert_eq!(sh["type_reason"], "shared anonymous memory");

    let memfd = check("memfd", "SharedMemory", "rw-s", Some(page));
    assert_eq!(memfd["mapped_file"], "/memfd:memlink-demo");
    assert_eq!(memfd["deleted"], true);
    assert_eq!(
        memfd["type_reason"], "memfd (memfd_create)",
        "a demo memfd is not a link"
    );

    if f.vars.contains_key("sysv") {
        let sysv = check("sysv", "SharedMemory", "rw-s", Some(page));
        assert!(sysv["mapped_file"].as_str().unwrap().starts_with("/SYSV"));
    }

    check("rwx", "Private", "rwxp", Some(page));
    check("guard", "Reserved", "---p", Some(page));
    check("reserved", "Reserved", "---p", Some(64 << 20));
    check("pattern", "Private", "rw-p", None);

    let stacks = &f.vars["thread_stack"];
    assert_eq!(stacks.len(), 3);
    for s in stacks {
        let (lo, hi) = s.split_once('-').unwrap();
        let lo = u64::from_str_radix(lo.trim_start_matches("0x"), 16).unwrap();
        let hi = u64::from_str_radix(hi.trim_start_matches("0x"), 16).unwrap();
        let r = region_at(&regions, hi - 1);
        assert_eq!(r["region_type"], "ThreadStack", "{r}");
        assert!(
            r["type_reason"]
                .as_str()
                .unwrap()
                .contains("stack pointer of thread"),
            "blocked threads are found by their stack pointer: {r}"
        );
        assert!(r["base_address"].as_u64().unwrap() <= lo);
        let guard = region_at(&regions, r["base_address"].as_u64().unwrap() - 1);
        assert_eq!(guard["region_type"], "Guard", "{guard}");
        assert_eq!(guard["protection"], "---p");
    }
    let main_stack: Vec<_> = regions
        .iter()
        .filter(|r| r["region_type"] == "Stack")
        .collect();
    assert_eq!(main_stack.len(), 1);
    assert_eq!(main_stack[0]["name"], "[stack]");
    assert!(regions
        .iter()
        .any(|r| r["name"] == "[vdso]" && r["region_type"] == "Kernel"));
}

#[test]
fn text_output_is_aligned_and_starts_with_the_seed_columns() {
    let f = fixture();
    let out = run(&["list", "--pid", &f.pid_arg()]);
    let text = out.ok();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        format!("Memory regions for PID: {}", f.pid())
    );
    assert!(lines.next().unwrap().starts_with("-----"));
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() > 20);
    // Every row: range, size, type, perms, in that order, the size column ending at one place.
    let size_end: Vec<usize> = rows
        .iter()
        .map(|r| {
            let after_range = r.find(' ').unwrap();
            let rest = &r[after_range..];
            after_range
                + rest.find(|c: char| c != ' ').unwrap()
                + rest.trim_start().find(' ').unwrap()
        })
        .collect();
    assert!(
        size_end.windows(2).all(|w| w[0] == w[1]),
        "size column aligned: {rows:#?}"
    );
    let guard = format!("{:#x}-{:#x}", f.addr("guard"), f.addr("guard") + 4096);
    let row = rows
        .iter()
        .find(|r| r.starts_with(&guard))
        .expect("guard row");
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols, vec![guard.as_str(), "4.0KB", "Reserved", "---p"]);
    let file_row = rows
        .iter()
        .find(|r| r.starts_with(&format!("{:#x}-", f.addr("file"))))
        .unwrap();
    assert!(file_row.ends_with(f.var("file_path")), "{file_row}");
}

#[test]
fn detailed_figures_add_up_to_smaps_rollup_on_a_stopped_process() {
    let f = fixture();
    f.stop();
    let read = |name: &str| {
        String::from_utf8_lossy(&std::fs::read(format!("/proc/{}/{name}", f.pid())).unwrap())
            .into_owned()
    };
    let kb = |text: &str, key: &str| -> u64 {
        text.lines()
            .filter(|l| l.starts_with(&format!("{key}:")))
            .map(|l| l.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024)
            .sum()
    };
    // PSS depends on how many processes map a page, and a memlink process maps libc too while
    // it reads: compare PSS with smaps read by this same process, through the library.
    let rollup = read("smaps_rollup");
    let regions = list_json(&f, true);
    let smaps = read("smaps");
    // Other tests start and stop processes that share libc: retry until a reading is stable.
    let analyzer = memlink::MemoryAnalyzer::new(f.pid()).unwrap();
    let mut compared = false;
    for _ in 0..100 {
        let before = read("smaps");
        let pss: u64 = analyzer
            .analyze()
            .unwrap()
            .iter()
            .map(|r| r.usage.unwrap().pss)
            .sum();
        // A short-lived process (a compiler, `kill`) can come and go between the two reads, so
        // only a reading equal to both sides counts; a real discrepancy never matches.
        if kb(&before, "Pss") == kb(&read("smaps"), "Pss") && pss == kb(&before, "Pss") {
            compared = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(compared, "PSS never equalled the sum over smaps");
    assert!(!smaps.is_empty());
    let sum = |field: &str| -> u64 {
        regions
            .iter()
            .map(|r| r["usage"][field].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("rss"), kb(&rollup, "Rss"));
    assert_eq!(sum("swap"), kb(&rollup, "Swap"));
    assert_eq!(sum("private_dirty"), kb(&rollup, "Private_Dirty"));
    assert_eq!(sum("anonymous"), kb(&rollup, "Anonymous"));
    assert!(sum("rss") > 0);
    let any = &regions[0];
    assert!(any["vm_flags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f == "rd"));
    f.cont();
}

#[test]
fn analyze_summary_counts_every_region() {
    let f = fixture();
    let pid = f.pid_arg();
    let regions = list_json(&f, false);
    let s = run(&["analyze", "--pid", &pid, "--summary", "--format", "json"]).json();
    assert_eq!(s["pid"].as_u64().unwrap(), f.pid() as u64);
    assert_eq!(s["total"]["count"].as_u64().unwrap(), regions.len() as u64);
    let by_type = s["by_type"].as_array().unwrap();
    let count_of = |t: &str| {
        by_type
            .iter()
            .find(|x| x["region_type"] == t)
            .map_or(0, |x| x["count"].as_u64().unwrap())
    };
    assert_eq!(count_of("ThreadStack"), 3);
    assert_eq!(count_of("Stack"), 1);
    assert!(
        count_of("Reserved") >= 1,
        "the fixture's reservation (glibc arenas add more)"
    );
    let total_rss: u64 = by_type.iter().map(|x| x["rss"].as_u64().unwrap()).sum();
    assert_eq!(total_rss, s["total"]["rss"].as_u64().unwrap());
    let files = s["by_file"].as_array().unwrap();
    assert!(files
        .iter()
        .any(|x| x["path"] == f.var("file_path") && x["count"] == 1));

    let text = run(&["analyze", "--pid", &pid]);
    let text = text.ok();
    assert!(text.starts_with(&format!("Memory Analysis for PID: {pid}\n")));
    assert!(text.contains("Summary by type"));
    assert!(text.contains("Summary by file"));
    assert!(text.contains(f.var("file_path")));

    let seed = run(&["analyze", "--pid", &pid, "--format", "json"]).json();
    let first = &seed.as_array().unwrap()[0];
    for k in [
        "base_address",
        "size",
        "protection",
        "region_type",
        "state",
        "mapped_file",
    ] {
        assert!(first.get(k).is_some(), "seed field {k} present");
    }
    assert!(first.get("usage").is_none(), "usage only with --detailed");
}

#[test]
fn library_finders_match_the_fixture() {
    let f = fixture();
    let a = memlink::MemoryAnalyzer::new(f.pid()).unwrap();
    let heap = a.find_heap_regions().unwrap();
    assert_eq!(heap.len(), 1);
    assert!(heap[0].contains(f.addr("heap") as usize));
    let stacks = a.find_stack_regions().unwrap();
    assert_eq!(stacks.len(), 4, "main stack and three thread stacks");
    let exec = a.find_executable_regions().unwrap();
    assert!(exec.iter().any(|r| r.base_address as u64 == f.addr("rwx")));
    assert!(exec.iter().all(|r| r.protection.as_bytes()[2] == b'x'));
    let stats = a.get_memory_stats().unwrap();
    assert!(stats.detailed);
    assert_eq!(stats.of_type(memlink::RegionType::ThreadStack).count, 3);
    let rollup = a.rollup().unwrap();
    assert!(rollup.usage.rss > 0);
    // Exact path bytes survive in the library.
    let regions = a.list().unwrap();
    let latin = regions
        .iter()
        .find(|r| r.contains(f.addr("latin1") as usize))
        .unwrap();
    use std::os::unix::ffi::OsStrExt;
    assert!(latin
        .path
        .as_ref()
        .unwrap()
        .as_os_str()
        .as_bytes()
        .ends_with(b"/caf\xe9.bin"));
}

#[test]
fn snapshot_round_trips() {
    let f = fixture();
    let a = memlink::MemoryAnalyzer::new(f.pid()).unwrap();
    let snap = memlink::snapshot::Snapshot::take(&a).unwrap();
    let path = f.dir.path().join("snap.json");
    snap.save(&path, false).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let back = memlink::snapshot::Snapshot::load(&path).unwrap();
    assert_eq!(
        back, snap,
        "every field survives, including non-UTF-8 paths"
    );
    let e = snap.save(&path, false).unwrap_err().to_string();
    assert!(e.contains("already exists"), "{e}");
    snap.save(&path, true).unwrap();
}

/// What memlink should report for `maps` or `smaps` text read in one piece: parsed by the
/// general parser alone (no fixed-layout shortcut) and classified as a whole.
fn reference(text: &[u8], detailed: bool) -> Vec<memlink::MemoryRegion> {
    use memlink::proc::{maps, smaps};
    use memlink::region::classify::{classify_all, Classifier};
    let c = Classifier::default();
    if !detailed {
        return classify_all(&c, &maps::parse(text).unwrap());
    }
    let entries = smaps::parse_with(smaps::SmapsParser::general_only(), text).unwrap();
    let lines: Vec<_> = entries.iter().map(|e| e.as_maps_line()).collect();
    (0..lines.len())
        .map(|i| {
            let prev = i.checked_sub(1).map(|j| &lines[j]);
            let e = &entries[i];
            c.region(
                prev,
                &lines[i],
                lines.get(i + 1),
                Some(e.usage),
                Some(e.vm_flags.clone()),
            )
        })
        .collect()
}

fn json_array(regions: &[memlink::MemoryRegion]) -> String {
    let mut out = b"[".to_vec();
    for (i, r) in regions.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n  " } else { b",\n  " });
        memlink::region::json::write_region(&mut out, r);
    }
    out.extend_from_slice(if regions.is_empty() { b"]\n" } else { b"\n]\n" });
    String::from_utf8(out).unwrap()
}

/// The streaming reader (chunked reads, the reused window of entries, the fixed-layout
/// shortcut, the CLI's rendering of borrowed regions) gives exactly what one whole read of the
/// same file gives, on a stopped process whose `maps` and `smaps` span many read chunks.
#[test]
fn streamed_regions_equal_a_whole_file_parse_across_many_chunks() {
    // Static, so that no other process shares its pages and its figures hold still.
    let f = Fixture::start_static("many", &["8000", "{dir}"]);
    f.stop();
    let pid = f.pid();
    let read = |name: &str| std::fs::read(format!("/proc/{pid}/{name}")).unwrap();
    let analyzer = memlink::MemoryAnalyzer::new(pid).unwrap();

    let maps = read("maps");
    assert!(maps.len() > 2 * 256 * 1024, "maps is {} bytes", maps.len());
    let want = reference(&maps, false);
    assert!(want.len() > 10_000, "{} regions", want.len());
    assert_eq!(analyzer.list().unwrap(), want);
    let p = pid.to_string();
    assert_eq!(
        run(&["list", "--pid", &p, "--format", "json"]).ok(),
        json_array(&want)
    );

    // Files of a real filesystem are read in chunks that end anywhere, mid-line (procfs ends
    // each read after a whole mapping): a procfs root holding copies of this process's files
    // exercises the lines carried from one chunk to the next, with figures that hold still.
    let smaps = read("smaps");
    let root = crate::support::tempdir::TempDir::new("procroot");
    let dir = root.path().join(&p);
    std::fs::create_dir_all(dir.join(format!("task/{pid}"))).unwrap();
    for (name, bytes) in [
        ("stat", read("stat")),
        ("status", read("status")),
        ("maps", maps.clone()),
        ("smaps", smaps.clone()),
        (
            &format!("task/{pid}/syscall"),
            read(&format!("task/{pid}/syscall")),
        ),
    ] {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let copy = memlink::MemoryAnalyzer::with_proc_root(root.path(), pid).unwrap();
    assert_eq!(copy.list().unwrap(), want);
    let want_detailed = reference(&smaps, true);
    assert_eq!(copy.analyze().unwrap(), want_detailed);
    let r = root.path().to_str().unwrap();
    let cli = run(&[
        "--proc-root",
        r,
        "list",
        "--pid",
        &p,
        "--detailed",
        "--format",
        "json",
    ]);
    assert_eq!(cli.ok(), json_array(&want_detailed));

    // Should some page of the live process still be shared (the vDSO's are not counted),
    // compare only a reading that equals the file both before and after.
    let mut compared = 0;
    for _ in 0..20 {
        let before = read("smaps");
        let lib = analyzer.analyze().unwrap();
        let cli = run(&["list", "--pid", &p, "--detailed", "--format", "json"]);
        if before != read("smaps") {
            continue;
        }
        let want = reference(&before, true);
        // The library and the CLI each race the readings separately.
        if lib == want {
            compared |= 1;
        }
        if cli.ok() == json_array(&want) {
            compared |= 2;
        }
        if compared == 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        compared, 3,
        "no stable reading matched (1: library, 2: CLI)"
    );

    let regions = analyzer.analyze().unwrap();
    let reserve = f.addr("reserve") as usize;
    let r = regions
        .iter()
        .find(|r| r.base_address == reserve)
        .expect("the reservation");
    assert_eq!(r.size, 100 << 30);
    assert_eq!(r.region_type, memlink::RegionType::Reserved);
    let file: Vec<_> = regions
        .iter()
        .filter(|r| {
            r.mapped_file
                .as_deref()
                .is_some_and(|m| m.ends_with("/file with space \\xff.bin"))
        })
        .collect();
    assert_eq!(file.len(), 2000);
    assert!(file.iter().all(|r| r.usage.is_some()));
    f.cont();
}

/// `(base, size, type)` of every region, as `list --format json` (with `--detailed` or not)
/// gives them.
fn types_of(regions: &[Value]) -> Vec<(u64, u64, String)> {
    regions
        .iter()
        .map(|r| {
            (
                r["base_address"].as_u64().unwrap(),
                r["size"].as_u64().unwrap(),
                r["region_type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Parses a printed `LO-HI` range.
fn range(f: &Fixture, v: &str) -> (u64, u64) {
    let (lo, hi) = v.split_once('-').unwrap();
    (f.addr_of(lo), f.addr_of(hi))
}

/// Lists the fixture `runs` times each way and checks that every listing gives the same types;
/// returns the last detailed one.
fn same_types_every_time(f: &Fixture, runs: usize) -> Vec<Value> {
    let first = types_of(&list_json(f, false));
    let mut detailed = Vec::new();
    for i in 0..runs {
        assert_eq!(types_of(&list_json(f, false)), first, "list, run {i}");
        detailed = list_json(f, true);
        assert_eq!(types_of(&detailed), first, "list --detailed, run {i}");
    }
    detailed
}

/// Threads spinning on CPUs never show a stack pointer, so their stacks are found by glibc's
/// layout; allocator regions shaped the same way but without `MAP_STACK` are not taken for
/// stacks, and 20 listings each way, a moment apart, agree on every type.
#[test]
fn spinning_threads_stacks_are_found_and_types_hold_still() {
    let f = Fixture::start("stacks", &["2", "4", "0", "1"]);
    let regions = same_types_every_time(&f, 20);
    let spins = &f.vars["spin_stack"];
    assert_eq!(spins.len(), 2);
    for s in spins {
        let (lo, hi) = range(&f, s);
        let r = region_at(&regions, hi - 1);
        assert_eq!(r["region_type"], "ThreadStack", "{r}");
        assert!(
            r["type_reason"]
                .as_str()
                .unwrap()
                .contains("stack pointer could not be read"),
            "{r}"
        );
        assert!(r["vm_flags"].as_array().unwrap().iter().any(|f| f == "nh"));
        assert!(r["base_address"].as_u64().unwrap() <= lo);
        let guard = region_at(&regions, r["base_address"].as_u64().unwrap() - 1);
        assert_eq!(guard["region_type"], "Guard", "{guard}");
    }
    let page = f.var("page_size").parse::<u64>().unwrap();
    for (alloc, guard) in f.vars["alloc"].iter().zip(&f.vars["alloc_guard"]) {
        let r = region_at(&regions, f.addr_of(alloc));
        assert_eq!(r["region_type"], "Private", "{r}");
        assert!(
            r["type_reason"]
                .as_str()
                .unwrap()
                .contains("not a thread stack"),
            "{r}"
        );
        let g = region_at(&regions, f.addr_of(guard));
        assert_eq!(g["size"].as_u64().unwrap(), page);
        assert_eq!(g["region_type"], "Reserved", "{g}");
    }
    // A stack whose guard page is installed with MADV_GUARD_INSTALL has no inaccessible region
    // below it: pagemap shows the guard (Linux 6.15).
    if f.var("guard_install") == "ok" {
        let (_, hi) = range(&f, f.var("guarded_stack"));
        let r = region_at(&regions, hi - 1);
        assert_eq!(r["region_type"], "ThreadStack", "{r}");
    } else {
        eprintln!("SKIPPED: MADV_GUARD_INSTALL unsupported (Linux 6.13+)");
    }
    let count = regions
        .iter()
        .filter(|r| r["region_type"] == "ThreadStack")
        .count();
    assert_eq!(count, 3, "never more layout stacks than running threads");
}

/// With every thread blocked, the stacks glibc keeps for reuse after threads exit are named as
/// such (their `VmFlags` are needed, so in `--detailed`), and are not thread stacks in either
/// form.
#[test]
fn cached_stack_of_an_exited_thread_is_named_as_such() {
    let f = Fixture::start("stacks", &["0", "0", "1", "0"]);
    let regions = same_types_every_time(&f, 3);
    let (_, hi) = range(&f, f.var("cached_stack"));
    let r = region_at(&regions, hi - 1);
    assert_eq!(r["region_type"], "Private", "{r}");
    assert!(
        r["type_reason"]
            .as_str()
            .unwrap()
            .starts_with("cached stack of an exited thread"),
        "{r}"
    );
    let guard = region_at(&regions, r["base_address"].as_u64().unwrap() - 1);
    assert_eq!(guard["region_type"], "Reserved", "{guard}");
}

/// A cached stack beside a running thread: two regions laid out as glibc stacks for one thread
/// without a stack pointer. Which one is the live thread's cannot be told, so neither is taken,
/// and every listing says the same.
#[test]
fn cached_stack_beside_a_running_thread_leaves_both_unattributed() {
    let f = Fixture::start("stacks", &["1", "0", "1", "0"]);
    let regions = same_types_every_time(&f, 10);
    for key in ["spin_stack", "cached_stack"] {
        let (_, hi) = range(&f, f.var(key));
        let r = region_at(&regions, hi - 1);
        assert_eq!(r["region_type"], "Private", "{key}: {r}");
        assert!(
            r["type_reason"]
                .as_str()
                .unwrap()
                .contains("stack not identified"),
            "{key}: {r}"
        );
    }
}

/// ` (deleted)` at the end of a path is the kernel's mark only when the file was deleted:
/// `map_files` (or the file under the process's root) settles it; a copied procfs tree cannot,
/// so there the state is unknown (`null`).
#[test]
fn deleted_suffix_is_checked_against_the_file() {
    let f = Fixture::start("deleted_names", &["{dir}"]);
    let regions = list_json(&f, false);
    let dir = f.var("dir");
    let live = region_at(&regions, f.addr("live"));
    assert_eq!(live["deleted"], false, "{live}");
    assert_eq!(live["mapped_file"], format!("{dir}/x (deleted)"));
    assert_eq!(
        live["type_reason"],
        "file mapping without execute permission"
    );
    let gone = region_at(&regions, f.addr("gone"));
    assert_eq!(gone["deleted"], true, "{gone}");
    assert_eq!(gone["mapped_file"], format!("{dir}/gone.bin"));
    let both = region_at(&regions, f.addr("both"));
    assert_eq!(both["deleted"], true, "{both}");
    assert_eq!(both["mapped_file"], format!("{dir}/y (deleted)"));
    let text = run(&["list", "--pid", &f.pid_arg()]);
    assert!(text.ok().contains("/x (deleted)\n"));

    // The same maps read through a copied procfs tree.
    let root = crate::support::tempdir::TempDir::new("procroot-deleted");
    let copy = root.path().join(f.pid_arg());
    std::fs::create_dir_all(copy.join("task")).unwrap();
    for name in ["maps", "smaps", "stat", "status"] {
        let bytes = std::fs::read(format!("/proc/{}/{name}", f.pid())).unwrap();
        std::fs::write(copy.join(name), bytes).unwrap();
    }
    let root_arg = root.path().to_str().unwrap().to_string();
    let pid = f.pid_arg();
    for detailed in [false, true] {
        let mut args = vec![
            "--proc-root",
            &root_arg,
            "list",
            "--pid",
            &pid,
            "--format",
            "json",
        ];
        if detailed {
            args.push("--detailed");
        }
        let copied = run(&args).json();
        let copied = copied.as_array().unwrap();
        for key in ["live", "gone", "both"] {
            let r = region_at(copied, f.addr(key));
            assert_eq!(r["deleted"], Value::Null, "{key}: {r}");
            assert_eq!(r["region_type"], "MappedFile");
            assert!(
                r["type_reason"]
                    .as_str()
                    .unwrap()
                    .contains("deleted or not is unknown"),
                "{key}: {r}"
            );
        }
    }
}
