//! The analyzer extension point: the protection audit, the statistics summary and later
//! analyses all implement [`Analyzer`], so a Rust user can add one, and external programs
//! named `memlink-analyzer-NAME` on `PATH` can add more, like git and cargo subcommands.
//!
//! An external analyzer receives the process snapshot ([`Snapshot`], the JSON of
//! `memlink::snapshot`) on standard input and prints its findings on standard output as JSON:
//! either an array of [`Finding`] objects or `{"findings": [...]}`. Each finding has
//! `severity` (`info`, `low`, `medium`, `high`, `critical`), `kind` and `reason` (strings) and
//! optionally `start`, `end` (integers), `path` and `jit` (strings or null). A non-zero exit
//! status is an error.
//!
//! memlink often runs as root, so an external analyzer only runs when named, and is refused
//! when its file or a directory above it is writable by group or others, or owned by someone
//! other than root or the calling user ([`check_external`]); what runs is the file that was
//! checked, held open, not the path again.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inspect::audit::{self, Finding, Severity};
use crate::snapshot::Snapshot;

/// Prefix of external analyzer programs.
pub(crate) const EXTERNAL_PREFIX: &str = "memlink-analyzer-";

/// Read access to the live process, for analyzers that look at contents.
pub trait MemoryAccess: Sync {
    /// Reads up to `buf.len()` bytes at `addr`; fewer (or 0) when pages are unreadable.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<usize>;
}

impl MemoryAccess for crate::platform::MemReader {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<usize> {
        crate::platform::MemReader::read(self, addr, buf)
    }
}

/// What an analyzer works on.
pub struct Context<'a> {
    /// The process's regions (with `smaps` figures) and summary.
    pub snapshot: &'a Snapshot,
    /// The live memory, when the process is running (not for a saved snapshot).
    pub memory: Option<&'a dyn MemoryAccess>,
}

/// An analysis over a process snapshot that returns findings.
pub trait Analyzer {
    /// Short name (`protection`, `stats`).
    fn name(&self) -> &str;
    /// One line on what it looks for.
    fn description(&self) -> &str;
    /// Runs the analysis.
    fn run(&self, cx: &Context<'_>) -> Result<Vec<Finding>>;
}

/// The protection and integrity audit ([`audit::audit`]).
#[derive(Debug, Default)]
pub(crate) struct ProtectionAudit;

impl Analyzer for ProtectionAudit {
    fn name(&self) -> &str {
        "protection"
    }

    fn description(&self) -> &str {
        "writable+executable, anonymous and file-less code, modified code, executable stacks, injected ELF images"
    }

    fn run(&self, cx: &Context<'_>) -> Result<Vec<Finding>> {
        let read = cx
            .memory
            .map(|m| move |addr: u64, buf: &mut [u8]| m.read(addr, buf));
        Ok(match &read {
            Some(f) => audit::audit(cx.snapshot, Some(f)),
            None => audit::audit(cx.snapshot, None),
        })
    }
}

/// The usage summary as informational findings: one per region type with resident memory.
#[derive(Debug, Default)]
pub(crate) struct StatsSummary;

impl Analyzer for StatsSummary {
    fn name(&self) -> &str {
        "stats"
    }

    fn description(&self) -> &str {
        "memory usage by region type (informational)"
    }

    fn run(&self, cx: &Context<'_>) -> Result<Vec<Finding>> {
        use crate::region::stats::format_figure;
        use crate::units::format_size;
        let s = &cx.snapshot.stats;
        let mut out = vec![Finding {
            severity: Severity::Info,
            kind: "usage_total".into(),
            start: 0,
            end: 0,
            path: None,
            reason: format!(
                "{} regions, {} virtual, {} resident, {} swapped",
                s.total.count,
                format_size(s.total.virtual_size),
                format_figure(s.total.memory.rss),
                format_figure(s.total.memory.swap)
            ),
            jit: None,
            detail: None,
        }];
        for t in &s.by_type {
            out.push(Finding {
                severity: Severity::Info,
                kind: "usage_by_type".into(),
                start: 0,
                end: 0,
                path: Some(t.region_type.name().to_string()),
                reason: format!(
                    "{}: {} regions, {} resident, {} swapped",
                    t.region_type,
                    t.figures.count,
                    format_figure(t.figures.memory.rss),
                    format_figure(t.figures.memory.swap)
                ),
                jit: None,
                detail: None,
            });
        }
        Ok(out)
    }
}

/// The built-in analyzers.
pub(crate) fn builtin() -> Vec<Box<dyn Analyzer>> {
    vec![Box::new(ProtectionAudit), Box::new(StatsSummary)]
}

/// An external analyzer program.
#[derive(Debug, Clone)]
pub struct External {
    /// The NAME in `memlink-analyzer-NAME`.
    pub name: String,
    /// Its path.
    pub path: PathBuf,
}

/// Every `memlink-analyzer-*` on `PATH` (first one wins for a name), safe or not.
pub(crate) fn externals() -> Vec<External> {
    let mut out: Vec<External> = Vec::new();
    let Some(path) = std::env::var_os("PATH") else {
        return out;
    };
    for dir in std::env::split_paths(&path) {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut found: Vec<External> = rd
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let file = e.file_name().to_str()?.to_string();
                let name = file.strip_prefix(EXTERNAL_PREFIX)?.to_string();
                let p = e.path();
                (!name.is_empty() && p.is_file()).then_some(External { name, path: p })
            })
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        for e in found {
            if !out.iter().any(|o| o.name == e.name) {
                out.push(e);
            }
        }
    }
    out
}

/// Checks that an external analyzer may run: an executable regular file, owned by root or the
/// caller, not writable by group or others, below directories that are owned by root or the
/// caller and not writable by group or others unless sticky.
pub fn check_external(path: &Path) -> Result<()> {
    CheckedProgram::open(path).map(|_| ())
}

/// An external analyzer program, opened and checked. What runs is this open file (through
/// `/proc/self/fd/N`, as `fexecve` does), so renaming or replacing the path after the check
/// changes nothing.
#[derive(Debug)]
struct CheckedProgram {
    fd: std::os::fd::OwnedFd,
    /// The path as given, for the program's `argv[0]`.
    shown: PathBuf,
}

impl CheckedProgram {
    /// Opens `path` and checks the opened file: an executable regular file, not writable by
    /// group or others, owned by root or the caller; and every directory above it, both
    /// along the path as given and along the file's real path, owned by root or the caller
    /// and not writable by group or others unless sticky (in a sticky directory such as
    /// `/tmp` only an entry's owner may rename or remove it, and the entry's owner is checked
    /// in turn). Anyone who could write one of those directories could swap the program
    /// before it was opened; a group-writable `/usr/local/bin` (Debian's `staff` group) is
    /// refused for that reason.
    ///
    /// The descriptor is opened without close-on-exec so that an interpreter started for a
    /// `#!` script can open `/proc/self/fd/N` after the exec.
    fn open(path: &Path) -> Result<CheckedProgram> {
        use rustix::fs::{Mode, OFlags};
        let refuse = |why: String| {
            Error::InvalidArgument(format!("refusing to run {}: {why}", path.display()))
        };
        let file_error = |source: std::io::Error| Error::File {
            path: path.to_path_buf(),
            source,
        };
        let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::NONBLOCK, Mode::empty())
            .map_err(|e| file_error(e.into()))?;
        let st = rustix::fs::fstat(&fd).map_err(|e| file_error(e.into()))?;
        let mode = st.st_mode;
        if mode & libc::S_IFMT != libc::S_IFREG || mode & 0o111 == 0 {
            return Err(refuse("not an executable file".into()));
        }
        if mode & 0o022 != 0 {
            return Err(refuse(format!(
                "it is writable by group or others (mode {:o})",
                mode & 0o7777
            )));
        }
        let me = nix::unistd::geteuid().as_raw();
        if st.st_uid != 0 && st.st_uid != me {
            return Err(refuse(format!(
                "it is owned by uid {}, neither root nor the caller (uid {me})",
                st.st_uid
            )));
        }
        let given = std::path::absolute(path).map_err(file_error)?;
        let real =
            std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd())).map_err(file_error)?;
        for dir in given.ancestors().skip(1).chain(real.ancestors().skip(1)) {
            let md = std::fs::metadata(dir).map_err(|source| Error::File {
                path: dir.to_path_buf(),
                source,
            })?;
            let dmode = md.mode();
            if dmode & 0o022 != 0 && dmode & libc::S_ISVTX == 0 {
                return Err(refuse(format!(
                    "the directory {} is writable by group or others (mode {:o})",
                    dir.display(),
                    dmode & 0o7777
                )));
            }
            if md.uid() != 0 && md.uid() != me {
                return Err(refuse(format!(
                    "the directory {} is owned by uid {}, neither root nor the caller (uid {me})",
                    dir.display(),
                    md.uid()
                )));
            }
        }
        Ok(CheckedProgram {
            fd,
            shown: path.to_path_buf(),
        })
    }

    /// A command that runs the checked file itself.
    fn command(&self) -> Command {
        let mut c = Command::new(format!("/proc/self/fd/{}", self.fd.as_raw_fd()));
        c.arg0(&self.shown);
        c
    }
}

/// One analyzer [`catalog`] entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnalyzerEntry {
    /// The name to ask for.
    pub name: String,
    /// `built-in` or `external`.
    pub kind: &'static str,
    /// One line on what it looks for.
    pub description: String,
    /// The program, for an external analyzer.
    pub path: Option<String>,
    /// Why an external analyzer would be refused ([`check_external`]), if it would.
    pub refused: Option<String>,
}

/// Every analyzer that can be named: the built-in ones, then the external ones on `PATH`,
/// each with the reason it would be refused.
pub fn catalog() -> Vec<AnalyzerEntry> {
    let mut entries: Vec<AnalyzerEntry> = builtin()
        .iter()
        .map(|a| AnalyzerEntry {
            name: a.name().to_string(),
            kind: "built-in",
            description: a.description().to_string(),
            path: None,
            refused: None,
        })
        .collect();
    for e in externals() {
        entries.push(AnalyzerEntry {
            refused: check_external(&e.path).err().map(|e| e.to_string()),
            name: e.name,
            kind: "external",
            description: "external analyzer".into(),
            path: Some(e.path.display().to_string()),
        });
    }
    entries
}

/// Finds an analyzer by name: built-in first, then `memlink-analyzer-NAME` on `PATH` (checked
/// with [`check_external`]).
pub fn find(name: &str) -> Result<Box<dyn Analyzer>> {
    if let Some(a) = builtin().into_iter().find(|a| a.name() == name) {
        return Ok(a);
    }
    if name.is_empty() || name.contains('/') {
        return Err(Error::InvalidArgument(format!(
            "invalid analyzer name {name:?}"
        )));
    }
    let ext = externals()
        .into_iter()
        .find(|e| e.name == name)
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "no analyzer named {name:?} (not built in, and no {EXTERNAL_PREFIX}{name} on PATH)"
            ))
        })?;
    check_external(&ext.path)?;
    Ok(Box::new(ext))
}

impl Analyzer for External {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        "external analyzer"
    }

    fn run(&self, cx: &Context<'_>) -> Result<Vec<Finding>> {
        let program = CheckedProgram::open(&self.path)?;
        let what = format!("analyzer {}", self.name);
        let os = |op: &str, source| Error::Os {
            op: format!("{op} {what}"),
            source,
        };
        let mut child = program
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| os("start", e))?;
        drop(program);
        let input = serde_json::to_vec(cx.snapshot).map_err(|e| os("encode for", e.into()))?;
        let mut stdin = child.stdin.take();
        let writer = std::thread::spawn(move || {
            if let Some(s) = stdin.as_mut() {
                // An analyzer may stop reading early; that is its business.
                let _ = s.write_all(&input);
            }
        });
        let out = child.wait_with_output().map_err(|e| os("wait for", e))?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(Error::InvalidArgument(format!(
                "{what} failed ({})",
                out.status
            )));
        }
        parse_findings(&out.stdout, &what)
    }
}

/// Parses an external analyzer's output: an array of findings or `{"findings": [...]}`.
pub(crate) fn parse_findings(bytes: &[u8], what: &str) -> Result<Vec<Finding>> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Output {
        List(Vec<Finding>),
        Object { findings: Vec<Finding> },
    }
    let v: Output = serde_json::from_slice(bytes).map_err(|e| Error::Parse {
        what: format!("output of {what}"),
        line: e.line(),
        message: "expected a JSON array of findings or {\"findings\": [...]}".into(),
        text: String::from_utf8_lossy(&bytes[..bytes.len().min(80)]).into_owned(),
    })?;
    Ok(match v {
        Output::List(f) | Output::Object { findings: f } => f,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_output_shapes() {
        let a = parse_findings(
            br#"[{"severity":"high","kind":"x","reason":"because","start":16,"end":32}]"#,
            "t",
        )
        .unwrap();
        assert_eq!(a[0].severity, Severity::High);
        assert_eq!((a[0].start, a[0].end), (16, 32));
        let b = parse_findings(
            br#"{"findings":[{"severity":"info","kind":"k","reason":"r"}]}"#,
            "t",
        )
        .unwrap();
        assert_eq!(b[0].path, None);
        assert!(parse_findings(b"{}", "t").is_err());
        assert!(parse_findings(br#"[{"severity":"fatal","kind":"k","reason":"r"}]"#, "t").is_err());
    }

    #[test]
    fn severity_order_and_names() {
        assert!(Severity::Info < Severity::Low && Severity::High < Severity::Critical);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
        assert!("bad".parse::<Severity>().is_err());
        assert_eq!(
            serde_json::to_string(&Severity::Critical).unwrap(),
            "\"critical\""
        );
    }
}
