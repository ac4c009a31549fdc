//! Frames of every screen drawn from fixed data into ratatui's test backend and compared with
//! the golden files in `src/cli/top/golden/` (`BLESS=1 cargo test --bin memlink top::` rewrites
//! them), and the reader's identity and staleness rules on synthetic data.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use memlink::overtime::ps::{ProcessRow, PssState};
use memlink::overtime::rollup::{Provenance, RollupCache, Source, Sources};
use memlink::proc::meminfo::MemInfo;
use memlink::region::stats::MemoryFigures;
use memlink::snapshot::Snapshot;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::{App, Grouping, Screen, Sort};
use super::data::{Detail, Frame, Row, Spark, Tracker};
use super::{keys, views};

const MIB: u64 = 1 << 20;

fn ps_row(pid: u32, user: &str, name: &str, rss: u64, pss: Option<u64>) -> ProcessRow {
    ProcessRow {
        pid,
        ns_pid: pid,
        uid: if user == "root" { 0 } else { 1000 },
        user: user.into(),
        name: name.into(),
        command: Some(format!("/usr/bin/{name} --flag")),
        figures: MemoryFigures {
            rss: Some(rss),
            pss,
            uss: pss.map(|p| p / 2),
            swap: pss.map(|_| 0),
        },
        swap_pss: pss.map(|_| 0),
        threads: 1 + u64::from(pid % 4),
        mappings: pss.map(|_| 40 + u64::from(pid % 50)),
        restricted: pss.is_none(),
        sources: Sources {
            rss: Provenance::now(Source::Status),
            pss: pss.map(|_| Provenance::now(Source::SmapsRollup)),
        },
        pss_state: if pss.is_some() {
            PssState::Read
        } else {
            PssState::NotPermitted
        },
        ..ProcessRow::default()
    }
}

fn row(ps: ProcessRow, age_s: Option<u64>, growth: Option<f64>) -> Row {
    Row {
        pss_age: if ps.figures.pss.is_some() {
            age_s.map(Duration::from_secs)
        } else {
            None
        },
        start: Some(u64::from(ps.pid) * 10),
        ps,
        growth,
        leak: growth.is_some_and(|g| g > 4.0 * MIB as f64),
    }
}

fn frame(rows: Vec<Row>) -> Frame {
    Frame {
        rows,
        mem: MemInfo {
            total: Some(24 * 1024 * MIB),
            available: Some(20 * 1024 * MIB),
            shmem: Some(12 * MIB),
            swap_total: Some(0),
            swap_free: Some(0),
        },
        exited: 0,
        read_in: Duration::from_millis(40),
        rollup_age: Some(Duration::from_secs(3)),
    }
}

fn sample_app() -> App {
    let mut app = App::new(
        Duration::from_secs(2),
        Duration::from_secs(10),
        Sort::Pss,
        Grouping::None,
    );
    app.color = false;
    app.set_frame(frame(vec![
        row(
            ps_row(100, "root", "postgres", 300 * MIB, Some(200 * MIB)),
            Some(1),
            Some(0.0),
        ),
        row(
            ps_row(200, "alice", "leaky", 90 * MIB, Some(80 * MIB)),
            Some(3),
            Some(6.0 * MIB as f64),
        ),
        // Not permitted: only status figures; PSS, USS, mappings unknown.
        row(
            ps_row(300, "bob", "secret\x1b[31m", 50 * MIB, None),
            None,
            None,
        ),
        row(
            ps_row(400, "alice", "bash", 4 * MIB, Some(3 * MIB)),
            Some(1),
            None,
        ),
    ]));
    app
}

fn render(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| views::draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let mut line = String::new();
        for x in 0..buf.area.width {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[track_caller]
fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/cli/top/golden")
        .join(name);
    if std::env::var("BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (BLESS=1 creates it)", path.display()));
    assert_eq!(
        expected,
        actual,
        "{} differs (BLESS=1 accepts the new frame)",
        path.display()
    );
}

fn fixture_detail() -> Detail {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshots/regions.json");
    let snapshot = Snapshot::load(&path).unwrap();
    let history = (0..30)
        .map(|i| Spark {
            rss: (10 + i) * MIB,
            pss: (8 + i) * MIB,
            anon: (4 + i) * MIB,
            file: 6 * MIB,
            shmem: MIB,
        })
        .collect();
    Detail {
        pid: snapshot.process.pid,
        snapshot,
        findings: 2,
        history,
        read_in: Duration::from_millis(7),
    }
}

fn key(app: &mut App, code: KeyCode) -> keys::Effect {
    keys::key(app, KeyEvent::new(code, KeyModifiers::NONE), 10)
}

#[test]
fn processes_view() {
    let app = sample_app();
    let text = render(&app, 130, 12);
    // Unknown is `-`, never 0; the stale PSS (3 s > 2 s refresh) carries `~`; the leak mark.
    assert!(text.contains("secret\\x1b[31m"), "{text}");
    assert!(text.contains("+6.0MB/m!"), "{text}");
    golden("processes.txt", &text);
}

#[test]
fn unreadable_sorts_last_and_shows_dash() {
    let app = sample_app();
    let rows = app.visible_rows();
    assert_eq!(
        rows.iter().map(|r| r.ps.pid).collect::<Vec<_>>(),
        [100, 200, 400, 300]
    );
    let text = render(&app, 100, 12);
    let line = text.lines().find(|l| l.starts_with("300 ")).unwrap();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        &cells[1..8],
        ["bob", "50.0MB", "-", "-", "-", "1", "-"],
        "{line}"
    );
}

#[test]
fn growth_sorts_fastest_first_and_unknown_last() {
    let mut app = sample_app();
    let mut rows = app.frame.rows.clone();
    // Shrinking: a known growth, below the flat one.
    rows.push(row(
        ps_row(500, "alice", "shrinks", 20 * MIB, Some(10 * MIB)),
        Some(1),
        Some(-2.0 * MIB as f64),
    ));
    app.set_frame(frame(rows));
    // The `>` cycle reaches growth after swap, and PID after growth.
    for _ in 0..4 {
        key(&mut app, KeyCode::Char('>'));
    }
    assert_eq!(app.sort, Sort::Growth);
    let order: Vec<u32> = app.visible_rows().iter().map(|r| r.ps.pid).collect();
    // 6 MiB/min (leak mark), flat, shrinking; then the unknown ones by RSS.
    assert_eq!(order, [200, 100, 500, 300, 400]);
    let text = render(&app, 130, 12);
    assert!(text.contains("sort Growth"), "{text}");
    golden("growth.txt", &text);
    key(&mut app, KeyCode::Char('>'));
    assert_eq!(app.sort, Sort::Pid);
    // Groups have no growth: they keep PSS order.
    assert_eq!(
        Sort::Growth.for_groups(),
        memlink::overtime::ps::SortKey::Pss
    );
}

#[test]
fn grouped_by_user_with_totals() {
    let mut app = sample_app();
    app.grouping = Grouping::User;
    let text = render(&app, 80, 10);
    golden("by-user.txt", &text);
    let total = text.lines().find(|l| l.starts_with("total")).unwrap();
    // PSS total leaves the unreadable process out and counts it in NO PSS.
    assert!(
        total.contains("283.0MB") && total.trim_end().ends_with('1'),
        "{total}"
    );
}

#[test]
fn filter_and_search_keys() {
    let mut app = sample_app();
    key(&mut app, KeyCode::Char('\\'));
    for c in "alice".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.visible_rows().len(), 2);
    key(&mut app, KeyCode::Char('\\'));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.visible_rows().len(), 4);
    key(&mut app, KeyCode::Char('/'));
    key(&mut app, KeyCode::Char('b'));
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.selected_process().unwrap().0, 400);
    key(&mut app, KeyCode::Char('>'));
    assert_eq!(app.sort, Sort::Uss);
}

#[test]
fn process_view_and_map() {
    let mut app = sample_app();
    let d = fixture_detail();
    let mut rows = app.frame.rows.clone();
    let mut r = row(
        ps_row(d.pid, "root", "regions", MIB, Some(MIB)),
        Some(1),
        None,
    );
    r.start = Some(1);
    rows.push(r);
    app.set_frame(frame(rows));
    app.focus = Some((d.pid, Some(1)));
    app.detail = Some(d);
    app.screen = Screen::Process;
    let text = render(&app, 100, 40);
    assert!(text.contains("[heap]"), "{text}");
    assert!(text.contains("audit: 2 findings"), "{text}");
    golden("process.txt", &text);
    key(&mut app, KeyCode::Char('f'));
    for c in "stack".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    key(&mut app, KeyCode::Enter);
    let regions = super::views::process::table_regions(&app, app.detail.as_ref().unwrap());
    assert!(!regions.is_empty());
    assert!(regions
        .iter()
        .all(|r| r.region_type.name().to_lowercase().contains("stack")
            || r.display_name().to_lowercase().contains("stack")));
    key(&mut app, KeyCode::Char('m'));
    assert_eq!(app.screen, Screen::Map);
    golden("map.txt", &render(&app, 100, 20));
    key(&mut app, KeyCode::Char('?'));
    golden("help.txt", &render(&app, 80, 24));
}

#[test]
fn exited_process_keeps_its_last_figures() {
    let mut app = sample_app();
    let d = fixture_detail();
    let pid = d.pid;
    let mut rows = app.frame.rows.clone();
    let mut r = row(
        ps_row(pid, "root", "regions", MIB, Some(MIB)),
        Some(1),
        None,
    );
    r.start = Some(1);
    rows.push(r);
    app.set_frame(frame(rows));
    app.selected = app
        .visible_rows()
        .iter()
        .position(|r| r.ps.pid == pid)
        .unwrap();
    assert_eq!(key(&mut app, KeyCode::Enter), keys::Effect::Focus);
    super::apply(&mut app, super::reader::Msg::Detail(Box::new(d.clone())));
    assert!(!render(&app, 100, 30).contains("[exited"));
    // The next refresh no longer lists it (an empty list, as with --pid, counts too).
    app.set_frame(frame(Vec::new()));
    assert!(app.focus_gone());
    assert!(
        app.status.contains(&format!("process {pid} exited")),
        "{}",
        app.status
    );
    let text = render(&app, 100, 30);
    assert!(text.contains("[exited: the last figures read]"), "{text}");
    assert!(
        text.contains("[heap]") && text.contains("By type"),
        "{text}"
    );
    // A detail read afterwards may be of a new owner of the PID: it is not taken.
    let mut other = d;
    other.findings = 99;
    super::apply(&mut app, super::reader::Msg::Detail(Box::new(other)));
    assert_eq!(app.detail.as_ref().unwrap().findings, 2);
    super::apply(
        &mut app,
        super::reader::Msg::DetailFailed(pid, "process is gone".into()),
    );
    assert!(render(&app, 100, 30).contains("[exited"));
    // Back to the list.
    assert_eq!(key(&mut app, KeyCode::Esc), keys::Effect::Focus);
    assert_eq!(app.screen, Screen::Processes);
    assert!(app.focus.is_none() && app.detail.is_none());
    render(&app, 100, 30);
}

#[test]
fn leaks_outcome_lines() {
    let dir = std::env::temp_dir().join(format!("memlink-top-leaks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.json");
    std::fs::write(&path, r#"{"pid": 42, "leak_suspected": false}"#).unwrap();
    let line = super::leaks::outcome(42, &path, Some(0), b"");
    assert_eq!(
        line,
        format!("leaks of 42: no leak suspected; wrote {}", path.display())
    );
    std::fs::write(&path, r#"{"pid": 42, "leak_suspected": true}"#).unwrap();
    assert!(super::leaks::outcome(42, &path, Some(1), b"").contains("a leak is suspected"));
    // The command's own error line, without its prefix, escaped.
    let err = b"[INFO] attaching\nmemlink: leaks of process 42: permission denied\x1b]\n";
    let missing = dir.join("none.json");
    assert_eq!(
        super::leaks::outcome(42, &missing, Some(2), err),
        "leaks of 42 failed: leaks of process 42: permission denied\\x1b]"
    );
    assert_eq!(
        super::leaks::outcome(42, &missing, None, b""),
        "leaks of 42 failed: stopped by a signal before writing its report"
    );
    assert_eq!(
        super::leaks::outcome(42, &missing, Some(0), b""),
        "leaks of 42 failed: exited with 0 and wrote no report"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exited_process_is_said() {
    let mut app = sample_app();
    app.focus = Some((999, Some(5)));
    app.screen = Screen::Process;
    let text = render(&app, 80, 10);
    assert!(text.contains("Process 999 has exited"), "{text}");
}

#[test]
fn two_thousand_rows_and_a_tiny_terminal() {
    let mut app = sample_app();
    let rows = (1..=2000)
        .map(|pid| {
            row(
                ps_row(
                    pid,
                    "u",
                    "w",
                    u64::from(pid) * 4096,
                    Some(u64::from(pid) * 2048),
                ),
                Some(1),
                None,
            )
        })
        .collect();
    app.set_frame(frame(rows));
    key(&mut app, KeyCode::End);
    assert_eq!(app.selected, 1999);
    let text = render(&app, 100, 30);
    // Largest PSS first: the last line is PID 1.
    assert!(text.lines().any(|l| l.starts_with("1 ")), "{text}");
    golden("tiny.txt", &render(&app, 40, 10));
    app.screen = Screen::Process;
    app.focus = Some((5, Some(50)));
    app.detail = Some(fixture_detail());
    render(&app, 40, 10);
    app.screen = Screen::Help;
    render(&app, 40, 10);
}

#[test]
fn pid_reuse_starts_over() {
    let mut t = Tracker::default();
    let t0 = Instant::now();
    // A figure the library gave from an earlier rollup: its age is its provenance's.
    let mut old = ps_row(7, "root", "old", 10 * MIB, Some(9 * MIB));
    old.sources.pss = Some(Provenance {
        source: Source::SmapsRollup,
        age_s: 4.0,
    });
    old.pss_state = PssState::Earlier;
    old.start_time = Some(100);
    for i in 0..20 {
        let mut r = old.clone();
        r.figures.rss = Some((10 + i) * MIB);
        let rows = t.merge(vec![r], t0 + Duration::from_secs(i));
        assert_eq!(rows[0].pss_age, Some(Duration::from_secs(4)));
    }
    let rows = t.merge(vec![old.clone()], t0 + Duration::from_secs(20));
    assert!(rows[0].growth.is_some());
    // Between passes the mapping count is not read: the last one of the same process stands.
    assert_eq!(old.mappings, Some(47));
    let mut cheap = old.clone();
    cheap.mappings = None;
    cheap.command = None;
    let rows = t.merge(vec![cheap.clone()], t0 + Duration::from_secs(20));
    assert_eq!(rows[0].ps.mappings, Some(47));
    // So is the command line, while the command name says it is the same program.
    assert_eq!(rows[0].ps.command.as_deref(), Some("/usr/bin/old --flag"));
    let mut execed = cheap.clone();
    execed.name = "other".into();
    let rows = t.merge(vec![execed], t0 + Duration::from_secs(20));
    assert_eq!(rows[0].ps.command, None);
    // The PID now belongs to a process started later: its history starts over, so growth is
    // unknown again; the library keys its earlier rollups by the same (PID, start time).
    let mut new = cheap;
    new.figures.pss = None;
    new.sources.pss = None;
    new.start_time = Some(555);
    let rows = t.merge(vec![new], t0 + Duration::from_secs(21));
    assert_eq!(rows[0].growth, None);
    assert_eq!(rows[0].ps.mappings, None);
    assert_eq!(rows[0].pss_age, None);
    let cache = RollupCache::new();
    cache.record((7, 100), old.figures, Some(0), Duration::from_millis(1));
    assert!(cache.earlier((7, 555)).is_none() && cache.earlier((7, 100)).is_some());
}

#[test]
fn growth_uses_the_watch_trend() {
    let mut t = Tracker::default();
    let t0 = Instant::now();
    let mut last = Vec::new();
    for i in 0..100u64 {
        let mut r = ps_row(9, "root", "grow", (100 + i) * MIB, None);
        r.restricted = false;
        r.start_time = Some(1);
        last = t.merge(vec![r], t0 + Duration::from_secs(i));
        // The first 10 s are the warm-up of watch's rule, and a slope needs 3 samples after it.
        if i < 12 {
            assert_eq!(last[0].growth, None, "after {i} s");
        }
    }
    // 1 MiB a second is 60 MiB a minute.
    let g = last[0].growth.unwrap();
    assert!((g - 60.0 * MIB as f64).abs() < 1.0, "{g}");
    assert!(last[0].leak);
}
