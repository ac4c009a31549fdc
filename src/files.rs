//! Files memlink writes or reads, made safe to name anywhere, even as root in a directory that
//! other users can write.
//!
//! Output ([`OutFile`], [`write_atomic`]): a new file is written under an unpredictable name
//! beside the destination (or as an unnamed `O_TMPFILE` where the filesystem has it), created
//! with `O_CREAT|O_EXCL|O_NOFOLLOW` and mode 0600, `fsync`ed, and only then moved into place:
//! `renameat2(RENAME_NOREPLACE)` (or `linkat`) without `force`, so a destination that appears
//! meanwhile is still refused, and a plain `rename` with it, which replaces the directory entry
//! (a symlink included) and never writes, truncates or chmods what it pointed to. On any failure
//! only the temporary file memlink created is removed. An existing pipe, FIFO, terminal or
//! character device (`/dev/null`, `/dev/stdout`, a `>(gzip)` pipe) is written as it is: never
//! chmodded, truncated, renamed over or removed; a FIFO is opened with `O_NONBLOCK` so that one
//! without a reader is an error instead of a hang. `-` is standard output.
//!
//! Symlinks at the destination are only followed when they cannot have been planted: owned by
//! root or the effective user, in a directory nobody else may rename entries in, and leading to
//! a pipe, character device or one of memlink's own descriptors (`/dev/stdout`, `/dev/fd/N`).
//! Any other symlink is an existing entry like a file.
//!
//! Input ([`open_input`], [`read_input`]): opened with `O_NONBLOCK` (a FIFO without a writer
//! does not block), refused unless it is a regular file, and read up to a stated limit.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, FcntlArg, OFlag, AT_FDCWD};
use nix::sys::stat::{self, FileStat, Mode, SFlag};
use nix::unistd::{self, UnlinkatFlags};

use crate::error::{Error, Result};

/// Mode of every file memlink creates: process memory and maps are for their owner only.
const PRIVATE: u32 = 0o600;
/// Names tried before giving up on an unused temporary name.
const NAME_TRIES: usize = 16;

/// An output being written: a new file not yet in place, or an existing stream.
///
/// Write to it (it implements [`Write`]), then [`commit`](OutFile::commit). Dropping it
/// without committing removes the temporary file, leaving the destination as it was.
#[derive(Debug)]
pub struct OutFile {
    path: PathBuf,
    file: File,
    target: Target,
}

#[derive(Debug)]
enum Target {
    /// A new file; it reaches the destination at commit.
    New {
        dir: OwnedFd,
        name: OsString,
        force: bool,
        temp: Temp,
    },
    /// An existing pipe, FIFO, terminal, character device or standard output.
    Stream,
}

#[derive(Debug)]
enum Temp {
    /// `O_TMPFILE`: no name until linked.
    Unnamed,
    /// A name beside the destination, created with `O_EXCL`; `None` once moved away.
    Named(Option<OsString>),
}

impl OutFile {
    /// Opens `path` for writing (`-` is standard output). An existing regular file, or any
    /// entry that is not a stream memlink may write as it is, is refused unless `force`, and
    /// then replaced at [`commit`](OutFile::commit), never modified.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the destination exists and `force` is not set;
    /// [`Error::FileRefused`] for a directory, block device, socket or a FIFO without reader;
    /// [`Error::File`] for I/O errors, naming `path`.
    pub fn create(path: &Path, force: bool) -> Result<OutFile> {
        OutFile::create_in(path, force, true)
    }

    /// [`create`](OutFile::create), with `unnamed` false to skip `O_TMPFILE` (as on a
    /// filesystem without it).
    fn create_in(path: &Path, force: bool, unnamed: bool) -> Result<OutFile> {
        if path.as_os_str() == "-" {
            let fd = unistd::dup(io::stdout().as_fd()).map_err(|e| file_err(path, e))?;
            return Ok(OutFile {
                path: path.to_path_buf(),
                file: File::from(fd),
                target: Target::Stream,
            });
        }
        let (parent, name) = split(path)?;
        let dir = open_dir(parent).map_err(|e| file_err(path, e))?;
        let existing = match stat::fstatat(&dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Some(st),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(file_err(path, e)),
        };
        if let Some(st) = existing {
            if let Some(file) = open_stream(path, &dir, parent, name, &st)? {
                return Ok(OutFile {
                    path: path.to_path_buf(),
                    file,
                    target: Target::Stream,
                });
            }
            if !force {
                return Err(already_exists(path));
            }
        }
        let (file, temp) = create_temp(&dir, name, unnamed).map_err(|e| file_err(path, e))?;
        Ok(OutFile {
            path: path.to_path_buf(),
            file,
            target: Target::New {
                dir,
                name: name.to_os_string(),
                force,
                temp,
            },
        })
    }

    /// The path the caller gave (what errors name).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when this is a new file memlink created (it may seek, leave holes and set its
    /// length); false for an existing stream, which is only ever written in order.
    pub fn is_new_file(&self) -> bool {
        matches!(self.target, Target::New { .. })
    }

    /// The open file, for callers that seek or hand it to another thread.
    pub fn file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// Makes the output final: a new file is `fsync`ed and moved to the destination (refused
    /// if one appeared meanwhile, unless `force`); a stream needs nothing.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when the destination appeared and `force` is not set;
    /// [`Error::File`] naming the destination for I/O errors. The temporary file is removed.
    pub fn commit(mut self) -> Result<()> {
        let path = self.path.clone();
        let Target::New {
            dir,
            name,
            force,
            temp,
        } = &mut self.target
        else {
            return Ok(());
        };
        self.file.sync_all().map_err(|e| Error::File {
            path: path.clone(),
            source: e,
        })?;
        match temp {
            Temp::Named(slot) => {
                let Some(tmp) = slot.clone() else {
                    return Ok(());
                };
                rename(dir, &tmp, name, *force).map_err(|e| place_err(&path, e))?;
                *slot = None;
            }
            Temp::Unnamed => {
                if *force {
                    // Link under a fresh name, then rename over whatever is there.
                    let tmp = link_unnamed_somewhere(&self.file, dir, name)
                        .map_err(|e| file_err(&path, e))?;
                    *temp = Temp::Named(Some(tmp.clone()));
                    rename(dir, &tmp, name, true).map_err(|e| place_err(&path, e))?;
                    *temp = Temp::Named(None);
                } else {
                    link_unnamed(&self.file, dir, name).map_err(|e| place_err(&path, e))?;
                    *temp = Temp::Named(None);
                }
            }
        }
        // The new name should survive a crash too; a directory that cannot be synced
        // (opened O_PATH) is not an error.
        let _ = unistd::fsync(&*dir);
        Ok(())
    }
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for OutFile {
    fn drop(&mut self) {
        if let Target::New {
            dir,
            temp: Temp::Named(Some(tmp)),
            ..
        } = &self.target
        {
            remove_if_ours(dir, tmp, &self.file);
        }
    }
}

/// Writes `bytes` to `path` as one atomic replacement: readers see the old file or the new one,
/// never half of it. Without `force` an existing destination is refused. An existing stream
/// (FIFO, character device, `-`) is written as it is.
///
/// # Errors
/// As [`OutFile::create`] and [`OutFile::commit`]; errors name `path`.
pub fn write_atomic(path: &Path, bytes: &[u8], force: bool) -> Result<()> {
    let mut out = OutFile::create(path, force)?;
    out.write_all(bytes).map_err(|source| Error::File {
        path: path.to_path_buf(),
        source,
    })?;
    out.commit()
}

/// Creates `path` at once and returns it for writing: a new empty file (mode 0600) moved into
/// place before any data is written, or an existing stream. Prefer [`OutFile`], which only
/// replaces the destination once the data is complete.
///
/// # Errors
/// As [`OutFile::create`] and [`OutFile::commit`].
pub fn create_placed(path: &Path, force: bool) -> Result<File> {
    let out = OutFile::create(path, force)?;
    let file = out.file.try_clone().map_err(|source| Error::File {
        path: path.to_path_buf(),
        source,
    })?;
    out.commit()?;
    Ok(file)
}

/// Opens an input file for reading without blocking on a FIFO; anything but a regular file
/// (after following symlinks) is refused.
///
/// # Errors
/// [`Error::FileRefused`] for a FIFO, device, directory or socket; [`Error::File`] otherwise.
pub fn open_input(path: &Path) -> Result<File> {
    let fd = fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| file_err(path, e))?;
    let st = stat::fstat(&fd).map_err(|e| file_err(path, e))?;
    if kind(&st) != SFlag::S_IFREG {
        return Err(Error::FileRefused {
            path: path.to_path_buf(),
            reason: format!("is {}, not a regular file", kind_name(&st)),
        });
    }
    clear_nonblock(&fd).map_err(|e| file_err(path, e))?;
    Ok(File::from(fd))
}

/// Reads a whole input file of at most `limit` bytes (see [`open_input`]).
///
/// # Errors
/// As [`open_input`]; [`Error::FileRefused`] when the file is larger than `limit`.
pub fn read_input(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let f = open_input(path)?;
    let io = |source| Error::File {
        path: path.to_path_buf(),
        source,
    };
    let too_large = || Error::FileRefused {
        path: path.to_path_buf(),
        reason: format!(
            "is larger than {}, the most memlink reads from this file",
            crate::units::format_size(limit)
        ),
    };
    let len = f.metadata().map_err(io)?.len();
    if len > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

fn file_err(path: &Path, e: Errno) -> Error {
    Error::File {
        path: path.to_path_buf(),
        source: io::Error::from(e),
    }
}

fn already_exists(path: &Path) -> Error {
    Error::InvalidArgument(format!(
        "{} already exists (use --force to replace it)",
        path.display()
    ))
}

fn place_err(path: &Path, e: Errno) -> Error {
    if e == Errno::EEXIST {
        already_exists(path)
    } else {
        file_err(path, e)
    }
}

/// The directory and the last component; a path ending in `/`, `.` or `..` names no file.
fn split(path: &Path) -> Result<(&Path, &OsStr)> {
    let bytes = path.as_os_str().as_bytes();
    let name = path.file_name();
    match name {
        Some(n) if !bytes.ends_with(b"/") && !bytes.ends_with(b"/.") && bytes != b"." => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            Ok((parent, n))
        }
        _ => Err(Error::FileRefused {
            path: path.to_path_buf(),
            reason: "does not name a file".into(),
        }),
    }
}

fn open_dir(parent: &Path) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    // Read access lets the directory be synced after the rename; search access is enough
    // for everything else.
    fcntl::open(parent, flags | OFlag::O_RDONLY, Mode::empty())
        .or_else(|_| fcntl::open(parent, flags | OFlag::O_PATH, Mode::empty()))
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits())
}

fn kind_name(st: &FileStat) -> &'static str {
    match kind(st) {
        SFlag::S_IFREG => "a regular file",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFLNK => "a symlink",
        _ => "a special file",
    }
}

/// For an existing entry: the stream to write into as it is, `None` for an entry that is only
/// replaced (a regular file, an untrusted or dangling symlink), or a refusal.
fn open_stream(
    path: &Path,
    dir: &OwnedFd,
    parent: &Path,
    name: &OsStr,
    st: &FileStat,
) -> Result<Option<File>> {
    let refuse = |st: &FileStat| Error::FileRefused {
        path: path.to_path_buf(),
        reason: format!(
            "is {}; memlink writes to regular files, pipes and character devices",
            kind_name(st)
        ),
    };
    // `follow`: open through the (trusted) symlink; `append`: a descriptor open on a regular
    // file (`>> log` behind /dev/stdout) is added to, never written over.
    let (follow, append, target) = match kind(st) {
        SFlag::S_IFREG => return Ok(None),
        SFlag::S_IFIFO | SFlag::S_IFCHR => (false, false, *st),
        SFlag::S_IFLNK => {
            if !trusted_link(dir, st) {
                return Ok(None);
            }
            let Ok(target) = stat::fstatat(dir, name, AtFlags::empty()) else {
                return Ok(None);
            };
            let descriptor = is_descriptor(dir, parent, name);
            match kind(&target) {
                SFlag::S_IFIFO | SFlag::S_IFCHR => (true, false, target),
                SFlag::S_IFREG if descriptor => (true, true, target),
                _ => return Ok(None),
            }
        }
        _ => return Err(refuse(st)),
    };
    let mut flags = OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    if !follow {
        flags |= OFlag::O_NOFOLLOW;
    }
    if append {
        flags |= OFlag::O_APPEND;
    }
    let fd = match fcntl::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENXIO) if kind(&target) == SFlag::S_IFIFO => {
            return Err(Error::FileRefused {
                path: path.to_path_buf(),
                reason: "no process has this FIFO open for reading".into(),
            })
        }
        Err(e) => return Err(file_err(path, e)),
    };
    let got = stat::fstat(&fd).map_err(|e| file_err(path, e))?;
    if (got.st_dev, got.st_ino) != (target.st_dev, target.st_ino) {
        return Err(Error::FileRefused {
            path: path.to_path_buf(),
            reason: "changed while memlink was opening it".into(),
        });
    }
    clear_nonblock(&fd).map_err(|e| file_err(path, e))?;
    Ok(Some(File::from(fd)))
}

/// A symlink nobody else can have planted or swapped: owned by root or us, in a directory
/// owned by root or us that others cannot write (or that is sticky).
fn trusted_link(dir: &OwnedFd, link: &FileStat) -> bool {
    let me = unistd::geteuid().as_raw();
    let ours = |uid: u32| uid == 0 || uid == me;
    let Ok(d) = stat::fstat(dir) else {
        return false;
    };
    let dir_safe = d.st_mode & 0o022 == 0 || d.st_mode & 0o1000 != 0;
    ours(link.st_uid) && ours(d.st_uid) && dir_safe
}

/// True for `/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N` and the like: a descriptor memlink
/// was handed, written as it is whatever it is open on.
fn is_descriptor(dir: &OwnedFd, parent: &Path, name: &OsStr) -> bool {
    let in_fd_dir = std::fs::canonicalize(parent).is_ok_and(|p| {
        let mut c = p.components().map(|c| c.as_os_str().to_os_string());
        c.next().is_some_and(|r| r == "/")
            && c.next().is_some_and(|p| p == "proc")
            && c.next().is_some()
            && c.next().is_some_and(|f| f == "fd")
            && c.next().is_none()
    });
    let to_proc_fd = fcntl::readlinkat(dir, name).is_ok_and(|t| {
        let t = t.as_bytes();
        t.starts_with(b"/proc/") && t.windows(4).any(|w| w == b"/fd/")
    });
    in_fd_dir || to_proc_fd
}

fn clear_nonblock(fd: &OwnedFd) -> nix::Result<()> {
    let flags = OFlag::from_bits_truncate(fcntl::fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl::fcntl(fd, FcntlArg::F_SETFL(flags - OFlag::O_NONBLOCK))?;
    Ok(())
}

/// An unpredictable hidden name beside `name`, short enough for any filesystem.
fn temp_name(name: &OsStr) -> OsString {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    let stem = &name.as_bytes()[..name.len().min(200)];
    let mut out = b".".to_vec();
    out.extend_from_slice(stem);
    out.extend_from_slice(format!(".memlink-{:016x}", h.finish()).as_bytes());
    OsString::from_vec(out)
}

/// Creates the new file: unnamed where the filesystem allows it, else under a fresh name.
fn create_temp(dir: &OwnedFd, name: &OsStr, unnamed: bool) -> nix::Result<(File, Temp)> {
    let mode = Mode::from_bits_truncate(PRIVATE);
    let base = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
    // Linking an unnamed file goes through /proc/self/fd.
    if unnamed && Path::new("/proc/self/fd").is_dir() {
        if let Ok(fd) = fcntl::openat(dir, ".", base | OFlag::O_TMPFILE, mode) {
            stat::fchmod(&fd, mode)?;
            return Ok((File::from(fd), Temp::Unnamed));
        }
    }
    let flags = base | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
    let mut last = Errno::EEXIST;
    for _ in 0..NAME_TRIES {
        let tmp = temp_name(name);
        match fcntl::openat(dir, tmp.as_os_str(), flags, mode) {
            Ok(fd) => {
                let file = File::from(fd);
                // The umask may have narrowed the mode; this inode is ours to set.
                if let Err(e) = stat::fchmod(&file, mode) {
                    remove_if_ours(dir, &tmp, &file);
                    return Err(e);
                }
                return Ok((file, Temp::Named(Some(tmp))));
            }
            Err(Errno::EEXIST) => last = Errno::EEXIST,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

fn proc_fd(file: &File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

fn link_unnamed(file: &File, dir: &OwnedFd, name: &OsStr) -> nix::Result<()> {
    unistd::linkat(
        AT_FDCWD,
        &proc_fd(file),
        dir,
        name,
        AtFlags::AT_SYMLINK_FOLLOW,
    )
}

fn link_unnamed_somewhere(file: &File, dir: &OwnedFd, name: &OsStr) -> nix::Result<OsString> {
    for _ in 0..NAME_TRIES {
        let tmp = temp_name(name);
        match link_unnamed(file, dir, &tmp) {
            Ok(()) => return Ok(tmp),
            Err(Errno::EEXIST) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Errno::EEXIST)
}

/// Moves `tmp` to `name`; without `force` an existing `name` is `EEXIST`, even one created a
/// moment ago.
fn rename(dir: &OwnedFd, tmp: &OsStr, name: &OsStr, force: bool) -> nix::Result<()> {
    if force {
        return fcntl::renameat(dir, tmp, dir, name);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    match fcntl::renameat2(dir, tmp, dir, name, fcntl::RenameFlags::RENAME_NOREPLACE) {
        Err(Errno::EINVAL) | Err(Errno::ENOSYS) => {}
        other => return other,
    }
    // Filesystems without RENAME_NOREPLACE: a hard link also refuses an existing name.
    unistd::linkat(dir, tmp, dir, name, AtFlags::empty())?;
    let _ = unistd::unlinkat(dir, tmp, UnlinkatFlags::NoRemoveDir);
    Ok(())
}

/// Removes `tmp` only while it is still the file memlink created.
fn remove_if_ours(dir: &OwnedFd, tmp: &OsStr, file: &File) {
    let (Ok(entry), Ok(ours)) = (
        stat::fstatat(dir, tmp, AtFlags::AT_SYMLINK_NOFOLLOW),
        stat::fstat(file),
    ) else {
        return;
    };
    if (entry.st_dev, entry.st_ino) == (ours.st_dev, ours.st_ino) {
        if let Err(e) = unistd::unlinkat(dir, tmp, UnlinkatFlags::NoRemoveDir) {
            log::warn!("cannot remove temporary file {:?}: {e}", tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct Dir(PathBuf);

    impl Dir {
        fn new(tag: &str) -> Dir {
            let p =
                std::env::temp_dir().join(format!("memlink-files-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir(&p).unwrap();
            Dir(p)
        }

        fn names(&self) -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn both_kinds_of_new_file_commit_0600_and_leave_nothing_else() {
        for unnamed in [false, true] {
            let d = Dir::new(&format!("commit-{unnamed}"));
            let p = d.0.join("out");
            let mut o = OutFile::create_in(&p, false, unnamed).unwrap();
            assert!(o.is_new_file());
            o.write_all(b"data").unwrap();
            assert!(!p.exists(), "not in place before commit");
            o.commit().unwrap();
            assert_eq!(std::fs::read(&p).unwrap(), b"data");
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            assert_eq!(mode & 0o7777, 0o600);
            assert_eq!(d.names(), ["out"]);
        }
    }

    #[test]
    fn a_destination_that_appears_meanwhile_is_refused_without_force() {
        for unnamed in [false, true] {
            let d = Dir::new(&format!("race-{unnamed}"));
            let p = d.0.join("out");
            let mut o = OutFile::create_in(&p, false, unnamed).unwrap();
            o.write_all(b"new").unwrap();
            std::fs::write(&p, b"theirs").unwrap();
            let e = o.commit().unwrap_err().to_string();
            assert!(e.contains("already exists"), "{e}");
            assert!(!e.contains(".memlink-"), "names the destination: {e}");
            assert_eq!(std::fs::read(&p).unwrap(), b"theirs");
            assert_eq!(d.names(), ["out"], "temporary file removed");
        }
    }

    #[test]
    fn force_replaces_the_entry_and_dropping_leaves_the_old_one() {
        for unnamed in [false, true] {
            let d = Dir::new(&format!("force-{unnamed}"));
            let target = d.0.join("target");
            std::fs::write(&target, b"keep").unwrap();
            let p = d.0.join("out");
            std::os::unix::fs::symlink(&target, &p).unwrap();
            // Dropped without commit: nothing changes.
            let mut o = OutFile::create_in(&p, true, unnamed).unwrap();
            o.write_all(b"half").unwrap();
            drop(o);
            assert_eq!(d.names(), ["out", "target"]);
            assert!(std::fs::symlink_metadata(&p).unwrap().is_symlink());
            let mut o = OutFile::create_in(&p, true, unnamed).unwrap();
            o.write_all(b"new").unwrap();
            o.commit().unwrap();
            assert!(std::fs::symlink_metadata(&p).unwrap().is_file());
            assert_eq!(std::fs::read(&p).unwrap(), b"new");
            assert_eq!(std::fs::read(&target).unwrap(), b"keep");
            assert_eq!(d.names(), ["out", "target"]);
        }
    }

    #[test]
    fn inputs_are_capped() {
        let d = Dir::new("cap");
        let p = d.0.join("in");
        std::fs::write(&p, b"12345").unwrap();
        assert_eq!(read_input(&p, 5).unwrap(), b"12345");
        let e = read_input(&p, 4).unwrap_err().to_string();
        assert!(e.contains("is larger than"), "{e}");
    }

    #[test]
    fn temp_names_differ_and_stay_short() {
        let long = OsString::from("x".repeat(255));
        let (a, b) = (temp_name(&long), temp_name(&long));
        assert_ne!(a, b);
        assert!(a.len() <= 255, "{}", a.len());
        assert!(temp_name(OsStr::new("out.bin"))
            .to_string_lossy()
            .starts_with(".out.bin.memlink-"));
    }

    #[test]
    fn split_refuses_paths_without_a_file_name() {
        for p in ["/", "dir/", ".", "..", "a/..", "a/."] {
            assert!(split(Path::new(p)).is_err(), "{p}");
        }
        assert_eq!(
            split(Path::new("out.bin")).unwrap(),
            (Path::new("."), OsStr::new("out.bin"))
        );
        assert_eq!(
            split(Path::new("/tmp/x")).unwrap(),
            (Path::new("/tmp"), OsStr::new("x"))
        );
    }
}
