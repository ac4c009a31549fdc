//! The memory model: [`MemoryRegion`] and its [`RegionType`] with the [`TypeReason`] behind it,
//! and the views, classification, summaries and JSON built on it.

pub mod classify;
pub mod json;
pub mod stats;
pub mod view;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use crate::proc::vocab::{Device, Perms, Usage, VmFlag};

/// What kind of memory a region is. The variant names are the JSON spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RegionType {
    /// The `[heap]` grown by `brk`.
    Heap,
    /// The main thread's stack (`[stack]`).
    Stack,
    /// Another thread's stack.
    ThreadStack,
    /// A file mapping with execute permission.
    Code,
    /// Any other file mapping, shared or private.
    MappedFile,
    /// Shared memory: shared anonymous memory, `/dev/shm`, memfd, SysV segments.
    SharedMemory,
    /// Private anonymous memory.
    Private,
    /// Kernel-provided pages: `[vdso]`, `[vvar]`, `[vvar_vclock]`, `[vsyscall]` and others.
    Kernel,
    /// A small inaccessible region next to a stack or heap.
    Guard,
    /// Any other inaccessible region: address space reserved by JITs, allocators and runtimes,
    /// and the small guards they put between their own regions.
    Reserved,
}

impl RegionType {
    /// Every type, in display order.
    pub const ALL: [RegionType; 10] = [
        RegionType::Heap,
        RegionType::Stack,
        RegionType::ThreadStack,
        RegionType::Code,
        RegionType::MappedFile,
        RegionType::SharedMemory,
        RegionType::Private,
        RegionType::Kernel,
        RegionType::Guard,
        RegionType::Reserved,
    ];

    /// The name used in text and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            RegionType::Heap => "Heap",
            RegionType::Stack => "Stack",
            RegionType::ThreadStack => "ThreadStack",
            RegionType::Code => "Code",
            RegionType::MappedFile => "MappedFile",
            RegionType::SharedMemory => "SharedMemory",
            RegionType::Private => "Private",
            RegionType::Kernel => "Kernel",
            RegionType::Guard => "Guard",
            RegionType::Reserved => "Reserved",
        }
    }

    /// Parses a type name, case-insensitively, accepting a few common aliases
    /// (`code`, `stack`, `thread-stack`, `shm`, `anon`, `file`).
    pub fn from_name(s: &str) -> Option<RegionType> {
        let k: String = s
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match k.as_str() {
            "heap" => RegionType::Heap,
            "stack" => RegionType::Stack,
            "threadstack" | "threadstacks" => RegionType::ThreadStack,
            "code" | "exec" => RegionType::Code,
            "mappedfile" | "file" => RegionType::MappedFile,
            "sharedmemory" | "shm" | "shared" => RegionType::SharedMemory,
            "private" | "anon" | "anonymous" => RegionType::Private,
            "kernel" => RegionType::Kernel,
            "guard" => RegionType::Guard,
            "reserved" => RegionType::Reserved,
            _ => return None,
        })
    }
}

impl fmt::Display for RegionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// What kind of shared memory a file-backed shared region is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ShmKind {
    /// `memfd_create` (`/memfd:NAME (deleted)`).
    Memfd,
    /// A memfd created by `memlink link` (named `memlink-link:...`).
    MemlinkLink,
    /// A System V segment (`/SYSV%08x`).
    SysV,
    /// POSIX shared memory (`/dev/shm/...`).
    Posix,
    /// `MAP_SHARED|MAP_ANONYMOUS` (shown as `/dev/zero (deleted)` or no path).
    Anonymous,
    /// A named shared anonymous region (`[anon_shmem:NAME]`).
    NamedAnonymous,
}

/// Why a region got its type: shown by `--detailed` and in JSON as `type_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeReason {
    /// The kernel names it `[heap]`.
    HeapName,
    /// The kernel names it `[stack]`.
    StackName,
    /// An old kernel names it `[stack:TID]`.
    StackTidName(u32),
    /// It holds the stack pointer the kernel reports for this blocked thread.
    ThreadStackPointer(u32),
    /// A thread stack as glibc allocates it (`MAP_STACK`, so `nh` in `VmFlags` on Linux 6.7+,
    /// with a guard below), holding no stack pointer that could be read, in a process with at
    /// least as many threads whose stack pointer could not be read as there are such regions.
    ThreadStackLayout,
    /// A glibc thread stack (as for [`ThreadStackLayout`](Self::ThreadStackLayout)) while every
    /// thread's stack pointer was read and lies elsewhere: glibc keeps the stacks of exited
    /// threads for reuse.
    CachedThreadStack,
    /// A glibc thread stack holding no stack pointer that could be read, in a process with more
    /// such regions than threads whose stack pointer could not be read: which of them belong to
    /// live threads and which are cached stacks of exited threads is not known.
    UnattributedThreadStack,
    /// A writable anonymous region directly above an inaccessible one, like a glibc thread
    /// stack, but without the `nh` flag that `MAP_STACK` sets: an allocator's or a runtime's.
    GuardedNotStack,
    /// A kernel pseudo-path in brackets (`[vdso]`, `[vvar]`...).
    KernelPseudoPath,
    /// A file mapping with execute permission.
    ExecutableFile,
    /// A file mapping without execute permission.
    FileMapping,
    /// An executable file mapping whose name ends in ` (deleted)`, where it could not be
    /// checked whether the kernel added that suffix (the file was deleted) or the name has it.
    ExecutableFileDeletedUnknown,
    /// A file mapping without execute permission whose name ends in ` (deleted)`, where it
    /// could not be checked whether the file was deleted.
    FileMappingDeletedUnknown,
    /// A kernel object mapped through an anonymous inode (`anon_inode:...`).
    AnonInode,
    /// Shared memory of the given kind.
    Shared(ShmKind),
    /// Private anonymous memory.
    PrivateAnonymous,
    /// Private anonymous memory named by `PR_SET_VMA_ANON_NAME` (`[anon:NAME]`).
    NamedAnonymous,
    /// Inaccessible, directly below a stack.
    GuardBelowStack,
    /// Inaccessible, directly next to the heap.
    GuardNextToHeap,
    /// Inaccessible and small, but not next to a stack or the heap.
    SmallInaccessible,
    /// Inaccessible and large: address space reserved for later use.
    LargeInaccessible,
}

impl TypeReason {
    /// The text of reasons that carry no number, without formatting.
    pub fn as_static_str(&self) -> Option<&'static str> {
        Some(match self {
            TypeReason::HeapName => "kernel names it [heap]",
            TypeReason::StackName => "kernel names it [stack] (main thread)",
            TypeReason::StackTidName(_) | TypeReason::ThreadStackPointer(_) => return None,
            TypeReason::ThreadStackLayout => THREAD_STACK_LAYOUT,
            TypeReason::CachedThreadStack => {
                "cached stack of an exited thread (glibc layout; every thread's stack pointer \
                 lies elsewhere)"
            }
            TypeReason::UnattributedThreadStack => {
                "glibc thread stack layout, but more such regions than threads whose stack \
                 pointer could not be read: a running thread's stack not identified (or a \
                 cached stack of an exited thread)"
            }
            TypeReason::GuardedNotStack => {
                "private anonymous memory above an inaccessible region, without the MAP_STACK \
                 flag (nh): not a thread stack"
            }
            TypeReason::KernelPseudoPath => "kernel pseudo-path",
            TypeReason::ExecutableFile => "executable file mapping",
            TypeReason::FileMapping => "file mapping without execute permission",
            TypeReason::ExecutableFileDeletedUnknown => {
                "executable file mapping; deleted or not is unknown (the name ends in \
                 \" (deleted)\" and map_files could not be checked)"
            }
            TypeReason::FileMappingDeletedUnknown => {
                "file mapping without execute permission; deleted or not is unknown (the name \
                 ends in \" (deleted)\" and map_files could not be checked)"
            }
            TypeReason::AnonInode => "kernel object mapped through an anonymous inode",
            TypeReason::Shared(k) => match k {
                ShmKind::Memfd => "memfd (memfd_create)",
                ShmKind::MemlinkLink => "memlink link (memfd named memlink-link:)",
                ShmKind::SysV => "System V shared memory segment",
                ShmKind::Posix => "POSIX shared memory (/dev/shm)",
                ShmKind::Anonymous => "shared anonymous memory",
                ShmKind::NamedAnonymous => "named shared anonymous memory",
            },
            TypeReason::PrivateAnonymous => "private anonymous memory",
            TypeReason::NamedAnonymous => "named private anonymous memory",
            TypeReason::GuardBelowStack => "inaccessible page(s) directly below a stack",
            TypeReason::GuardNextToHeap => "inaccessible page(s) next to the heap",
            TypeReason::SmallInaccessible => {
                "small inaccessible anonymous region (no stack or heap next to it)"
            }
            TypeReason::LargeInaccessible => {
                "large inaccessible anonymous region (address space reservation)"
            }
        })
    }
}

/// The text of [`TypeReason::ThreadStackLayout`].
const THREAD_STACK_LAYOUT: &str = "glibc thread stack layout (MAP_STACK flag nh, a guard at \
     its low end) of a thread whose stack pointer could not be read (running)";

/// Texts that earlier versions wrote, still read from snapshots.
const OLD_TEXTS: [(&str, TypeReason); 1] = [(
    "writable anonymous region above a guard page (pthread stack layout)",
    TypeReason::ThreadStackLayout,
)];

impl TypeReason {
    /// True when the region's file name ends in ` (deleted)` and it could not be checked
    /// whether the file was deleted: JSON then says `"deleted": null`.
    pub fn deleted_unknown(&self) -> bool {
        matches!(
            self,
            TypeReason::ExecutableFileDeletedUnknown | TypeReason::FileMappingDeletedUnknown
        )
    }
}

impl fmt::Display for TypeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.as_static_str() {
            return f.write_str(s);
        }
        match self {
            TypeReason::StackTidName(t) => write!(f, "kernel names it [stack:{t}]"),
            TypeReason::ThreadStackPointer(t) => {
                write!(
                    f,
                    "holds the stack pointer of thread {t} (task/{t}/syscall)"
                )
            }
            _ => Ok(()),
        }
    }
}

impl Serialize for TypeReason {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One memory region (one VMA) of a process.
///
/// The first six fields are the original API; the rest add what `/proc/PID/maps` and `smaps`
/// say. `state` is `"active"` for every region on Linux, where every listed region is mapped
/// (the field exists for platforms that also report reserved or free address ranges).
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryRegion {
    /// First address.
    pub base_address: usize,
    /// Size in bytes.
    pub size: usize,
    /// Permissions as the kernel prints them (`rw-p`).
    pub protection: String,
    /// What kind of memory this is.
    pub region_type: RegionType,
    /// `"active"` on Linux.
    pub state: String,
    /// The mapped file's path for file-backed regions (also memfd, SysV and deleted files), with
    /// bytes that are not UTF-8 written as `\xNN` escapes. Exact bytes are in [`path`](Self::path).
    pub mapped_file: Option<String>,
    /// Permissions as flags.
    pub perms: Perms,
    /// Offset into the file (or page offset for anonymous memory).
    pub offset: u64,
    /// Device of the mapped file.
    pub device: Device,
    /// Inode of the mapped file (0 for anonymous memory).
    pub inode: u64,
    /// The exact path bytes, without the ` (deleted)` suffix. `None` for anonymous memory and
    /// kernel pseudo-paths.
    pub path: Option<PathBuf>,
    /// The kernel's pseudo-name, such as `[heap]`, `[vdso]` or `[anon:NAME]`.
    pub name: Option<String>,
    /// The file was deleted after it was mapped (the kernel's ` (deleted)` suffix, checked
    /// against the file's link count where `/proc/PID/map_files` allows). When it could not be
    /// checked this is the likely reading, `true`, and
    /// [`TypeReason::deleted_unknown`] says so.
    pub deleted: bool,
    /// Why the region got its type.
    pub type_reason: TypeReason,
    /// Figures from `smaps`, when detailed figures were asked for.
    pub usage: Option<Usage>,
    /// `VmFlags` from `smaps`, when detailed figures were asked for.
    pub vm_flags: Option<Vec<VmFlag>>,
}

impl MemoryRegion {
    /// One past the last address.
    pub fn end_address(&self) -> usize {
        self.base_address + self.size
    }

    /// True when `addr` lies inside the region.
    pub fn contains(&self, addr: usize) -> bool {
        addr >= self.base_address && addr < self.end_address()
    }

    /// True for a file-backed region (including memfd, SysV and deleted files).
    pub fn is_file_backed(&self) -> bool {
        self.path.is_some()
    }

    /// True when the region has the given `VmFlags` entry (false when flags were not read).
    pub fn has_vm_flag(&self, flag: &[u8; 2]) -> bool {
        self.vm_flags
            .as_ref()
            .is_some_and(|f| f.iter().any(|v| &v.0 == flag))
    }

    /// The path or pseudo-name to show next to the region (empty for anonymous memory).
    pub fn display_name(&self) -> String {
        match (&self.mapped_file, &self.name) {
            (Some(p), _) if self.deleted => format!("{p} (deleted)"),
            (Some(p), _) => p.clone(),
            (None, Some(n)) => n.clone(),
            (None, None) => String::new(),
        }
    }
}

/// Writes path bytes as a string in which bytes that are not UTF-8 appear as `\xNN` escapes.
///
/// Valid UTF-8 (including any backslash) is copied unchanged, so ordinary paths read as they are.
pub fn escape_path(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    push_escaped_path(&mut out, bytes);
    // Valid UTF-8 was copied and the escapes are ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the [`escape_path`] form of `bytes` to `out`.
pub(crate) fn push_escaped_path(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for chunk in bytes.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        for &b in chunk.invalid() {
            out.extend_from_slice(&[b'\\', b'x', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
        }
    }
}

/// The JSON form of a region: the original fields (`base_address`, `size`, `protection`,
/// `region_type`, `state`, `mapped_file`), then `address_hex` (addresses above 2^53 lose
/// precision as JSON numbers in JavaScript), `end_address_hex`, `name`, `perms`-derived facts,
/// and, when read, `usage` (bytes) and `vm_flags`.
impl Serialize for MemoryRegion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let detailed = self.usage.is_some() as usize + self.vm_flags.is_some() as usize;
        let mut st = s.serialize_struct("MemoryRegion", 14 + detailed)?;
        st.serialize_field("base_address", &self.base_address)?;
        st.serialize_field("size", &self.size)?;
        st.serialize_field("protection", &self.protection)?;
        st.serialize_field("region_type", &self.region_type)?;
        st.serialize_field("state", &self.state)?;
        st.serialize_field("mapped_file", &self.mapped_file)?;
        st.serialize_field("address_hex", &HexAddr(self.base_address as u64))?;
        st.serialize_field("end_address_hex", &HexAddr(self.end_address() as u64))?;
        st.serialize_field("name", &self.name)?;
        st.serialize_field("offset", &self.offset)?;
        st.serialize_field("device", &self.device)?;
        st.serialize_field("inode", &self.inode)?;
        st.serialize_field(
            "deleted",
            &(!self.type_reason.deleted_unknown()).then_some(self.deleted),
        )?;
        st.serialize_field("type_reason", &self.type_reason)?;
        if let Some(u) = &self.usage {
            st.serialize_field("usage", &RegionUsage(u))?;
        }
        if let Some(f) = &self.vm_flags {
            st.serialize_field("vm_flags", f)?;
        }
        st.end()
    }
}

/// A region's [`Usage`] as JSON: the figures of `smaps`, with `pss_anon`, `pss_file` and
/// `pss_shmem` `null`, because the kernel reports them only in `smaps_rollup`, never per region.
struct RegionUsage<'a>(&'a Usage);

impl Serialize for RegionUsage<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let u = self.0;
        let mut st = s.serialize_struct("Usage", 26)?;
        st.serialize_field("rss", &u.rss)?;
        st.serialize_field("pss", &u.pss)?;
        st.serialize_field("pss_dirty", &u.pss_dirty)?;
        st.serialize_field("pss_anon", &None::<u64>)?;
        st.serialize_field("pss_file", &None::<u64>)?;
        st.serialize_field("pss_shmem", &None::<u64>)?;
        st.serialize_field("shared_clean", &u.shared_clean)?;
        st.serialize_field("shared_dirty", &u.shared_dirty)?;
        st.serialize_field("private_clean", &u.private_clean)?;
        st.serialize_field("private_dirty", &u.private_dirty)?;
        st.serialize_field("referenced", &u.referenced)?;
        st.serialize_field("anonymous", &u.anonymous)?;
        st.serialize_field("ksm", &u.ksm)?;
        st.serialize_field("lazy_free", &u.lazy_free)?;
        st.serialize_field("anon_huge_pages", &u.anon_huge_pages)?;
        st.serialize_field("shmem_pmd_mapped", &u.shmem_pmd_mapped)?;
        st.serialize_field("file_pmd_mapped", &u.file_pmd_mapped)?;
        st.serialize_field("shared_hugetlb", &u.shared_hugetlb)?;
        st.serialize_field("private_hugetlb", &u.private_hugetlb)?;
        st.serialize_field("swap", &u.swap)?;
        st.serialize_field("swap_pss", &u.swap_pss)?;
        st.serialize_field("locked", &u.locked)?;
        st.serialize_field("kernel_page_size", &u.kernel_page_size)?;
        st.serialize_field("mmu_page_size", &u.mmu_page_size)?;
        st.serialize_field("thp_eligible", &u.thp_eligible)?;
        st.serialize_field("protection_key", &u.protection_key)?;
        st.end()
    }
}

/// Reads a region's usage, where `pss_anon`, `pss_file` and `pss_shmem` are `null` (and, in
/// snapshots written before that, 0).
fn region_usage<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Usage>, D::Error> {
    let v: Option<serde_json::Map<String, serde_json::Value>> = Option::deserialize(d)?;
    let Some(mut m) = v else {
        return Ok(None);
    };
    for k in ["pss_anon", "pss_file", "pss_shmem"] {
        m.remove(k);
    }
    serde_json::from_value(serde_json::Value::Object(m))
        .map(Some)
        .map_err(serde::de::Error::custom)
}

/// An address serialized as a `0x`-prefixed hex string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HexAddr(pub u64);

impl fmt::Display for HexAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl Serialize for HexAddr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl TypeReason {
    const FIXED: [TypeReason; 23] = [
        TypeReason::HeapName,
        TypeReason::StackName,
        TypeReason::ThreadStackLayout,
        TypeReason::CachedThreadStack,
        TypeReason::UnattributedThreadStack,
        TypeReason::GuardedNotStack,
        TypeReason::KernelPseudoPath,
        TypeReason::ExecutableFile,
        TypeReason::FileMapping,
        TypeReason::ExecutableFileDeletedUnknown,
        TypeReason::FileMappingDeletedUnknown,
        TypeReason::AnonInode,
        TypeReason::Shared(ShmKind::Memfd),
        TypeReason::Shared(ShmKind::MemlinkLink),
        TypeReason::Shared(ShmKind::SysV),
        TypeReason::Shared(ShmKind::Posix),
        TypeReason::Shared(ShmKind::Anonymous),
        TypeReason::Shared(ShmKind::NamedAnonymous),
        TypeReason::PrivateAnonymous,
        TypeReason::NamedAnonymous,
        TypeReason::GuardBelowStack,
        TypeReason::GuardNextToHeap,
        TypeReason::SmallInaccessible,
    ];

    /// Parses the text that [`Display`](fmt::Display) writes (as stored in snapshots).
    pub fn parse(s: &str) -> Option<TypeReason> {
        if let Some(r) = Self::FIXED
            .iter()
            .chain([TypeReason::LargeInaccessible].iter())
            .find(|r| r.to_string() == s)
        {
            return Some(*r);
        }
        if let Some((_, r)) = OLD_TEXTS.iter().find(|(t, _)| *t == s) {
            return Some(*r);
        }
        let num = |p: &str, suffix: &str| -> Option<u32> {
            s.strip_prefix(p)?.split(suffix).next()?.parse().ok()
        };
        if let Some(t) = num("holds the stack pointer of thread ", " ") {
            return Some(TypeReason::ThreadStackPointer(t));
        }
        num("kernel names it [stack:", "]").map(TypeReason::StackTidName)
    }
}

impl<'de> Deserialize<'de> for TypeReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        TypeReason::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown type_reason {s:?}")))
    }
}

/// Reverses [`escape_path`]: `\xNN` escapes become the bytes they stand for.
pub fn unescape_path(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1] == b'x' {
            if let Some(v) = std::str::from_utf8(&b[i + 2..i + 4])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The serialized form of a region, for reading it back.
#[derive(Deserialize)]
struct RegionRecord {
    base_address: usize,
    size: usize,
    protection: String,
    region_type: RegionType,
    state: String,
    mapped_file: Option<String>,
    name: Option<String>,
    #[serde(default)]
    offset: u64,
    #[serde(default)]
    device: Device,
    #[serde(default)]
    inode: u64,
    /// `null` when it could not be checked (see [`TypeReason::deleted_unknown`]).
    #[serde(default)]
    deleted: Option<bool>,
    type_reason: TypeReason,
    #[serde(default, deserialize_with = "region_usage")]
    usage: Option<Usage>,
    vm_flags: Option<Vec<VmFlag>>,
}

impl<'de> Deserialize<'de> for MemoryRegion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use std::os::unix::ffi::OsStringExt;
        let r = RegionRecord::deserialize(d)?;
        let perms = Perms::parse(r.protection.as_bytes()).ok_or_else(|| {
            serde::de::Error::custom(format!("bad protection {:?}", r.protection))
        })?;
        if r.base_address.checked_add(r.size).is_none() {
            return Err(serde::de::Error::custom(
                "region wraps around the address space",
            ));
        }
        let path = r
            .mapped_file
            .as_deref()
            .map(|p| PathBuf::from(std::ffi::OsString::from_vec(unescape_path(p))));
        Ok(MemoryRegion {
            base_address: r.base_address,
            size: r.size,
            protection: r.protection,
            region_type: r.region_type,
            state: r.state,
            mapped_file: r.mapped_file,
            perms,
            offset: r.offset,
            device: r.device,
            inode: r.inode,
            path,
            name: r.name,
            // Unknown stays the likely reading of the suffix, as the live stream gives it.
            deleted: r.deleted.unwrap_or(r.type_reason.deleted_unknown()),
            type_reason: r.type_reason,
            usage: r.usage,
            vm_flags: r.vm_flags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_text_reads_back() {
        for r in TypeReason::FIXED.iter().copied().chain([
            TypeReason::LargeInaccessible,
            TypeReason::ThreadStackPointer(7),
        ]) {
            assert_eq!(TypeReason::parse(&r.to_string()), Some(r), "{r}");
        }
        // Snapshots written before the layout rule asked for MAP_STACK still load.
        assert_eq!(
            TypeReason::parse(
                "writable anonymous region above a guard page (pthread stack layout)"
            ),
            Some(TypeReason::ThreadStackLayout)
        );
    }
}
