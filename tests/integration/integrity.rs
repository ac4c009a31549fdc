//! The byte-level integrity check on real processes: the `patchee` fixture patched from
//! outside through `/proc/PID/mem`, a gdb attach and detach, and a process disguised as a
//! runtime by its name and a file name.

use std::os::unix::fs::FileExt;
use std::process::Command;

use serde_json::Value;

use crate::support::{require, run, Fixture};

fn audit(pid: u32) -> (i32, Value) {
    let pid = pid.to_string();
    let r = run(&["audit", "--pid", &pid, "--format", "json"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    (r.code, serde_json::from_str(&r.stdout).unwrap())
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

fn of_kind<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    findings(report)
        .iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

fn poke(pid: u32, addr: u64, bytes: &[u8]) {
    let mem = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/proc/{pid}/mem"))
        .unwrap();
    mem.write_all_at(bytes, addr).unwrap();
}

#[test]
fn patches_written_from_outside_are_named_and_classified() {
    // Bound now (-z now): every GOT slot holds its final address before `ready`.
    let f = Fixture::start_flags("patchee", &["-Wl,-z,now"], &["0", "got"]);
    let anon_code = f.addr("anon_code");
    let got = f.addr("got_getpid");
    let (code, clean) = audit(f.pid());
    // The page the GOT will be sent to is anonymous executable memory, reported as such;
    // nothing else reaches medium in the clean program.
    let loud: Vec<_> = findings(&clean)
        .iter()
        .filter(|x| x["severity"] != "info" && x["severity"] != "low")
        .collect();
    assert_eq!(loud.len(), 1, "a clean program: {clean:#}");
    assert_eq!(loud[0]["kind"], "anonymous_executable");
    assert_eq!(loud[0]["start"].as_u64(), Some(anon_code));
    assert!(of_kind(&clean, "import_hook").is_empty(), "{clean:#}");
    assert_eq!(code, 1);
    let hooked = f.addr("hooked");
    let trapped = f.addr("trapped");
    // jmp rel32 from hooked_function's entry to trapped_function.
    let rel = (trapped as i64 - (hooked as i64 + 5)) as i32;
    let mut jmp = vec![0xe9];
    jmp.extend_from_slice(&rel.to_le_bytes());
    poke(f.pid(), hooked, &jmp);
    poke(f.pid(), trapped + 1, &[0xcc]);
    // getpid's GOT slot sent to the anonymous code.
    poke(f.pid(), got, &anon_code.to_le_bytes());

    let (code, report) = audit(f.pid());
    assert_eq!(code, 1, "a high finding fails the default --fail-on medium");
    let modified = of_kind(&report, "modified_code");
    assert_eq!(modified.len(), 2, "{report:#}");
    let hook = modified
        .iter()
        .find(|x| x["start"].as_u64() == Some(hooked))
        .unwrap_or_else(|| panic!("no finding at hooked_function: {report:#}"));
    assert_eq!(hook["severity"], "high");
    assert_eq!(hook["detail"]["class"], "inline_hook");
    assert_eq!(hook["detail"]["symbol"], "hooked_function+0x0");
    assert_eq!(hook["end"].as_u64(), Some(hooked + 5));
    let dest = hook["detail"]["destination"].as_str().unwrap();
    assert!(dest.contains("patchee!trapped_function+0x0"), "{dest}");
    assert!(hook["detail"]["live"].as_str().unwrap().starts_with("e9 "));
    assert!(hook["detail"]["build_id"].as_str().is_some());
    let trap = modified
        .iter()
        .find(|x| x["start"].as_u64() == Some(trapped + 1))
        .unwrap_or_else(|| panic!("no finding at trapped_function: {report:#}"));
    assert_eq!(trap["severity"], "medium");
    assert_eq!(trap["detail"]["class"], "breakpoint");
    assert_eq!(trap["detail"]["symbol"], "trapped_function+0x1");
    // The GOT slot: named by its symbol, high, sent to anonymous memory.
    let imports = of_kind(&report, "import_hook");
    assert_eq!(imports.len(), 1, "{report:#}");
    let imp = imports[0];
    assert_eq!(imp["severity"], "high");
    assert_eq!(imp["start"].as_u64(), Some(got));
    assert_eq!(imp["end"].as_u64(), Some(got + 8));
    assert_eq!(imp["detail"]["class"], "import_hook");
    assert_eq!(imp["detail"]["symbol"], "getpid");
    assert!(imp["detail"]["module"]
        .as_str()
        .unwrap()
        .ends_with("/patchee"));
    let dest = imp["detail"]["destination"].as_str().unwrap();
    assert_eq!(dest, format!("{anon_code:#x} (anonymous memory)"));
    // Nothing else at low or above but the anonymous code page, as before.
    let others: Vec<_> = findings(&report)
        .iter()
        .filter(|x| {
            x["kind"] != "modified_code" && x["kind"] != "import_hook" && x["severity"] != "info"
        })
        .collect();
    assert_eq!(others.len(), 1, "{report:#}");
    assert_eq!(others[0]["start"].as_u64(), Some(anon_code));

    // Text output names the function and shows the bytes.
    let pid = f.pid_arg();
    let r = run(&["audit", "--pid", &pid]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("inline hook"), "{}", r.stdout);
    assert!(r.stdout.contains("hooked_function+0x0"), "{}", r.stdout);
    assert!(r.stdout.contains("live e9 "), "{}", r.stdout);
    assert!(
        r.stdout.contains("the GOT slot of getpid (JUMP_SLOT)"),
        "{}",
        r.stdout
    );
}

#[test]
fn a_got_slot_sent_into_another_library_names_both() {
    let f = Fixture::start_flags("patchee", &["-Wl,-z,now"], &["0", "got"]);
    let got = f.addr("got_getpid");
    // Sent to the first byte of libc's code: libc defines getpid, but elsewhere.
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", f.pid())).unwrap();
    let libc_text = maps
        .lines()
        .find(|l| l.contains("/libc.so") && l.split_whitespace().nth(1) == Some("r-xp"))
        .and_then(|l| u64::from_str_radix(l.split('-').next()?, 16).ok())
        .expect("libc's code");
    poke(f.pid(), got, &libc_text.to_le_bytes());
    let (code, report) = audit(f.pid());
    let imports = of_kind(&report, "import_hook");
    assert_eq!(imports.len(), 1, "{report:#}");
    assert_eq!(imports[0]["severity"], "medium");
    assert_eq!(imports[0]["detail"]["symbol"], "getpid");
    let reason = imports[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("libc.so.6") && reason.contains("not at its definition of getpid"),
        "{reason}"
    );
    assert_eq!(code, 1);
}

#[test]
fn gdb_attach_and_detach_leaves_no_high_finding() {
    if !require("gdb", "a detached debugger must not leave a high finding") {
        return;
    }
    let f = Fixture::start("patchee", &["3"]);
    let pid = f.pid_arg();
    let out = Command::new("gdb")
        .args([
            "-p",
            &pid,
            "-batch",
            "-nx",
            "-ex",
            "info threads",
            "-ex",
            "detach",
        ])
        .output()
        .expect("run gdb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (code, report) = audit(f.pid());
    assert!(
        findings(&report)
            .iter()
            .all(|x| x["severity"] != "high" && x["severity"] != "critical"),
        "{report:#}"
    );
    assert!(of_kind(&report, "modified_code").is_empty(), "{report:#}");
    // gdb's breakpoint in the dynamic linker leaves a page of ld.so copied: reported as
    // identical to the file, as information.
    let copied = of_kind(&report, "copied_identical_code");
    assert!(!copied.is_empty(), "{report:#}");
    for c in copied {
        assert_eq!(c["severity"], "info");
        assert!(c["reason"]
            .as_str()
            .unwrap()
            .contains("identical to the file"));
    }
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn a_runtime_disguise_keeps_the_severities() {
    let plain = Fixture::start("patchee", &["0", "rwx"]);
    let (_, report) = audit(plain.pid());
    let severity = |report: &Value, kind: &str, at: u64| {
        findings(report)
            .iter()
            .find(|x| x["kind"] == kind && x["start"].as_u64() == Some(at))
            .unwrap_or_else(|| panic!("no {kind} at {at:#x}: {report:#}"))["severity"]
            .clone()
    };
    assert_eq!(
        severity(&report, "writable_executable", plain.addr("rwx")),
        "high"
    );
    assert_eq!(
        severity(&report, "anonymous_executable", plain.addr("anon")),
        "medium"
    );
    // Each runtime's thread name, and a file named like its library (a copy of the real one
    // where installed, so even its exports match) in a temporary folder.
    let dir = crate::support::tempdir::TempDir::new("disguise");
    let jvm = std::fs::read_dir("/usr/lib/jvm")
        .ok()
        .and_then(|mut d| d.next())
        .and_then(|e| e.ok())
        .map(|e| e.path().join("lib/server/libjvm.so"))
        .filter(|p| p.exists());
    for (name, file) in [
        ("MainThread", "libnode.so.108"),
        ("java", "libjvm.so"),
        ("node", "node"),
        ("dotnet", "libcoreclr.so"),
        ("luajit", "libluajit-5.1.so.2"),
    ] {
        let path = dir.path().join(file);
        match (&jvm, file) {
            (Some(real), "libjvm.so") => {
                std::fs::copy(real, &path).unwrap();
            }
            _ => std::fs::write(&path, vec![0u8; 4096]).unwrap(),
        }
        let p = path.to_str().unwrap();
        let f = Fixture::start("patchee", &["0", "rwx", name, p]);
        let (_, report) = audit(f.pid());
        assert_eq!(report["jit"], Value::Null, "{name} {file}: {report:#}");
        assert_eq!(
            severity(&report, "writable_executable", f.addr("rwx")),
            "high"
        );
        assert_eq!(
            severity(&report, "anonymous_executable", f.addr("anon")),
            "medium"
        );
    }
}

/// The parent of `pid` and the path of its executable, from procfs.
fn parent_and_exe(pid: u32) -> Option<(u32, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let ppid = after.split(' ').nth(1)?.parse().ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    Some((ppid, exe))
}

/// Is `pid` a test harness (a cargo test binary) or started by one? Test fixtures plant
/// findings on purpose (rwx pages, patched code, memfd code), and the suites of this and other
/// checkouts run in parallel with this test, so their processes are left out of the
/// "nothing on this machine is high" assertion.
fn from_a_test_harness(mut pid: u32) -> bool {
    for _ in 0..64 {
        let Some((ppid, exe)) = parent_and_exe(pid) else {
            return false;
        };
        if exe.contains("/target/") {
            return true;
        }
        if ppid <= 1 {
            return false;
        }
        pid = ppid;
    }
    false
}

#[test]
fn audit_all_finds_nothing_high_on_this_machine() {
    let r = run(&["audit", "--all", "--format", "json"]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let all: Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(all["audited"].as_u64().unwrap() > 1, "{all:#}");
    assert!(all["unreadable"].as_u64().is_some());
    for report in all["reports"].as_array().unwrap() {
        let pid = report["pid"].as_u64().unwrap() as u32;
        // A process gone since the audit cannot be traced back to its parent: on this busy
        // machine that is a test fixture of a suite running alongside, which plants findings.
        if parent_and_exe(pid).is_none() || from_a_test_harness(pid) {
            continue;
        }
        let exe = parent_and_exe(pid).map(|p| p.1).unwrap_or_default();
        for f in findings(report) {
            // A program run from its own sealed memfd, or whose file an upgrade replaced,
            // is still reported, lowered to medium with the reason.
            if f["kind"] == "fileless_code" && f["severity"] == "medium" {
                let reason = f["reason"].as_str().unwrap();
                assert!(reason.contains("the program's"), "PID {pid}: {f:#}");
            }
            assert!(
                f["severity"] != "high" && f["severity"] != "critical",
                "PID {pid} ({exe}): {f:#}"
            );
        }
    }
    // Text: one line per process with findings, after the summary.
    let t = run(&["audit", "--all"]);
    assert!(t.stdout.starts_with("Audited "), "{}", t.stdout);
    // (Processes come and go between the two runs: the lines are checked, not counted.)
    for line in t.stdout.lines().skip(1) {
        let pid = line.split_whitespace().next().unwrap();
        assert!(
            pid.parse::<u32>().is_ok() && line.contains(" finding"),
            "{line}"
        );
    }
}

#[test]
fn a_real_jvm_with_hot_code_has_no_high_finding() {
    if !require(
        "java",
        "the audit must recognise HotSpot from libjvm.so's identity",
    ) {
        return;
    }
    let dir = crate::support::tempdir::TempDir::new("jvm");
    let src = dir.path().join("Hot.java");
    std::fs::write(
        &src,
        "public class Hot { static int f(int x) { return x * 2 + 1; }\n\
         public static void main(String[] a) throws Exception { long s = 0;\n\
         for (int i = 0; i < 50000000; i++) s += f(i);\n\
         System.out.println(\"ready \" + s); Thread.sleep(60000); } }\n",
    )
    .unwrap();
    let mut child = Command::new("java")
        .arg(&src)
        .stdout(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("start java");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let guard = Kill(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
    assert!(line.starts_with("ready"), "{line}");
    let (code, report) = audit(guard.0.id());
    assert_eq!(report["jit"], "HotSpot (JVM)", "{report:#}");
    let jit: Vec<&Value> = findings(&report)
        .iter()
        .filter(|f| f["kind"] == "writable_executable" || f["kind"] == "anonymous_executable")
        .collect();
    assert!(!jit.is_empty(), "the JVM has a code cache: {report:#}");
    for f in &jit {
        assert_eq!(f["severity"], "low", "{f}");
        let evidence = f["detail"]["evidence"].as_str().unwrap();
        assert!(
            evidence.contains("libjvm.so") && evidence.contains("JNI_CreateJavaVM"),
            "{f}"
        );
    }
    assert!(
        findings(&report)
            .iter()
            .all(|f| f["severity"] == "info" || f["severity"] == "low"),
        "{report:#}"
    );
    assert_eq!(code, 0);
}

#[test]
fn an_ld_preload_library_is_one_low_finding_naming_it() {
    // A library needs no `main`; the fixture builder names the output after the source, so
    // the copy gets its `.so` name.
    let built = crate::support::build_c("interpose", &["-shared", "-fPIC", "-ldl"]);
    let lib = built.with_extension("so");
    std::fs::copy(&built, &lib).unwrap();
    let l = lib.to_str().unwrap().to_string();
    let f = Fixture::start_with("patchee", &[], |c| {
        c.env("LD_PRELOAD", &l);
        // Bound at start, so that the slots it takes hold its addresses before `ready`.
        c.env("LD_BIND_NOW", "1");
    });
    let (code, report) = audit(f.pid());
    let pre = of_kind(&report, "preloaded_library");
    assert_eq!(pre.len(), 1, "{report:#}");
    assert_eq!(pre[0]["severity"], "low");
    assert_eq!(pre[0]["path"], l.as_str());
    assert!(pre[0]["reason"]
        .as_str()
        .unwrap()
        .contains("LD_PRELOAD and mapped"));
    // Its redirections are attributed to it, not reported one slot at a time.
    assert!(
        pre[0]["reason"].as_str().unwrap().contains("point to it (")
            && pre[0]["reason"].as_str().unwrap().contains("open"),
        "{report:#}"
    );
    assert!(of_kind(&report, "import_hook").is_empty(), "{report:#}");
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn clean_python_and_redis_have_no_import_hook() {
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let dir = crate::support::tempdir::TempDir::new("clean");
    let mut children = Vec::new();
    if require(
        "python3",
        "a clean interpreter's GOT must resolve to its definitions",
    ) {
        let c = Command::new("python3")
            .args([
                "-c",
                "import sys,threading,time,ssl,sqlite3\n\
                 [threading.Thread(target=time.sleep,args=(60,),daemon=True).start() for _ in range(2)]\n\
                 open(sys.argv[1],'w').write('ready'); time.sleep(60)",
            ])
            .arg(dir.path().join("python"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start python3");
        children.push((Kill(c), dir.path().join("python"), "ready"));
    }
    if require(
        "redis-server",
        "a clean server's GOT must resolve to its definitions",
    ) {
        let log = dir.path().join("redis.log");
        let c = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--daemonize", "no"])
            .arg("--unixsocket")
            .arg(dir.path().join("redis.sock"))
            .arg("--logfile")
            .arg(&log)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("start redis-server");
        children.push((Kill(c), log, "ready to accept connections"));
    }
    for (k, file, word) in &mut children {
        // Wait until it says it is ready: its libraries are loaded and bound.
        let t0 = std::time::Instant::now();
        while !std::fs::read_to_string(&*file).is_ok_and(|t| t.contains(*word)) {
            assert!(
                k.0.try_wait().unwrap().is_none(),
                "{} exited",
                file.display()
            );
            assert!(
                t0.elapsed().as_secs() < 20,
                "{} never ready",
                file.display()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let (_, report) = audit(k.0.id());
        assert!(of_kind(&report, "import_hook").is_empty(), "{report:#}");
        assert!(
            findings(&report)
                .iter()
                .all(|f| f["severity"] != "high" && f["severity"] != "critical"),
            "{report:#}"
        );
    }
}

#[test]
fn a_file_changed_on_disk_after_the_start_is_said_so_not_called_a_patch() {
    let dir = crate::support::tempdir::TempDir::new("changed");
    let path = dir.path().join("code.bin");
    std::fs::write(&path, vec![0xc3u8; 4096]).unwrap();
    let f = Fixture::start("patchee", &["0", "-", "", path.to_str().unwrap()]);
    let mapped = f.addr("file");
    // A private copy that differs from the file, as a patch would...
    poke(f.pid(), mapped + 16, &[0x90, 0x90]);
    let (_, before) = audit(f.pid());
    let patch = of_kind(&before, "modified_code");
    assert_eq!(patch.len(), 1, "{before:#}");
    assert_eq!(patch[0]["severity"], "high");
    assert!(
        of_kind(&before, "file_changed_on_disk").is_empty(),
        "{before:#}"
    );
    // ...then the file itself rewritten in place, well after the start (start times are
    // known to the second).
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&[0xc3; 8], 100).unwrap();
    drop(file);
    let (_, after) = audit(f.pid());
    let changed = of_kind(&after, "file_changed_on_disk");
    assert_eq!(changed.len(), 1, "{after:#}");
    assert_eq!(changed[0]["severity"], "medium");
    let reason = changed[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("after the process started") && reason.contains("UTC"),
        "{reason}"
    );
    assert!(reason.contains("no package lists it"), "{reason}");
    // The copied page now differs from a file that changed: low, said so, not a patch.
    for m in of_kind(&after, "modified_code") {
        assert_eq!(m["severity"], "low", "{after:#}");
        assert_eq!(m["detail"]["class"], "file_changed", "{after:#}");
    }
    assert!(!of_kind(&after, "modified_code").is_empty(), "{after:#}");
}

#[test]
fn a_program_run_from_a_sealed_memfd_is_medium_with_the_reason_and_unsealed_stays_high() {
    if !require("python3", "python3 runs a program from a memfd (fexecve)") {
        return;
    }
    let bin = crate::support::build_c("patchee", &[]);
    for (sealed, want) in [(true, "medium"), (false, "high")] {
        let script = format!(
            "import os,fcntl,sys\n\
             fd=os.memfd_create('payload', os.MFD_ALLOW_SEALING)\n\
             os.write(fd, open({bin:?},'rb').read())\n\
             if {sealed}: fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE|fcntl.F_SEAL_GROW|fcntl.F_SEAL_SHRINK|fcntl.F_SEAL_SEAL)\n\
             os.execve(fd, ['patchee'], {{}})\n",
            sealed = if sealed { "True" } else { "False" },
            bin = bin.to_str().unwrap(),
        );
        let mut child = Command::new("python3")
            .args(["-c", &script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start python3");
        let stdout = child.stdout.take().unwrap();
        let mut r = std::io::BufReader::new(stdout);
        let mut line = String::new();
        while line.trim_end() != "ready" {
            line.clear();
            assert!(std::io::BufRead::read_line(&mut r, &mut line).unwrap() > 0);
        }
        let (_, report) = audit(child.id());
        let _ = child.kill();
        let _ = child.wait();
        let fileless = of_kind(&report, "fileless_code");
        assert!(!fileless.is_empty(), "{report:#}");
        for f in fileless {
            assert_eq!(f["severity"], want, "{report:#}");
            let reason = f["reason"].as_str().unwrap();
            assert_eq!(
                reason.contains("own executable is a memfd sealed against writes"),
                sealed,
                "{reason}"
            );
        }
    }
}

#[test]
fn uprobes_of_memlink_leaks_are_breakpoints_never_high_and_gone_after() {
    if !crate::support::is_root() {
        crate::support::require_fail("memlink leaks needs root to plant its uprobes");
        return;
    }
    let _g = crate::leaks::BPF.lock().unwrap_or_else(|e| e.into_inner());
    let mut f = Fixture::start("patchee", &["1"]);
    let pid = f.pid_arg();
    let mut leaks = crate::support::memlink()
        .args(["leaks", "--pid", &pid, "--all", "--duration", "2s"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start memlink leaks");
    // While the probes are in: the kernel's int3s at the entries of libc's allocator. The
    // kernel maps [uprobes] (its out-of-line area) only for a probed instruction it cannot
    // emulate; x86-64 emulates the `push` and `endbr64` these functions start with, so the
    // area may never appear: then the breakpoints are medium, with it low naming it.
    let t0 = std::time::Instant::now();
    let mut during = None;
    while t0.elapsed().as_secs() < 20 && leaks.try_wait().unwrap().is_none() {
        f.send("x");
        std::thread::sleep(std::time::Duration::from_millis(50));
        let (_, report) = audit(f.pid());
        if of_kind(&report, "modified_code")
            .iter()
            .any(|m| m["detail"]["symbol"] == "malloc+0x0")
        {
            during = Some(report);
            break;
        }
    }
    let during = during.expect("no probe seen while memlink leaks ran");
    let status = leaks.wait().unwrap();
    assert!(status.success() || status.code() == Some(1), "{status:?}");
    let uprobes = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .unwrap()
        .contains("[uprobes]");
    for m in of_kind(&during, "modified_code") {
        assert_eq!(m["detail"]["class"], "breakpoint", "{during:#}");
        let reason = m["reason"].as_str().unwrap();
        assert!(
            reason.contains("+0x0"),
            "a probe at a function entry: {reason}"
        );
        if uprobes {
            assert_eq!(m["severity"], "low", "{during:#}");
            assert!(reason.contains("[uprobes]"), "{during:#}");
        } else {
            assert_eq!(m["severity"], "medium", "{during:#}");
        }
    }
    let no_high = |r: &Value| {
        findings(r)
            .iter()
            .all(|x| x["severity"] != "high" && x["severity"] != "critical")
    };
    assert!(no_high(&during), "{during:#}");
    // After it ended: the probes are gone, the copied pages equal the file again.
    let (code, after) = audit(f.pid());
    assert!(no_high(&after), "{after:#}");
    assert!(of_kind(&after, "modified_code").is_empty(), "{after:#}");
    assert_eq!(code, 0, "{after:#}");
}
