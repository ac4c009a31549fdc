//! `memlink audit` against the `needles` fixture (which maps an rwx page, an anonymous r-x page
//! with an ELF header, a memfd and a deleted file mapped r-x, a thread with an rwx stack and a
//! patched page of its own text) and against a real `node`, whose JIT must be recognised.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::support::{is_root, memlink, require, run, run_cmd, Fixture};

fn audit_json(pid: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["audit", "--pid", pid, "--format", "json"];
    args.extend_from_slice(extra);
    let r = run(&args);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    (r.code, serde_json::from_str(&r.stdout).unwrap())
}

fn finding<'a>(report: &'a Value, kind: &str, start: u64) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == kind && f["start"].as_u64() == Some(start))
        .unwrap_or_else(|| panic!("no {kind} finding at {start:#x}: {report:#}"))
}

#[test]
fn fixture_findings_are_exact() {
    let f = Fixture::start("needles", &["{dir}"]);
    let (code, report) = audit_json(&f.pid_arg(), &[]);
    assert_eq!(code, 1, "findings at medium or above exit 1");
    assert_eq!(report["jit"], Value::Null);
    let elf = finding(&report, "elf_in_anonymous_memory", f.addr("elf"));
    assert_eq!(elf["severity"], "critical");
    assert_eq!(
        finding(&report, "anonymous_executable", f.addr("elf"))["severity"],
        "medium"
    );
    let rwx = finding(&report, "writable_executable", f.addr("rwx"));
    assert_eq!(rwx["severity"], "high");
    assert_eq!(rwx["jit"], Value::Null);
    let memfd = finding(&report, "fileless_code", f.addr("memfd"));
    assert!(memfd["path"]
        .as_str()
        .unwrap()
        .starts_with("/memfd:payload"));
    let deleted = finding(&report, "fileless_code", f.addr("deleted"));
    assert!(deleted["reason"].as_str().unwrap().contains("deleted file"));
    assert_eq!(
        finding(&report, "executable_stack", f.addr("exec_stack"))["severity"],
        "high"
    );
    // The fixture rewrote one byte of its text with the same value: the page is a copy, but
    // identical to the file, so it is information, not modified code.
    let patched = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["kind"] == "copied_identical_code")
        .unwrap_or_else(|| panic!("no copied_identical_code finding: {report:#}"));
    assert_eq!(patched["severity"], "info");
    let at = f.addr("patched");
    assert!(patched["start"].as_u64().unwrap() <= at && at < patched["end"].as_u64().unwrap());
    assert!(patched["path"].as_str().unwrap().ends_with("/needles"));
    assert!(patched["reason"]
        .as_str()
        .unwrap()
        .contains("identical to the file"));
    // Nothing else: the program's other code pages and libraries are clean.
    assert_eq!(
        report["findings"].as_array().unwrap().len(),
        7,
        "{report:#}"
    );
    // Most severe first.
    assert_eq!(report["findings"][0]["severity"], "critical");

    // --fail-on critical still fails (the ELF image); text output has one line per finding.
    let pid = f.pid_arg();
    let r = run(&["audit", "--pid", &pid, "--fail-on", "critical"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout.lines().count(), 8, "{}", r.stdout);
    assert!(r.stdout.contains("critical  elf_in_anonymous_memory"));
}

#[test]
fn node_jit_is_recognised_not_reported_as_an_attack() {
    if !require("node", "the audit must recognise V8's JIT regions") {
        return;
    }
    let script = "function f(x){return x*2+1} let s=0; for(let i=0;i<5e6;i++) s+=f(i); \
                  console.log('ready'); setInterval(()=>{}, 1000)";
    let mut child = Command::new("node")
        .args(["-e", script])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("start node");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut line = String::new();
    let stdout = child.stdout.take().unwrap();
    let guard = Kill(child);
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let pid = guard.0.id().to_string();
    let (code, report) = audit_json(&pid, &[]);
    assert_eq!(report["jit"], "V8 (node)");
    let findings = report["findings"].as_array().unwrap();
    let jit: Vec<&Value> = findings
        .iter()
        .filter(|f| f["kind"] == "writable_executable" || f["kind"] == "anonymous_executable")
        .collect();
    assert!(!jit.is_empty(), "node has JIT code regions: {report:#}");
    // Lowered to low, never to info, with the identity evidence named.
    for f in &jit {
        assert_eq!(f["severity"], "low", "{f}");
        assert_eq!(f["jit"], "V8 (node)");
        assert!(f["reason"]
            .as_str()
            .unwrap()
            .contains("consistent with the V8 (node) JIT"));
        let evidence = f["detail"]["evidence"].as_str().unwrap();
        assert!(
            evidence.contains("owned by root") && evidence.contains("exports"),
            "{f}"
        );
    }
    assert!(
        findings
            .iter()
            .all(|f| f["severity"] == "info" || f["severity"] == "low"),
        "nothing in plain node is an attack: {report:#}"
    );
    assert_eq!(code, 0);
}

#[test]
fn external_analyzers_run_only_when_named_and_safe() {
    let f = Fixture::start("needles", &["{dir}"]);
    let bin = f.dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let script = bin.join("memlink-analyzer-demo");
    // Echoes the PID it found in the snapshot on stdin, proving it received it.
    std::fs::write(
        &script,
        "#!/bin/sh\npid=$(grep -o '\"pid\":[0-9]*' | head -n1 | cut -d: -f2)\n\
         echo \"{\\\"findings\\\":[{\\\"severity\\\":\\\"high\\\",\\\"kind\\\":\\\"demo\\\",\\\"reason\\\":\\\"saw pid $pid\\\"}]}\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let pid = f.pid_arg();
    let audit = |extra: &[&str]| {
        let mut c = memlink();
        c.env("PATH", &path)
            .args(["audit", "--pid", &pid])
            .args(extra);
        run_cmd(&mut c)
    };

    let r = run_cmd(memlink().env("PATH", &path).args(["audit", "--list"]));
    assert!(r.ok().contains("demo"), "{}", r.stdout);
    assert!(r.stdout.contains("protection") && r.stdout.contains("stats"));

    // Not run unless named: the default audit has no "demo" finding.
    let r = audit(&["--format", "json"]);
    assert!(!r.stdout.contains("\"demo\""));

    let r = audit(&["--analyzer", "demo", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["findings"][0]["kind"], "demo");
    assert_eq!(v["findings"][0]["reason"], format!("saw pid {pid}"));

    // Built-in analyzers by name.
    let r = audit(&["--analyzer", "stats", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("usage_total"));

    // Writable by others: refused, nothing run.
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o757)).unwrap();
    audit(&["--analyzer", "demo"])
        .assert_error(&["refusing to run", "writable by group or others"]);
    let r = run_cmd(memlink().env("PATH", &path).args(["audit", "--list"]));
    assert!(r.ok().contains("REFUSED"), "{}", r.stdout);
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();

    // Owned by another user (only root can arrange that).
    if is_root() {
        let st = Command::new("chown")
            .arg("65534")
            .arg(&script)
            .status()
            .unwrap();
        assert!(st.success());
        audit(&["--analyzer", "demo"]).assert_error(&["owned by uid 65534"]);
    }

    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    if is_root() {
        let st = Command::new("chown")
            .arg("0")
            .arg(&script)
            .status()
            .unwrap();
        assert!(st.success());
    }

    // A directory above it writable by others: anyone could have swapped the program.
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o777)).unwrap();
    audit(&["--analyzer", "demo"]).assert_error(&[
        "refusing to run",
        &format!(
            "the directory {} is writable by group or others",
            bin.display()
        ),
    ]);
    // Sticky, as /tmp is: only an entry's owner may rename or remove it.
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o1777)).unwrap();
    assert_eq!(audit(&["--analyzer", "demo"]).code, 1);
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();

    // What runs is the file that was checked, held open: the interpreter reads the script
    // from memlink's descriptor, not from the path, which could have been swapped since.
    let whoami = bin.join("memlink-analyzer-whoami");
    std::fs::write(
        &whoami,
        "#!/bin/sh\nprintf '[{\"severity\":\"info\",\"kind\":\"whoami\",\"reason\":\"%s\"}]' \"$0\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&whoami, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = audit(&["--analyzer", "whoami", "--format", "json"]);
    let v: Value = serde_json::from_str(r.ok()).unwrap();
    let ran = v["findings"][0]["reason"].as_str().unwrap();
    assert!(
        ran.starts_with("/proc/self/fd/"),
        "the script was run as {ran}"
    );

    audit(&["--analyzer", "nope"]).assert_error(&["no analyzer named \"nope\""]);
    audit(&["--fail-on", "fatal"]).assert_error(&["unknown severity"]);
}

#[test]
fn proc_root_other_than_proc_is_audited_with_memory() {
    let f = Fixture::start("needles", &["{dir}"]);
    let pid = f.pid_arg();
    // A procfs root that reaches the live fixture: `ROOT/PID -> /proc/PID`.
    let root = f.dir.path().join("procroot");
    std::fs::create_dir_all(&root).unwrap();
    std::os::unix::fs::symlink(format!("/proc/{pid}"), root.join(&pid)).unwrap();
    let r = run(&[
        "--proc-root",
        root.to_str().unwrap(),
        "audit",
        "--pid",
        &pid,
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    // The ELF check reads memory, here through ROOT/PID/mem.
    let elf = finding(&report, "elf_in_anonymous_memory", f.addr("elf"));
    assert_eq!(elf["severity"], "critical");
    assert_eq!(
        report,
        audit_json(&pid, &[]).1,
        "the same report as through /proc"
    );

    let none = f.dir.path().join("no-such-root");
    run(&[
        "--proc-root",
        none.to_str().unwrap(),
        "audit",
        "--pid",
        &pid,
    ])
    .assert_error(&[&pid, "does not exist"]);
}
