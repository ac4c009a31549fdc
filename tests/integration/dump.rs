//! `memlink dump` against the `needles` fixture: exact bytes, mode 0600, holes listed, and
//! every refusal leaves no file behind.

use std::os::unix::fs::PermissionsExt;

use serde_json::Value;

use crate::support::{run, Fixture};

fn fixture() -> Fixture {
    Fixture::start("needles", &["{dir}"])
}

#[test]
fn dumps_exact_bytes_with_mode_0600() {
    let f = fixture();
    let pid = f.pid_arg();
    let out = f.dir.path().join("big.bin");
    let big = format!("{:#x}", f.addr("big"));
    let r = run(&[
        "dump",
        "--pid",
        &pid,
        "--address",
        &big,
        "--size",
        "2MiB",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(r.ok().contains("wrote 2.0MB"), "{}", r.stdout);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes.len(), 2 << 20);
    let at = (1 << 20) - 7;
    assert_eq!(&bytes[at..at + 16], b"MLNEEDLE-7f3a9c!");
    assert!(bytes[..at].iter().all(|&b| b == 0));
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Refuses to overwrite without --force; replaces with it.
    let values = format!("{:#x}", f.addr("values"));
    let args = [
        "dump",
        "--pid",
        &pid,
        "--region",
        &values,
        "-o",
        out.to_str().unwrap(),
    ];
    run(&args).assert_error(&["already exists", "--force"]);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 2 << 20, "untouched");
    let mut forced = args.to_vec();
    forced.push("--force");
    run(&forced).ok();
    let bytes = std::fs::read(&out).unwrap();
    // The kernel may have merged the page with neighbouring anonymous memory: the dump is
    // the whole region as `list` reports it.
    let regions = run(&["list", "--pid", &pid, "--format", "json"]).json();
    let v = f.addr("values");
    let region = regions
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            let b = r["base_address"].as_u64().unwrap();
            v >= b && v < b + r["size"].as_u64().unwrap()
        })
        .unwrap();
    assert_eq!(bytes.len() as u64, region["size"].as_u64().unwrap());
    let off = (v - region["base_address"].as_u64().unwrap()) as usize;
    assert_eq!(
        &bytes[off + 8..off + 16],
        &0x1122334455667788u64.to_le_bytes()
    );
    assert_eq!(
        &bytes[off + 32..off + 40],
        &0x1122334455667788u64.to_be_bytes()
    );
}

#[test]
fn holes_are_zeros_and_listed() {
    let f = fixture();
    let pid = f.pid_arg();
    let regions = run(&["list", "--pid", &pid, "--format", "json"]).json();
    let regions = regions.as_array().unwrap();
    let page: u64 = f.var("page_size").parse().unwrap();
    // A readable region followed by a gap in the address space.
    let (i, r) = regions
        .iter()
        .enumerate()
        .find(|(i, r)| {
            let end = r["base_address"].as_u64().unwrap() + r["size"].as_u64().unwrap();
            r["protection"].as_str().unwrap().starts_with('r')
                && r["name"] != "[vvar]"
                && regions
                    .get(i + 1)
                    .is_some_and(|n| n["base_address"].as_u64().unwrap() > end + page)
        })
        .expect("a region followed by a gap");
    let end = r["base_address"].as_u64().unwrap() + r["size"].as_u64().unwrap();
    let _ = i;
    let out = f.dir.path().join("gap.bin");
    let r = run(&[
        "dump",
        "--pid",
        &pid,
        "--address",
        &format!("{:#x}", end - page),
        "--size",
        &(2 * page).to_string(),
        "-o",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report: Value = r.json();
    assert_eq!(report["bytes_read"].as_u64().unwrap(), page);
    assert_eq!(report["holes"][0]["start"].as_u64().unwrap(), end);
    assert_eq!(report["holes"][0]["end"].as_u64().unwrap(), end + page);
    assert_eq!(report["holes"][0]["why"], "unmapped");
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(bytes.len() as u64, 2 * page);
    assert!(bytes[page as usize..].iter().all(|&b| b == 0));

    // [vvar] cannot be read: one hole covering it, listed in the text output.
    if let Some(vvar) = regions.iter().find(|r| r["name"] == "[vvar]") {
        let out = f.dir.path().join("vvar.bin");
        let base = format!("{:#x}", vvar["base_address"].as_u64().unwrap());
        let r = run(&[
            "dump",
            "--pid",
            &pid,
            "--region",
            &base,
            "-o",
            out.to_str().unwrap(),
        ]);
        let text = r.ok();
        assert!(
            text.contains("1 range not read, written as zeros"),
            "{text}"
        );
        assert!(text.contains("read failed"), "{text}");
        assert_eq!(
            std::fs::metadata(&out).unwrap().len(),
            vvar["size"].as_u64().unwrap()
        );
    }
}

#[test]
fn refusals_write_nothing() {
    let f = fixture();
    let pid = f.pid_arg();
    let dir = f.dir.path();
    let out = dir.join("x.bin");
    let o = out.to_str().unwrap();
    let big = format!("{:#x}", f.addr("big"));
    let d = |extra: &[&str]| {
        let mut a = vec!["dump", "--pid", pid.as_str()];
        a.extend_from_slice(extra);
        run(&a)
    };
    d(&["--address", &big, "--size", "0", "-o", o]).assert_error(&["size must be greater than 0"]);
    d(&["--address", "0xffffffffffff0000", "--size", "1M", "-o", o]).assert_error(&["overflows"]);
    d(&["--address", "0x1000", "--size", "4096", "-o", o])
        .assert_error(&["0x1000-0x2000", "not mapped"]);
    d(&["--region", "0x1000", "-o", o]).assert_error(&["not mapped"]);
    d(&[
        "--address",
        &big,
        "--size",
        "4K",
        "-o",
        dir.join("missing/x.bin").to_str().unwrap(),
    ])
    .assert_error(&["missing/x.bin", "No such file"]);
    d(&["--address", &big, "-o", o]).assert_error(&["--size"]);
    d(&["--address", &big, "--size", "12Q", "-o", o]).assert_error(&["invalid size"]);
    d(&["--address", "xyz", "--size", "4K", "-o", o]).assert_error(&["invalid address"]);
    assert!(!out.exists(), "nothing written");
    assert!(!dir.join("missing").exists());
}

#[test]
fn proc_root_other_than_proc_is_dumped() {
    let f = fixture();
    let pid = f.pid_arg();
    // A procfs root that reaches the live fixture: `ROOT/PID -> /proc/PID`.
    let root = f.dir.path().join("procroot");
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(format!("/proc/{pid}"), root.join(&pid)).unwrap();
    let root = root.to_str().unwrap();
    let out = f.dir.path().join("through-root.bin");
    let big = format!("{:#x}", f.addr("big"));
    let r = run(&[
        "--proc-root",
        root,
        "dump",
        "--pid",
        &pid,
        "--address",
        &big,
        "--size",
        "2MiB",
        "-o",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let report = r.json();
    assert_eq!(report["bytes_read"].as_u64(), Some(2 << 20), "{report:#}");
    let bytes = std::fs::read(&out).unwrap();
    let at = (1 << 20) - 7;
    assert_eq!(&bytes[at..at + 16], b"MLNEEDLE-7f3a9c!");

    // A root that does not exist: one-line error, exit 2, no file.
    let none = f.dir.path().join("no-such-root");
    let missing = f.dir.path().join("never.bin");
    run(&[
        "--proc-root",
        none.to_str().unwrap(),
        "dump",
        "--pid",
        &pid,
        "--address",
        &big,
        "--size",
        "4K",
        "-o",
        missing.to_str().unwrap(),
    ])
    .assert_error(&[&pid, "does not exist"]);
    assert!(!missing.exists());
}
