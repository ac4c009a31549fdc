//! Regression tests: one test per fixed bug, each named after the behaviour it pins.

use serde_json::Value;

use crate::support::{run, Fixture};

fn list(f: &Fixture, detailed: bool) -> Vec<Value> {
    let pid = f.pid_arg();
    let mut args = vec!["list", "--pid", &pid, "--format", "json"];
    if detailed {
        args.push("--detailed");
    }
    run(&args).json().as_array().unwrap().clone()
}

#[track_caller]
fn at(regions: &[Value], addr: u64) -> &Value {
    regions
        .iter()
        .find(|r| {
            let b = r["base_address"].as_u64().unwrap();
            addr >= b && addr < b + r["size"].as_u64().unwrap()
        })
        .unwrap_or_else(|| panic!("no region contains {addr:#x}"))
}

/// While threads ran on CPUs, the glibc layout fallback took any writable region above an
/// inaccessible page (allocator and JIT pages) for a thread stack, and the page below it for a
/// guard, so two listings a moment apart disagreed.
#[test]
fn running_threads_leave_guarded_allocator_regions_private() {
    let f = Fixture::start("stacks", &["2", "4", "0", "0"]);
    for detailed in [false, true] {
        let regions = list(&f, detailed);
        for (alloc, guard) in f.vars["alloc"].iter().zip(&f.vars["alloc_guard"]) {
            let r = at(&regions, f.addr_of(alloc));
            assert_eq!(r["region_type"], "Private", "{r}");
            let g = at(&regions, f.addr_of(guard));
            assert_eq!(g["region_type"], "Reserved", "{g}");
        }
        let stacks = regions
            .iter()
            .filter(|r| r["region_type"] == "ThreadStack")
            .count();
        assert_eq!(stacks, 2, "one stack per running thread");
    }
}

/// A lone inaccessible page, next to neither a stack nor the heap, was called a `Guard`.
#[test]
fn a_lone_inaccessible_page_is_reserved_not_a_guard() {
    let f = Fixture::start("regions", &["{dir}", "1"]);
    let r = at(&list(&f, false), f.addr("guard")).clone();
    assert_eq!(r["region_type"], "Reserved", "{r}");
    assert_eq!(r["protection"], "---p");
    assert!(r["type_reason"]
        .as_str()
        .unwrap()
        .contains("no stack or heap next to it"));
}

/// A live file whose name really ends in ` (deleted)` was reported as deleted, under the name
/// without the suffix.
#[test]
fn a_live_file_named_with_the_deleted_suffix_is_not_deleted() {
    let f = Fixture::start("deleted_names", &["{dir}"]);
    for detailed in [false, true] {
        let r = at(&list(&f, detailed), f.addr("live")).clone();
        assert_eq!(r["deleted"], false, "{r}");
        assert_eq!(
            r["mapped_file"],
            format!("{}/x (deleted)", f.var("dir")),
            "{r}"
        );
    }
}
