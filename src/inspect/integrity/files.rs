//! The identity of the mapped files. Comparing copied pages with the file cannot see a file
//! that root rewrote in place: its page cache changes with it, so memory and file agree. Two
//! checks cover that blind spot:
//! - a mapped file whose status-change time (ctime, from the kernel's `fstat` of the mapped
//!   inode through `map_files`) is later than the process's start is reported with both times
//!   (its copied pages, if any, then differ from a file that changed, which is not a patch);
//! - such a file, when the package database knows its path (`/var/lib/dpkg/info/*.md5sums`,
//!   read once per run and only when needed), is hashed (MD5, as dpkg records) and compared:
//!   a mismatch is `high` ("the file on disk differs from its package").
//!
//! A ctime is set by the kernel on every write, chmod or rename and cannot be set back by a
//! system call; root can still change it by changing the clock or editing the file system
//! offline. A file changed before the process started is not hashed (that would cost a read
//! of every library of every process).

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use md5::{Digest, Md5};

use crate::inspect::audit::{kind, Detail, Finding, Severity};
use crate::platform::ProcDir;
use crate::region::MemoryRegion;

/// Where dpkg keeps its lists.
const DPKG_INFO: &str = "/var/lib/dpkg/info";
/// Start times come from `/proc/stat`'s `btime` (whole seconds) plus clock ticks: changes
/// closer than this to the start are not called "after" it.
const MARGIN_SECS: i64 = 2;

/// The files dpkg installed: path -> (package, MD5).
#[derive(Debug, Default)]
pub(crate) struct Packages {
    files: HashMap<PathBuf, (String, [u8; 16])>,
}

impl Packages {
    /// Reads every `*.md5sums` list of `dir`.
    fn read(dir: &Path) -> Packages {
        let mut files = HashMap::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Packages { files };
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pkg) = name.to_str().and_then(|n| n.strip_suffix(".md5sums")) else {
                continue;
            };
            let pkg = pkg.split(':').next().unwrap_or(pkg).to_string();
            let Ok(text) = std::fs::read(e.path()) else {
                continue;
            };
            parse_md5sums(&text, &pkg, &mut files);
        }
        Packages { files }
    }

    /// The package and MD5 of `path`, under either name of a merged `/usr` (Debian lists
    /// `/lib/...` for files that are mapped as `/usr/lib/...`).
    pub fn get(&self, path: &Path) -> Option<&(String, [u8; 16])> {
        if let Some(hit) = self.files.get(path) {
            return Some(hit);
        }
        let s = path.to_str()?;
        let other = match s.strip_prefix("/usr") {
            Some(rest)
                if ["/lib", "/bin", "/sbin"]
                    .iter()
                    .any(|p| rest.starts_with(p)) =>
            {
                rest.to_string()
            }
            _ => format!("/usr{s}"),
        };
        self.files.get(Path::new(&other))
    }
}

/// Parses one `md5sums` list ("HEX  path/without/leading/slash" per line) into `out`.
pub(crate) fn parse_md5sums(
    text: &[u8],
    pkg: &str,
    out: &mut HashMap<PathBuf, (String, [u8; 16])>,
) {
    for line in text.split(|&b| b == b'\n') {
        let Some((hex, path)) = line.split_at_checked(32) else {
            continue;
        };
        let path = path.trim_ascii_start();
        let Some(md5) = unhex(hex) else {
            continue;
        };
        let Ok(path) = std::str::from_utf8(path) else {
            continue;
        };
        out.insert(Path::new("/").join(path), (pkg.to_string(), md5));
    }
}

fn unhex(hex: &[u8]) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        *out.get_mut(i)? = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// What a run knows of the files: the package database (read at the first need) and the
/// verdicts on the files hashed.
#[derive(Debug, Default)]
pub struct FileCache {
    packages: OnceLock<Packages>,
    hashed: Mutex<HashMap<(u64, u64, i64), Option<bool>>>,
}

impl FileCache {
    /// The package and MD5 of `path`. dpkg installs under the system folders only: a path
    /// elsewhere is not looked up (nor is the database read for it).
    pub(crate) fn package(&self, path: &Path) -> Option<&(String, [u8; 16])> {
        let system = ["/usr/", "/lib", "/bin/", "/sbin/", "/opt/"]
            .iter()
            .any(|p| path.to_str().is_some_and(|s| s.starts_with(p)));
        if !system {
            return None;
        }
        self.packages
            .get_or_init(|| Packages::read(Path::new(DPKG_INFO)))
            .get(path)
    }

    /// Does the file open as `file` (device, inode, ctime) have the MD5 `want`? `None` when it
    /// cannot be read.
    fn matches(&self, key: (u64, u64, i64), file: &mut File, want: &[u8; 16]) -> Option<bool> {
        if let Some(v) = self
            .hashed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return *v;
        }
        let v = md5_of(file).map(|got| &got == want);
        self.hashed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, v);
        v
    }
}

fn md5_of(file: &mut File) -> Option<[u8; 16]> {
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(_) => return None,
        }
    }
    Some(h.finalize().into())
}

/// The process's start, in seconds since the epoch, from `/proc/stat`'s `btime` and its
/// start time in clock ticks after boot.
pub(crate) fn start_epoch(proc_root: &Path, ticks: u64) -> Option<i64> {
    let stat = std::fs::read_to_string(proc_root.join("stat")).ok()?;
    let btime: i64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&h| h > 0)?;
    Some(btime + (ticks as i64) / hz as i64)
}

/// "2026-12-02 15:30:00 UTC" for a time in seconds since the epoch.
pub(crate) fn utc(secs: i64) -> String {
    crate::map::svg::utc(secs.max(0) as u64)
}

/// The files (device, inode) that changed on disk after the process started, each reported
/// once, compared with its package where dpkg knows it.
pub(crate) fn check(
    dir: &ProcDir,
    regions: &[MemoryRegion],
    start: Option<i64>,
    cache: &FileCache,
    out: &mut Vec<Finding>,
) -> Vec<(u64, u64)> {
    let mut changed = Vec::new();
    let Some(start) = start else {
        return changed;
    };
    let mut seen = Vec::new();
    for r in regions {
        let Some(path) = r.path.as_deref() else {
            continue;
        };
        if !r.perms.contains(crate::region::Perms::EXEC) || r.deleted {
            continue;
        }
        let key = (
            (r.device.major as u64) << 32 | r.device.minor as u64,
            r.inode,
        );
        if seen.contains(&key) {
            continue;
        }
        seen.push(key);
        let Ok(mut file) = dir.open_file(&super::imports::map_files(r)) else {
            continue;
        };
        let Ok(meta) = file.metadata() else {
            continue;
        };
        let ctime = meta.ctime();
        if ctime <= start + MARGIN_SECS {
            continue;
        }
        changed.push(key);
        let times = format!(
            "changed {} (ctime), after the process started {}",
            utc(ctime),
            utc(start)
        );
        let package = cache.package(path).cloned();
        let (severity, reason, evidence) = match &package {
            Some((pkg, md5)) => match cache.matches((key.0, key.1, ctime), &mut file, md5) {
                Some(false) => (
                    Severity::High,
                    format!("the file on disk differs from its package {pkg} (MD5 of the mapped inode vs dpkg's list); it {times}"),
                    format!("{DPKG_INFO}/{pkg}.md5sums and the mapped inode's ctime (from the kernel)"),
                ),
                Some(true) => (
                    Severity::Low,
                    format!("the mapped file {times}, but still matches its package {pkg} (reinstalled or touched)"),
                    format!("{DPKG_INFO}/{pkg}.md5sums and the mapped inode's ctime (from the kernel)"),
                ),
                None => (
                    Severity::Medium,
                    format!("the mapped file {times}; it belongs to {pkg} but could not be read to compare"),
                    "the mapped inode's ctime (from the kernel)".to_string(),
                ),
            },
            None => (
                Severity::Medium,
                format!("the mapped file {times}; no package lists it, so it cannot be compared"),
                "the mapped inode's ctime (from the kernel)".to_string(),
            ),
        };
        out.push(Finding {
            severity,
            kind: kind::FILE_CHANGED.into(),
            start: 0,
            end: 0,
            path: Some(path.display().to_string()),
            reason,
            jit: None,
            detail: Some(Detail {
                module: Some(path.display().to_string()),
                evidence: Some(evidence),
                ..Detail::default()
            }),
        });
    }
    changed
}

/// Explains a `fileless_code` finding about the process's own executable, which the kernel
/// names through `/proc/PID/exe`: run from a memfd sealed against writes (a program that
/// copies itself into one, as runc does, so that its file cannot be overwritten), or from a
/// file that an upgrade replaced (its path now names another root-owned file in a system
/// folder). Either is lowered to `medium`, with the reason; any other fileless code keeps its
/// severity. Never dropped: a sealed memfd is what a careful dropper makes too.
pub(crate) fn explain_own_executable(
    dir: &ProcDir,
    regions: &[MemoryRegion],
    findings: &mut [Finding],
) {
    let Ok(exe) = dir.open_file("exe") else {
        return;
    };
    let Ok(meta) = exe.metadata() else {
        return;
    };
    let (major, minor) = (rustix::fs::major(meta.dev()), rustix::fs::minor(meta.dev()));
    let own = |start: u64| {
        regions.iter().any(|r| {
            r.base_address as u64 == start
                && r.inode == meta.ino()
                && r.device.major == major
                && r.device.minor == minor
        })
    };
    let why = if regions.iter().any(|r| {
        r.mapped_file
            .as_deref()
            .is_some_and(|p| p.starts_with("/memfd:"))
            && r.inode == meta.ino()
    }) {
        match rustix::fs::fcntl_get_seals(&exe) {
            Ok(seals)
                if seals.intersects(
                    rustix::fs::SealFlags::WRITE | rustix::fs::SealFlags::FUTURE_WRITE,
                ) && seals.contains(rustix::fs::SealFlags::SHRINK | rustix::fs::SealFlags::GROW) =>
            {
                Some(format!(
                    "the program's own executable is a memfd sealed against writes (seals {:#x}, from the kernel): a self-copy as runc makes, whose code can no longer change; still no file on disk to compare with",
                    seals.bits()
                ))
            }
            _ => None,
        }
    } else {
        replaced_by_upgrade(dir, &meta)
    };
    let Some(why) = why else {
        return;
    };
    for f in findings.iter_mut() {
        if f.kind == kind::FILELESS_CODE && f.severity > Severity::Medium && own(f.start) {
            f.severity = Severity::Medium;
            f.reason = format!("{}: {why}", f.reason);
            let d = f.detail.get_or_insert_with(Detail::default);
            d.evidence = Some("/proc/PID/exe names this inode (from the kernel)".into());
        }
    }
}

/// Why a deleted executable looks replaced by an upgrade: its old path names another regular
/// file, owned by root and writable by no one else, in a system folder.
fn replaced_by_upgrade(dir: &ProcDir, meta: &std::fs::Metadata) -> Option<String> {
    let link = std::fs::read_link(dir.path().join("exe")).ok()?;
    let old = link.to_str()?.strip_suffix(" (deleted)")?;
    let system = ["/usr/", "/opt/", "/lib", "/bin/", "/sbin/"]
        .iter()
        .any(|p| old.starts_with(p));
    let now = std::fs::metadata(old).ok()?;
    if !system
        || !now.is_file()
        || now.ino() == meta.ino()
        || now.uid() != 0
        || now.mode() & 0o022 != 0
    {
        return None;
    }
    Some(format!(
        "the program's file was replaced on disk since it started ({old} is now another root-owned file, changed {}): an upgrade leaves this; the running code is the old file's",
        utc(now.ctime())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn md5sums_lines_and_merged_usr() {
        let mut files = HashMap::new();
        parse_md5sums(
            b"0123456789abcdef0123456789abcdef  lib/x86_64-linux-gnu/libc.so.6\nshort\n\
              zz23456789abcdef0123456789abcdef  bad/hex\n",
            "libc6",
            &mut files,
        );
        assert_eq!(files.len(), 1);
        let p = Packages { files };
        let (pkg, md5) = p
            .get(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6"))
            .unwrap();
        assert_eq!(pkg, "libc6");
        assert_eq!(md5[0], 0x01);
        assert_eq!(md5[15], 0xef);
        assert!(p
            .get(Path::new("/lib/x86_64-linux-gnu/libc.so.6"))
            .is_some());
        assert!(p.get(Path::new("/usr/lib/other.so")).is_none());
    }

    /// The package database of this machine agrees with its own libc (when dpkg is there).
    #[test]
    fn installed_libc_matches_its_package() {
        let pk = Packages::read(Path::new(DPKG_INFO));
        let Some((pkg, md5)) = pk.get(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6")) else {
            eprintln!("skipped: no dpkg list names libc.so.6");
            return;
        };
        assert!(pkg.starts_with("libc6"));
        let mut f = File::open("/usr/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        assert_eq!(md5_of(&mut f).as_ref(), Some(md5));
    }
}
