//! Whether a mapped file whose name ends in ` (deleted)` was really deleted.
//!
//! The kernel appends ` (deleted)` to the path of an unlinked file, but a live file may have a
//! name that ends that way. The file itself settles it: `/proc/PID/map_files/START-END` leads to
//! it (following that link needs `CAP_SYS_ADMIN` or `CAP_CHECKPOINT_RESTORE`), and a link count
//! of 0 means deleted. Without the capability, the name is looked up in the process's own root
//! (`/proc/PID/root`): the same file there (device and inode) is live; nothing there is deleted.

use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;

use crate::proc::maps::MapsLine;
use crate::region::Device;

use super::procdir::ProcDir;

/// `Some(true)` when the file of `line` was deleted, `Some(false)` when it is a live file
/// whose name ends in ` (deleted)`, `None` when neither can be told (a copied procfs tree, no
/// access).
pub fn deleted(dir: &ProcDir, line: &MapsLine<'_>) -> Option<bool> {
    let link = dir
        .path()
        .join(format!("map_files/{:x}-{:x}", line.start, line.end));
    if let Ok(m) = std::fs::metadata(link) {
        return Some(m.nlink() == 0);
    }
    let root = dir.path().join("root");
    std::fs::metadata(&root).ok()?;
    let rel = line.pathname.strip_prefix(b"/")?;
    match std::fs::metadata(root.join(std::ffi::OsStr::from_bytes(rel))) {
        Ok(m) if m.ino() == line.inode && device(m.dev()) == line.device => Some(false),
        Ok(_) => None,
        Err(e) if e.kind() == ErrorKind::NotFound => Some(true),
        Err(_) => None,
    }
}

/// Splits a `st_dev` as glibc's `major()`/`minor()` do.
fn device(dev: u64) -> Device {
    Device {
        major: (((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff)) as u32,
        minor: (((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff)) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_split_as_the_kernel_prints_them() {
        assert_eq!(
            device(0xfe00),
            Device {
                major: 0xfe,
                minor: 0
            }
        );
        // A large minor (as with many block devices) keeps its high bits.
        let d = device((0x103 << 8) | 0x45 | (0x12 << 12 << 8));
        assert_eq!(d.major, 0x103);
        assert_eq!(d.minor, 0x1245);
    }
}
