//! Micro-benchmarks of memlink's hot pure code: the `maps` and `smaps` parsers and the JSON
//! writer, on the committed captures under `tests/fixtures/proc/` and on a synthetic
//! 10,000-region process built here, so that a regression in one of them shows without the
//! whole-tool suite (`benches/*/run.sh`).
//!
//! `cargo bench --bench parsers`; CI only checks that it compiles (`cargo bench --no-run`).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use memlink::proc::{maps, smaps};
use memlink::region::classify::{classify_all, Classifier, ThreadStacks};
use memlink::region::json;
use memlink::MemoryRegion;

/// Regions in the synthetic input: as many as a large JVM or browser process maps.
const SYNTHETIC_REGIONS: usize = 10_000;

/// A committed capture, read once.
fn capture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/proc/odd/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A `maps` file of `n` regions in the kernel's format: file mappings in runs of four
/// (r--p, r-xp, r--p, rw-p, as the loader maps a library), anonymous regions, guard pages and
/// the named pseudo-regions.
fn synthetic_maps(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n * 96);
    let mut addr: u64 = 0x5555_5555_4000;
    for i in 0..n {
        let size = 0x1000 * (1 + (i as u64 % 7));
        let (perms, offset, dev, inode, path) = match i % 8 {
            0 => (
                "r--p",
                0,
                "08:01",
                1_000 + i / 8,
                format!("/usr/lib/x86_64-linux-gnu/lib{}.so.6", i / 8),
            ),
            1 => (
                "r-xp",
                0x1000,
                "08:01",
                1_000 + i / 8,
                format!("/usr/lib/x86_64-linux-gnu/lib{}.so.6", i / 8),
            ),
            2 => (
                "r--p",
                0x9000,
                "08:01",
                1_000 + i / 8,
                format!("/usr/lib/x86_64-linux-gnu/lib{}.so.6", i / 8),
            ),
            3 => (
                "rw-p",
                0xa000,
                "08:01",
                1_000 + i / 8,
                format!("/usr/lib/x86_64-linux-gnu/lib{}.so.6", i / 8),
            ),
            4 => ("rw-p", 0, "00:00", 0, String::new()),
            5 => ("---p", 0, "00:00", 0, String::new()),
            6 => (
                "rw-s",
                0,
                "00:01",
                4_000 + i,
                format!("/memfd:pool-{i} (deleted)"),
            ),
            _ => ("rw-p", 0, "00:00", 0, "[anon:arena]".to_string()),
        };
        let line = format!(
            "{:x}-{:x} {perms} {offset:08x} {dev} {inode:<10} {}{path}\n",
            addr,
            addr + size,
            if path.is_empty() {
                ""
            } else {
                "              "
            }
        );
        out.extend_from_slice(line.as_bytes());
        addr += size + if i % 5 == 0 { 0x10_0000 } else { 0 };
    }
    out
}

/// The `smaps` of the same regions: each header followed by the field block of the first
/// entry of the committed capture (the field layout of a real kernel).
fn synthetic_smaps(maps_text: &[u8], captured_smaps: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = captured_smaps.split_inclusive(|&c| c == b'\n').collect();
    let fields_end = 1 + lines[1..]
        .iter()
        .position(|l| smaps::is_header(l.strip_suffix(b"\n").unwrap_or(l)))
        .expect("the capture has a second entry");
    let fields: Vec<u8> = lines[1..fields_end].concat();
    let mut out = Vec::with_capacity(maps_text.len() * 12);
    for header in maps_text.split_inclusive(|&c| c == b'\n') {
        out.extend_from_slice(header);
        out.extend_from_slice(&fields);
    }
    out
}

/// Regions with their `smaps` figures attached, as `list --detailed` has them.
fn detailed_regions(maps_text: &[u8], smaps_text: &[u8]) -> Vec<MemoryRegion> {
    let lines = maps::parse(maps_text).expect("maps parses");
    let classifier = Classifier::new(ThreadStacks::new(Vec::new(), 0));
    let mut regions = classify_all(&classifier, &lines);
    let entries = smaps::parse(smaps_text).expect("smaps parses");
    for (r, e) in regions.iter_mut().zip(entries) {
        r.usage = Some(e.usage);
        r.vm_flags = Some(e.vm_flags);
    }
    regions
}

fn parsers(c: &mut Criterion) {
    let captured_maps = capture("maps");
    let captured_smaps = capture("smaps");
    let big_maps = synthetic_maps(SYNTHETIC_REGIONS);
    let big_smaps = synthetic_smaps(&big_maps, &captured_smaps);
    let inputs = [
        ("capture", &captured_maps, &captured_smaps),
        ("synthetic-10k", &big_maps, &big_smaps),
    ];

    let mut group = c.benchmark_group("maps::parse");
    for (name, maps_text, _) in inputs {
        group.throughput(Throughput::Bytes(maps_text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), maps_text, |b, t| {
            b.iter(|| maps::parse(black_box(t)).unwrap().len())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("smaps::parse");
    for (name, _, smaps_text) in inputs {
        group.throughput(Throughput::Bytes(smaps_text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), smaps_text, |b, t| {
            b.iter(|| smaps::parse(black_box(t)).unwrap().len())
        });
        group.bench_with_input(
            BenchmarkId::new("general_only", name),
            smaps_text,
            |b, t| {
                b.iter(|| {
                    smaps::parse_with(smaps::SmapsParser::general_only(), black_box(t))
                        .unwrap()
                        .len()
                })
            },
        );
    }
    group.finish();

    let mut group = c.benchmark_group("json");
    for (name, maps_text, smaps_text) in inputs {
        let regions = detailed_regions(maps_text, smaps_text);
        group.throughput(Throughput::Elements(regions.len() as u64));
        let mut out = Vec::new();
        group.bench_with_input(BenchmarkId::new("write_region", name), &regions, |b, rs| {
            b.iter(|| {
                out.clear();
                for r in black_box(rs) {
                    json::write_region(&mut out, r);
                }
                out.len()
            })
        });
        group.bench_with_input(BenchmarkId::new("write_view", name), &regions, |b, rs| {
            b.iter(|| {
                out.clear();
                for r in black_box(rs) {
                    json::write_view(&mut out, &r.view());
                }
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parsers);
criterion_main!(benches);
