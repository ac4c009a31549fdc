//! The map page in a real browser: headless Chromium draws every region, applies the filters,
//! shows its errors in the page, and fetches nothing.

use std::path::Path;

use super::*;
use crate::support::require;
use crate::support::tempdir::TempDir;

#[test]
fn browser_draws_every_region() {
    if !require("chromium", "the map page is checked in a headless browser") {
        return;
    }
    let dir = TempDir::new("map-browser");
    let page = dir.path().join("regions.html");
    let hl = fixture_file("highlights.json");
    let snap = snapshot_arg();
    run(&[
        "map",
        "--snapshot",
        &snap,
        "--no-audit",
        "--highlights",
        &hl,
        "-o",
        &page.to_string_lossy(),
    ])
    .ok();
    let dom = chromium(&page, &["--dump-dom"]);
    let body = body_tag(&dom);
    assert!(
        body.contains("data-memlink-ready=\"1\""),
        "the script finished: {body}"
    );
    assert!(!body.contains("data-memlink-error"), "{body}");
    let n = snapshot_json()["regions"].as_array().unwrap().len();
    let app = &dom[dom.find("id=\"app\"").unwrap()..];
    assert_eq!(drawn_regions(app), (0..n).collect(), "every region drawn");
    assert_eq!(app.matches("class=\"cell region").count(), n);
    assert_eq!(app.matches(" flagged").count(), 2, "findings outlined");
    assert!(app.contains("id=\"summary\""));
    assert!(app.contains("Memory by file"));

    // The filters: the fragment presets a search and hides a type.
    let url = format!("{}#search=libc.so&hide=Reserved", page.display());
    let dom = chromium(Path::new(&url), &["--dump-dom"]);
    assert!(body_tag(&dom).contains("data-memlink-ready=\"1\""));
    let regions = snapshot_json()["regions"].as_array().unwrap().clone();
    let libc = regions
        .iter()
        .filter(|r| {
            r["mapped_file"]
                .as_str()
                .is_some_and(|p| p.contains("libc.so"))
        })
        .count();
    assert_eq!(libc, 5, "libc has five mappings in the snapshot");
    assert!(
        dom.contains(&format!("{libc} regions match")),
        "match count shown"
    );
    // The class lists of the region cells.
    let classes: Vec<Vec<&str>> = dom
        .split("class=\"cell region")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].split_whitespace().collect())
        .collect();
    assert_eq!(classes.len(), regions.len());
    let with = |c: &str| classes.iter().filter(|l| l.contains(&c)).count();
    assert_eq!(with("match"), libc);
    let reserved = regions
        .iter()
        .filter(|r| r["region_type"] == "Reserved")
        .count();
    assert!(
        dom.contains("class=\"chip off\""),
        "the hidden type's chip is off"
    );
    assert_eq!(
        with("dim"),
        regions.len() - libc,
        "every other region dimmed ({reserved} hidden Reserved among them)"
    );

    let url = format!("{}#hide=Reserved,Guard", page.display());
    let dom = chromium(Path::new(&url), &["--dump-dom"]);
    let hidden = regions
        .iter()
        .filter(|r| r["region_type"] == "Reserved" || r["region_type"] == "Guard")
        .count();
    let dimmed = dom
        .split("class=\"cell region")
        .skip(1)
        .filter(|rest| {
            rest[..rest.find('"').unwrap()]
                .split_whitespace()
                .any(|c| c == "dim")
        })
        .count();
    assert_eq!(dimmed, hidden, "exactly the hidden types are dimmed");

    // A screenshot for people to look at (kept in the target folder).
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("map-regions.png");
    let _ = std::fs::remove_file(&shot);
    chromium(
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1400,1000",
        ],
    );
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    assert!(png.len() > 20_000, "a picture with content");
}

#[test]
fn browser_shows_errors_in_the_page() {
    if !require("chromium", "the map page is checked in a headless browser") {
        return;
    }
    let dir = TempDir::new("map-browser-error");
    let snap = snapshot_arg();
    let html = run(&["map", "--snapshot", &snap, "--format", "html"]);
    let html = html.ok();
    let open = "id=\"memlink-data\">";
    let start = html.find(open).unwrap() + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    let broken = format!(
        "{}{{\"format\":\"memlink-map\",\"kind\":\"regions\"}}{}",
        &html[..start],
        &html[end..]
    );
    let page = dir.path().join("broken.html");
    std::fs::write(&page, broken).unwrap();
    let dom = chromium(&page, &["--dump-dom"]);
    let body = body_tag(&dom);
    assert!(!body.contains("data-memlink-ready"), "{body}");
    assert!(body.contains("data-memlink-error"), "{body}");
    assert!(dom.contains("This map could not be drawn"), "error shown");
}

#[test]
fn browser_fetches_nothing() {
    if !require("chromium", "the map page is checked in a headless browser") {
        return;
    }
    let dir = TempDir::new("map-csp");
    let snap = snapshot_arg();
    let html = run(&["map", "--snapshot", &snap, "--format", "html"]);
    let html = html.ok().to_string();
    // A page that tries to fetch from a local listener, with and without the policy.
    let attempts = |port: u16| {
        format!(
            "<body>\n<img src=\"http://127.0.0.1:{port}/i.png\"><link rel=\"stylesheet\" href=\"http://127.0.0.1:{port}/s.css\"><script src=\"http://127.0.0.1:{port}/s.js\"></script><iframe src=\"http://127.0.0.1:{port}/f.html\"></iframe>"
        )
    };
    let connections = |page_text: String| -> usize {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // A tiny server that answers 404 and counts requests. Bare connections do not count:
        // for a blocked frame Chromium may open a TCP connection ahead of the policy check,
        // but it sends nothing on it.
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut n = 0;
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                stream
                    .set_read_timeout(Some(std::time::Duration::from_millis(500)))
                    .unwrap();
                let mut buf = [0u8; 512];
                let k = stream.read(&mut buf).unwrap_or(0);
                if buf[..k].starts_with(b"STOP") {
                    return n;
                }
                if k > 0 {
                    n += 1;
                    let _ = stream.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
            n
        });
        let page = dir.path().join(format!("p{port}.html"));
        std::fs::write(&page, page_text.replacen("<body>", &attempts(port), 1)).unwrap();
        let dom = chromium(&page, &["--dump-dom"]);
        assert!(
            body_tag(&dom).contains("data-memlink-ready=\"1\""),
            "the page still works"
        );
        use std::io::Write;
        std::net::TcpStream::connect(("127.0.0.1", port))
            .unwrap()
            .write_all(b"STOP")
            .unwrap();
        server.join().unwrap()
    };
    assert_eq!(
        connections(html.clone()),
        0,
        "the policy blocks every request"
    );
    // The same page without the policy does connect: the check above can fail.
    let csp_start = html
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .unwrap();
    let csp_end = csp_start + html[csp_start..].find('>').unwrap() + 1;
    let open = format!("{}{}", &html[..csp_start], &html[csp_end..]);
    assert!(
        connections(open) > 0,
        "without the policy the browser fetches"
    );
}
