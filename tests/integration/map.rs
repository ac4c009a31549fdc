//! `memlink map`: golden pictures of the committed `regions` snapshot, maps of a live fixture,
//! the page checked in a real headless browser, and every refusal.
//!
//! Golden files live in `tests/fixtures/map/`; `BLESS=1 cargo test map::` rewrites them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::tempdir::TempDir;
use crate::support::{memlink, require, run, run_cmd, Fixture};

mod browser;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn snapshot_path() -> PathBuf {
    root().join("tests/fixtures/snapshots/regions.json")
}

fn snapshot_arg() -> String {
    snapshot_path().to_string_lossy().into_owned()
}

fn fixture_file(name: &str) -> String {
    root()
        .join("tests/fixtures/map")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Compares `actual` with the golden file `name`, or rewrites it under `BLESS=1`.
#[track_caller]
fn golden(name: &str, actual: &str) {
    let path = root().join("tests/fixtures/map").join(name);
    if std::env::var("BLESS").as_deref() == Ok("1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with BLESS=1 to create it)", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map_or(expected.lines().count().min(actual.lines().count()), |i| i);
        let new = path.with_extension(format!(
            "{}.actual",
            path.extension().unwrap().to_string_lossy()
        ));
        std::fs::write(&new, actual).unwrap();
        panic!(
            "{} differs from the output at line {} (output written to {}; BLESS=1 accepts it)",
            path.display(),
            line + 1,
            new.display()
        );
    }
}

/// The snapshot as JSON.
fn snapshot_json() -> Value {
    serde_json::from_slice(&std::fs::read(snapshot_path()).unwrap()).unwrap()
}

/// The JSON document embedded in a page.
fn embedded(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"memlink-data\">";
    let start = html.find(open).expect("data block") + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    serde_json::from_str(&html[start..end]).expect("embedded JSON")
}

/// The region indices covered by drawn cells (`data-first="N" data-count="M"` pairs).
fn drawn_regions(markup: &str) -> BTreeSet<usize> {
    let mut seen = BTreeSet::new();
    let mut rest = markup;
    while let Some(i) = rest.find("data-first=\"") {
        rest = &rest[i + 12..];
        let q = rest.find('"').unwrap();
        let first: usize = rest[..q].parse().unwrap();
        let after = &rest[q + 1..];
        let count = after
            .strip_prefix(" data-count=\"")
            .and_then(|a| a.split('"').next())
            .map_or(1, |c| c.parse().unwrap());
        seen.extend(first..first + count);
    }
    seen
}

#[test]
#[ignore = "writes tests/fixtures/snapshots/regions.json; run once by hand"]
fn make_regions_snapshot() {
    let f = Fixture::start("regions", &["{dir}", "3"]);
    let a = memlink::MemoryAnalyzer::new(f.pid()).unwrap();
    let s = memlink::snapshot::Snapshot::take(&a).unwrap();
    std::fs::create_dir_all(snapshot_path().parent().unwrap()).unwrap();
    s.save(&snapshot_path(), true).unwrap();
}

#[test]
fn svg_golden() {
    let snap = snapshot_arg();
    let r = run(&["map", "--snapshot", &snap, "--format", "svg"]);
    let svg = r.ok();
    golden("regions.svg", svg);
    let n = snapshot_json()["regions"].as_array().unwrap().len();
    assert_eq!(drawn_regions(svg), (0..n).collect(), "every region drawn");
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("Memory map of PID"));
}

#[test]
fn svg_with_findings_golden() {
    let snap = snapshot_arg();
    let hl = fixture_file("highlights.json");
    let svg = run(&[
        "map",
        "--snapshot",
        &snap,
        "--format",
        "svg",
        "--no-audit",
        "--highlights",
        &hl,
    ]);
    let svg = svg.ok();
    golden("regions-findings.svg", svg);
    // The rwx region and the pattern address are outlined, each once.
    assert_eq!(svg.matches("class=\"finding\"").count(), 2, "{svg}");
    assert!(svg.contains("writable and executable"));
}

#[test]
fn html_golden_and_embedded_document() {
    let snap = snapshot_arg();
    let hl = fixture_file("highlights.json");
    let html = run(&[
        "map",
        "--snapshot",
        &snap,
        "--format",
        "html",
        "--no-audit",
        "--highlights",
        &hl,
    ]);
    let html = html.ok();
    golden("regions.html", html);
    assert!(html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'sha256-"));
    let doc = embedded(html);
    assert_eq!(doc["format"], "memlink-map");
    assert_eq!(doc["kind"], "regions");
    // The page embeds the snapshot's regions, summary and process as they are: one schema.
    let mut saved = snapshot_json();
    // Per region, the split of PSS is unknown (only smaps_rollup has it): null, where the
    // snapshot, written before that, has 0.
    for r in saved["regions"].as_array_mut().unwrap() {
        for k in ["pss_anon", "pss_file", "pss_shmem"] {
            r["usage"][k] = Value::Null;
        }
    }
    assert_eq!(doc["regions"], saved["regions"]);
    // The summary, plus where its total comes from: a snapshot written before the rollup was
    // read has the sum of its regions.
    let mut stats = doc["stats"].clone();
    assert_eq!(stats["total_source"], "sum of regions");
    for k in ["total_source", "sum_of_regions", "total_minus_regions"] {
        stats.as_object_mut().unwrap().remove(k);
    }
    assert_eq!(stats, saved["stats"]);
    assert_eq!(doc["process"], saved["process"]);
    assert_eq!(doc["taken_at"], saved["taken_at"]);
    assert_eq!(doc["highlights"].as_array().unwrap().len(), 2);
    // The JSON printed by --format json is the embedded document.
    let json = run(&[
        "map",
        "--snapshot",
        &snap,
        "--format",
        "json",
        "--no-audit",
        "--highlights",
        &hl,
    ])
    .json();
    assert_eq!(json, doc);
}

#[test]
fn terminal_golden() {
    let snap = snapshot_arg();
    let plain = run(&["map", "--snapshot", &snap, "--width", "100"]);
    let plain = plain.ok();
    assert!(
        !plain.contains('\x1b'),
        "no colours when stdout is not a terminal"
    );
    golden("regions.txt", plain);
    let colored = run(&[
        "map",
        "--snapshot",
        &snap,
        "--width",
        "100",
        "--color",
        "always",
    ]);
    let colored = colored.ok();
    assert!(colored.contains("\x1b[48;2;"), "colours asked for");
    golden("regions.ansi", colored);
    let never = run(&[
        "map",
        "--snapshot",
        &snap,
        "--width",
        "100",
        "--color",
        "never",
    ]);
    assert_eq!(never.ok(), plain);
    for line in plain.lines() {
        assert!(line.chars().count() <= 100, "{line:?} wider than 100");
    }
}

#[test]
fn live_process_map() {
    let f = Fixture::start("regions", &["{dir}", "3"]);
    let pid = f.pid_arg();
    let out = TempDir::new("map-live");
    let html = out.path().join("map.html");
    let h = html.to_string_lossy().into_owned();
    run(&["map", "--pid", &pid, "-o", &h]).ok();
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(&html).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let doc = embedded(&std::fs::read_to_string(&html).unwrap());
    let regions = doc["regions"].as_array().unwrap();
    // The fixture's known regions are in the page, with their types.
    for (key, ty) in [
        ("heap", "Heap"),
        ("rwx", "Private"),
        ("reserved", "Reserved"),
        ("memfd", "SharedMemory"),
    ] {
        let a = f.addr(key);
        let r = regions
            .iter()
            .find(|r| {
                let b = r["base_address"].as_u64().unwrap();
                a >= b && a < b + r["size"].as_u64().unwrap()
            })
            .unwrap_or_else(|| panic!("{key} not in the page"));
        assert_eq!(r["region_type"], ty, "{key}");
        assert!(r["usage"]["rss"].is_u64(), "detailed figures: {r}");
    }
    // Every region is in exactly one cell.
    let mut next = 0;
    for row in doc["layout"]["rows"].as_array().unwrap() {
        for c in row["cells"].as_array().unwrap() {
            if c["kind"] != "gap" {
                assert_eq!(c["first"].as_u64().unwrap(), next);
                next += c["count"].as_u64().unwrap();
            }
        }
    }
    assert_eq!(next as usize, regions.len());

    // SVG by extension; terminal map without -o.
    let svg = out.path().join("map.svg");
    run(&["map", "--pid", &pid, "-o", &svg.to_string_lossy()]).ok();
    assert!(std::fs::read_to_string(&svg)
        .unwrap()
        .starts_with("<svg xmlns"));
    let text = run(&["map", "--pid", &pid, "--width", "120"]);
    let text = text.ok();
    assert!(text.starts_with(&format!("Memory map of PID {pid} (regions)")));
    assert!(text.contains("Legend:"));
    assert!(
        text.lines().any(|l| l.contains('H')),
        "the heap is drawn:\n{text}"
    );
}

/// Runs headless Chromium on `page` with `extra` flags; returns stdout.
fn chromium(page: &Path, extra: &[&str]) -> String {
    let profile = TempDir::new("chromium-profile");
    let r = run_cmd(
        Command::new("timeout")
            .args([
                "120",
                "chromium",
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(format!("file://{}", page.display())),
    );
    assert_eq!(r.code, 0, "chromium failed: {}", r.stderr);
    r.stdout
}

fn body_tag(dom: &str) -> &str {
    let i = dom.find("<body").expect("a body");
    &dom[i..i + dom[i..].find('>').unwrap()]
}

#[test]
fn watch_growth_page() {
    let log = fixture_file("watch.jsonl");
    let json = run(&["map", "--watch", &log, "--format", "json"]).json();
    assert_eq!(json["kind"], "watch");
    assert_eq!(json["watch"]["samples"].as_array().unwrap().len(), 12);
    assert_eq!(json["watch"]["verdict"]["leak_suspected"], true);
    let dir = TempDir::new("map-watch");
    let page = dir.path().join("watch.html");
    run(&["map", "--watch", &log, "-o", &page.to_string_lossy()]).ok();
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(embedded(&html), json);
    let svg = run(&["map", "--watch", &log, "--format", "svg"]);
    let svg = svg.ok();
    golden("watch.svg", svg);
    for series in ["rss", "anon", "file", "shmem", "stacks"] {
        assert!(
            svg.contains(&format!("data-series=\"{series}\"")),
            "{series} drawn"
        );
    }
    assert_eq!(
        svg.matches("class=\"fit\"").count(),
        4,
        "a fitted line per component"
    );
    assert!(svg.contains("Leak suspected"));
    if !require(
        "chromium",
        "the growth page is checked in a headless browser",
    ) {
        return;
    }
    let dom = chromium(&page, &["--dump-dom"]);
    assert!(
        body_tag(&dom).contains("data-memlink-ready=\"1\""),
        "{}",
        body_tag(&dom)
    );
    for series in ["rss", "anon", "file", "shmem", "stacks"] {
        assert!(
            dom.contains(&format!("data-series=\"{series}\"")),
            "{series} drawn"
        );
    }
    assert!(
        dom.contains("data-fit=\"anon\""),
        "the fitted slope is drawn"
    );
    assert!(dom.contains("Leak suspected"));
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("map-watch.png");
    chromium(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000",
        ],
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
}

#[test]
fn bad_input() {
    let dir = TempDir::new("map-bad");
    let snap = snapshot_arg();
    let missing = dir.path().join("missing.json");
    run(&["map", "--snapshot", &missing.to_string_lossy()])
        .assert_error(&["missing.json", "No such file"]);
    // A folder is not a readable snapshot.
    run(&["map", "--snapshot", &dir.path().to_string_lossy()])
        .assert_error(&[&*dir.path().to_string_lossy()]);
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"format\":").unwrap();
    run(&["map", "--snapshot", &garbage.to_string_lossy()]).assert_error(&["garbage.json"]);
    let other = dir.path().join("other.json");
    std::fs::write(&other, "{\"hello\":1}").unwrap();
    run(&["map", "--snapshot", &other.to_string_lossy()]).assert_error(&["not a memlink snapshot"]);
    // Output in a missing folder: an error naming it, nothing created.
    let nowhere = dir.path().join("no/such/dir/map.html");
    run(&["map", "--snapshot", &snap, "-o", &nowhere.to_string_lossy()])
        .assert_error(&["no/such/dir/map.html"]);
    // An existing file is kept unless --force.
    let existing = dir.path().join("existing.html");
    std::fs::write(&existing, "keep me").unwrap();
    let e = existing.to_string_lossy();
    run(&["map", "--snapshot", &snap, "-o", &e]).assert_error(&["already exists", "--force"]);
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me");
    run(&["map", "--snapshot", &snap, "-o", &e, "--force"]).ok();
    assert!(std::fs::read_to_string(&existing)
        .unwrap()
        .starts_with("<!DOCTYPE html>"));
    // A bad PID leaves no file behind.
    let out = dir.path().join("pid.html");
    run(&["map", "--pid", "0", "-o", &out.to_string_lossy()]).assert_error(&["PID 0"]);
    let max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = (max + 1).to_string();
    run(&["map", "--pid", &gone, "-o", &out.to_string_lossy()])
        .assert_error(&[&gone, "does not exist"]);
    assert!(!out.exists(), "no output for a failed map");
    // Inputs are exclusive and one is required.
    run(&["map"]).assert_error(&[]);
    run(&["map", "--pid", "1", "--snapshot", &snap]).assert_error(&[]);
    // Bad highlights and watch logs.
    run(&[
        "map",
        "--snapshot",
        &snap,
        "--no-audit",
        "--highlights",
        &garbage.to_string_lossy(),
    ])
    .assert_error(&["highlights", "garbage.json"]);
    run(&["map", "--watch", &garbage.to_string_lossy()]).assert_error(&["garbage.json", "line 1"]);
    run(&["map", "--watch", &missing.to_string_lossy()]).assert_error(&["missing.json"]);
    let log = fixture_file("watch.jsonl");
    run(&["map", "--watch", &log, "--format", "text"]).assert_error(&["not implemented yet"]);
    run(&["map", "--snapshot", &snap, "--color", "sometimes"]).assert_error(&["sometimes"]);
}

#[test]
fn broken_pipe_is_quiet() {
    let snap = snapshot_arg();
    let mut child = memlink()
        .args(["map", "--snapshot", &snap, "--format", "json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.code() == Some(0), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A process with thousands of mappings: small regions are aggregated, every region is still
/// covered by exactly one cell, and the page stays small.
#[test]
fn many_mappings_are_aggregated() {
    let dir = TempDir::new("map-many");
    let bin = dir.path().join("manymaps");
    let st = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-O1", "-o"])
        .arg(&bin)
        .arg(root().join("benches/map/manymaps.c"))
        .status()
        .expect("run the C compiler");
    assert!(st.success());
    let mut child = Command::new(&bin)
        .arg("6000")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let _out = crate::support::wait_ready(&mut child);
    let child = crate::support::Reaped(child);
    let pid = child.0.id().to_string();
    let page = dir.path().join("many.html");
    run(&["map", "--pid", &pid, "-o", &page.to_string_lossy()]).ok();
    let html = std::fs::read_to_string(&page).unwrap();
    let doc = embedded(&html);
    let layout = &doc["layout"];
    let total = layout["regions"].as_u64().unwrap();
    assert!(total >= 6000, "{total}");
    assert!(layout["aggregates"].as_u64().unwrap() > 0);
    let mut next = 0;
    let mut cells = 0;
    for row in layout["rows"].as_array().unwrap() {
        for c in row["cells"].as_array().unwrap() {
            if c["kind"] == "gap" {
                continue;
            }
            cells += 1;
            assert_eq!(c["first"].as_u64().unwrap(), next);
            next += c["count"].as_u64().unwrap();
            if c["kind"] == "aggregate" {
                assert!(c["summary"]["sample"].as_array().unwrap().len() > 1);
            }
        }
    }
    assert_eq!(next, total, "every region in one cell");
    assert!(cells <= 2100, "{cells} cells");
    assert!(
        html.len() < 3 << 20,
        "{} bytes: aggregated regions are summarised",
        html.len()
    );
    if !require("chromium", "the map page is checked in a headless browser") {
        return;
    }
    let dom = chromium(&page, &["--dump-dom"]);
    assert!(body_tag(&dom).contains("data-memlink-ready=\"1\""));
    let app = &dom[dom.find("id=\"app\"").unwrap()..];
    assert_eq!(
        drawn_regions(app),
        (0..total as usize).collect(),
        "every region drawn"
    );
}

#[test]
fn audit_findings_are_drawn_by_default() {
    let snap = snapshot_arg();
    let doc = run(&["map", "--snapshot", &snap, "--format", "json"]).json();
    let hl = doc["highlights"].as_array().unwrap();
    // The fixture's rwx page is the audit's writable-and-executable finding.
    let rwx = hl
        .iter()
        .find(|h| h["start"] == "0x7f5379686000")
        .unwrap_or_else(|| panic!("no finding on the rwx page: {hl:?}"));
    assert_eq!(rwx["end"], "0x7f5379687000");
    assert_eq!(rwx["severity"], "high");
    assert!(rwx["label"].as_str().unwrap().contains("writable"), "{rwx}");
    let svg = run(&["map", "--snapshot", &snap, "--format", "svg"]);
    assert_eq!(
        svg.ok().matches("class=\"finding\"").count(),
        hl.len(),
        "one outline per finding"
    );
    let text = run(&["map", "--snapshot", &snap, "--color", "never"]);
    assert!(text
        .ok()
        .contains("high 0x7f5379686000-0x7f5379687000: writable_executable"));
    let quiet = run(&["map", "--snapshot", &snap, "--format", "json", "--no-audit"]).json();
    assert_eq!(quiet["highlights"], serde_json::json!([]));
}

/// A second snapshot made from the committed one: a region removed, the heap grown, a region
/// added; the summary recomputed.
fn later_snapshot(dir: &Path) -> PathBuf {
    let mut s = memlink::snapshot::Snapshot::load(&snapshot_path()).unwrap();
    s.taken_at += 60;
    let removed = s.regions.remove(6);
    let heap = s
        .regions
        .iter_mut()
        .find(|r| r.name.as_deref() == Some("[heap]"))
        .unwrap();
    heap.size += 0x21000;
    let mut added = removed.clone();
    added.base_address = 0x7e00_0000_0000;
    added.name = Some("[anon:cache]".into());
    s.regions.push(added);
    s.regions.sort_by_key(|r| r.base_address);
    s.stats = memlink::MemoryStats::from_regions(s.process.pid, &s.regions);
    let p = dir.join("later.json");
    s.save(&p, true).unwrap();
    p
}

#[test]
fn diff_picture() {
    let dir = TempDir::new("map-diff");
    let a = snapshot_arg();
    let b = later_snapshot(dir.path());
    let b = b.to_string_lossy();
    let doc = run(&["map", "--diff", &a, &b, "--format", "json"]).json();
    assert_eq!(doc["kind"], "diff");
    let d = &doc["diff"];
    assert_eq!(d["added"].as_array().unwrap().len(), 1);
    assert_eq!(d["removed"].as_array().unwrap().len(), 1);
    assert_eq!(d["grown"][0]["after"]["label"], "[heap]");
    let changes = doc["changes"].as_array().unwrap();
    let regions = doc["regions"].as_array().unwrap();
    assert_eq!(changes.len(), regions.len());
    let n = snapshot_json()["regions"].as_array().unwrap().len();
    assert_eq!(regions.len(), n + 1, "the removed region is drawn too");
    let change_of = |name: &str| {
        let i = regions.iter().position(|r| r["name"] == name).unwrap();
        changes[i].as_str().unwrap().to_string()
    };
    assert_eq!(change_of("[heap]"), "grown");
    assert_eq!(change_of("[anon:cache]"), "added");
    assert_eq!(change_of("[stack]"), "same");
    let page = dir.path().join("diff.html");
    run(&["map", "--diff", &a, &b, "-o", &page.to_string_lossy()]).ok();
    assert_eq!(embedded(&std::fs::read_to_string(&page).unwrap()), doc);
    run(&["map", "--diff", &a, &b, "--format", "text"]).assert_error(&["not implemented yet"]);
    let svg = run(&["map", "--diff", &a, &b, "--format", "svg"]);
    let svg = svg.ok();
    assert!(svg.starts_with("<svg xmlns"));
    assert!(svg.contains("Memory changes of PID"));
    assert!(svg.contains("added (1)") && svg.contains("grown (1)"));
    assert_eq!(drawn_regions(svg), (0..regions.len()).collect());
    assert_eq!(
        svg.matches("fill=\"#2e9e44\"").count(),
        2,
        "one added cell and its swatch"
    );
    run(&["map", "--diff", &a, "/nonexistent/b.json"]).assert_error(&["/nonexistent/b.json"]);
    if !require("chromium", "the diff page is checked in a headless browser") {
        return;
    }
    let dom = chromium(&page, &["--dump-dom"]);
    assert!(
        body_tag(&dom).contains("data-memlink-ready=\"1\""),
        "{}",
        body_tag(&dom)
    );
    assert!(dom.contains("data-change=\"added\""));
    assert!(dom.contains("data-change=\"grown\""));
    let app = &dom[dom.find("id=\"app\"").unwrap()..];
    assert_eq!(
        drawn_regions(app),
        (0..n + 1).collect(),
        "every region drawn"
    );
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("map-diff.png");
    chromium(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000",
        ],
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
}

/// The real producers: `memlink watch --format jsonl` and `memlink snapshot` of a live fixture,
/// drawn by `map --watch` and `map --diff`.
#[test]
fn pictures_of_real_watch_and_snapshots() {
    let f = Fixture::start("regions", &["{dir}", "2"]);
    let pid = f.pid_arg();
    let dir = TempDir::new("map-real");
    let a = dir.path().join("a.json");
    let b = dir.path().join("b.json");
    run(&["snapshot", "--pid", &pid, "-o", &a.to_string_lossy()]).ok();
    let watch = run(&[
        "watch",
        "--pid",
        &pid,
        "--interval",
        "100ms",
        "--count",
        "4",
        "--format",
        "jsonl",
    ]);
    assert!(watch.code == 0 || watch.code == 1, "{}", watch.stderr);
    run(&["snapshot", "--pid", &pid, "-o", &b.to_string_lossy()]).ok();
    let log = dir.path().join("watch.jsonl");
    std::fs::write(&log, &watch.stdout).unwrap();
    let doc = run(&["map", "--watch", &log.to_string_lossy(), "--format", "json"]).json();
    assert_eq!(doc["watch"]["samples"].as_array().unwrap().len(), 4);
    assert_eq!(
        doc["watch"]["samples"][0]["pid"].as_u64(),
        Some(f.pid() as u64)
    );
    assert!(doc["watch"]["verdict"]["components"].is_array());
    let diff = run(&[
        "map",
        "--diff",
        &a.to_string_lossy(),
        &b.to_string_lossy(),
        "--format",
        "json",
    ])
    .json();
    let changes = diff["changes"].as_array().unwrap();
    assert!(!changes.is_empty());
    assert!(
        changes.iter().all(|c| c != "removed" && c != "added"),
        "an idle fixture keeps its regions: {:?}",
        diff["diff"]
    );
}
