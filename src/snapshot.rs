//! Snapshots: a process's facts, regions and summary at one instant, as versioned JSON, so that
//! `analyze`, `diff` and `map` can work on a saved state instead of a live process.
//!
//! Format (`"format": "memlink-snapshot"`, `"version": 1`): `taken_at` (seconds since the Unix
//! epoch), `process` ([`ProcessInfo`]), `regions` (the same objects `list --detailed --format
//! json` prints) and `stats` ([`MemoryStats`]). Files are created with mode 0600: process memory
//! maps reveal paths and layout that other users should not see. Writing and reading go through
//! [`crate::files`], which never follows a planted symlink and never blocks on a FIFO.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::analyzer::MemoryAnalyzer;
use crate::error::{Error, Result};
use crate::files::OutFile;
use crate::process::ProcessInfo;
use crate::region::stats::MemoryStats;
use crate::region::MemoryRegion;

/// The format tag of snapshot files.
pub const SNAPSHOT_FORMAT: &str = "memlink-snapshot";
/// The snapshot version this memlink writes and the newest it reads.
pub const SNAPSHOT_VERSION: u32 = 1;
/// The largest snapshot file memlink reads: 1 GiB. A region takes about 1 KB of JSON, so a
/// process at Linux's default limit of 65530 mappings gives about 64 MB.
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;

/// A saved process state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always [`SNAPSHOT_FORMAT`].
    pub format: String,
    /// [`SNAPSHOT_VERSION`] when written by this memlink.
    pub version: u32,
    /// Seconds since the Unix epoch.
    pub taken_at: u64,
    /// The process.
    pub process: ProcessInfo,
    /// Every region, with figures.
    pub regions: Vec<MemoryRegion>,
    /// The summary.
    pub stats: MemoryStats,
}

impl Snapshot {
    /// Takes a snapshot of a live process (reads `smaps`).
    pub fn take(analyzer: &MemoryAnalyzer) -> Result<Snapshot> {
        let process = analyzer.process_info()?;
        let regions = analyzer.analyze()?;
        let mut stats = MemoryStats::from_regions(process.pid, &regions);
        if let Some(rollup) = analyzer.kernel_rollup()? {
            stats.apply_rollup(&rollup.usage);
        }
        Ok(Snapshot {
            format: SNAPSHOT_FORMAT.to_string(),
            version: SNAPSHOT_VERSION,
            taken_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            process,
            regions,
            stats,
        })
    }

    /// Parses a snapshot; `what` names it in errors (usually the file name).
    pub fn from_json(bytes: &[u8], what: &str) -> Result<Snapshot> {
        #[derive(Deserialize)]
        struct Header {
            format: Option<String>,
            version: Option<u32>,
        }
        let perr = |e: serde_json::Error| Error::Parse {
            what: format!("snapshot {what}"),
            line: e.line(),
            message: e.to_string(),
            text: String::new(),
        };
        let h: Header = serde_json::from_slice(bytes).map_err(perr)?;
        if h.format.as_deref() != Some(SNAPSHOT_FORMAT) {
            return Err(Error::InvalidArgument(format!(
                "{what} is not a memlink snapshot (no \"format\": \"{SNAPSHOT_FORMAT}\")"
            )));
        }
        match h.version {
            Some(v) if v <= SNAPSHOT_VERSION && v > 0 => {}
            Some(v) => {
                return Err(Error::InvalidArgument(format!(
                    "{what}: snapshot version {v} is not supported (this memlink reads version {SNAPSHOT_VERSION})"
                )))
            }
            None => {
                return Err(Error::InvalidArgument(format!("{what}: snapshot has no \"version\"")))
            }
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let field = e.path().to_string();
            let inner = e.into_inner();
            Error::Parse {
                what: format!("snapshot {what}"),
                line: inner.line(),
                message: if field == "." {
                    inner.to_string()
                } else {
                    format!("field {field}: {inner}")
                },
                text: String::new(),
            }
        })
    }

    /// Reads a snapshot file: a regular file of at most [`MAX_SNAPSHOT_BYTES`] (a FIFO or a
    /// device is refused at once rather than read forever).
    pub fn load(path: &Path) -> Result<Snapshot> {
        let bytes = crate::files::read_input(path, MAX_SNAPSHOT_BYTES)?;
        Snapshot::from_json(&bytes, &path.display().to_string())
    }

    /// Writes the snapshot to `path` (`-` is standard output) as a new file with mode 0600,
    /// moved into place once complete; refuses to replace an existing file unless `force`,
    /// and then replaces the directory entry, never what a symlink there points to. See
    /// [`crate::files`].
    pub fn save(&self, path: &Path, force: bool) -> Result<()> {
        let mut out = std::io::BufWriter::new(OutFile::create(path, force)?);
        let io = |source| Error::File {
            path: path.to_path_buf(),
            source,
        };
        serde_json::to_writer(&mut out, self).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
        out.into_inner().map_err(|e| io(e.into_error()))?.commit()
    }
}

/// Creates `path` for writing with mode 0600 and returns it at once (see
/// [`files::create_placed`](crate::files::create_placed)). Without `force` an existing file is
/// an error; with it the directory entry is replaced by a new empty file: an existing file or a
/// symlink's target is never truncated, chmodded or written. Prefer
/// [`files::OutFile`](crate::files::OutFile) or [`files::write_atomic`](crate::files::write_atomic),
/// which only replace the destination once the data is complete.
pub fn create_private(path: &Path, force: bool) -> Result<std::fs::File> {
    crate::files::create_placed(path, force)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_format_and_version() {
        let e = Snapshot::from_json(b"{}", "x.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a memlink snapshot"), "{e}");
        let e = Snapshot::from_json(br#"{"format":"memlink-snapshot","version":99}"#, "x.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("version 99"), "{e}");
        let e = Snapshot::from_json(br#"{"format":"memlink-snapshot","version":1}"#, "x.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field"), "{e}");
        let e = Snapshot::from_json(
            br#"{"format":"memlink-snapshot","version":1,"taken_at":"soon"}"#,
            "x.json",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("field taken_at"), "{e}");
        let e = Snapshot::from_json(b"{\"format\":", "x.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("snapshot x.json"), "{e}");
    }
}
