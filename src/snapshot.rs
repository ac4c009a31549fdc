//! Snapshots: a process's facts, regions and summary at one instant, as versioned JSON, so that
//! `analyze`, `diff` and `map` can work on a saved state instead of a live process.
//!
//! Format (`"format": "memlink-snapshot"`, `"version": 1`): `taken_at` (seconds since the Unix
//! epoch), `process` ([`ProcessInfo`]), `regions` (the same objects `list --detailed --format
//! json` prints) and `stats` ([`MemoryStats`]). Files are created with mode 0600: process memory
//! maps reveal paths and layout that other users should not see.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::analyzer::MemoryAnalyzer;
use crate::error::{Error, Result};
use crate::process::ProcessInfo;
use crate::region::stats::MemoryStats;
use crate::region::MemoryRegion;

/// The format tag of snapshot files.
pub const SNAPSHOT_FORMAT: &str = "memlink-snapshot";
/// The snapshot version this memlink writes and the newest it reads.
pub const SNAPSHOT_VERSION: u32 = 1;

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
        let stats = MemoryStats::from_regions(process.pid, &regions);
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

    /// Reads a snapshot file.
    pub fn load(path: &Path) -> Result<Snapshot> {
        let bytes = std::fs::read(path).map_err(|source| Error::File {
            path: path.to_path_buf(),
            source,
        })?;
        Snapshot::from_json(&bytes, &path.display().to_string())
    }

    /// Writes the snapshot to a new file with mode 0600; refuses to replace an existing file
    /// unless `force`.
    pub fn save(&self, path: &Path, force: bool) -> Result<()> {
        let mut f = create_private(path, force)?;
        let io = |source| Error::File {
            path: path.to_path_buf(),
            source,
        };
        serde_json::to_writer(&mut f, self).map_err(|e| io(e.into()))?;
        f.write_all(b"\n").map_err(io)?;
        f.sync_all().map_err(io)
    }
}

/// Creates `path` for writing with mode 0600. Without `force` an existing file is an error;
/// with it, the file is truncated (and its mode tightened to 0600).
pub fn create_private(path: &Path, force: bool) -> Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut o = std::fs::OpenOptions::new();
    o.write(true).mode(0o600);
    if force {
        o.create(true).truncate(true);
    } else {
        o.create_new(true);
    }
    let f = o.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => Error::InvalidArgument(format!(
            "{} already exists (use --force to replace it)",
            path.display()
        )),
        _ => Error::File {
            path: path.to_path_buf(),
            source,
        },
    })?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|source| Error::File {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(f)
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
