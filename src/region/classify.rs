//! Region classification: turns a parsed `maps`/`smaps` entry into a [`MemoryRegion`] with a
//! [`RegionType`] and the [`TypeReason`] behind it.
//!
//! Most types follow from the path column alone. Thread stacks, guards and reservations need
//! context: the stack pointers of the process's blocked threads ([`ThreadStacks`]) and the
//! neighbouring regions. Classification is pure, so it is tested on captured `/proc` files.

use crate::proc::maps::MapsLine;
use crate::region::view::RegionView;
use crate::region::{MemoryRegion, Perms, RegionType, ShmKind, TypeReason, Usage, VmFlag};

/// An inaccessible region next to a stack or the heap is a guard up to this size.
pub const GUARD_NEXT_TO_STACK_MAX: u64 = 1 << 20;
/// An inaccessible region not next to a stack or heap is still a guard up to this size;
/// above it, it is a reservation.
pub const SMALL_INACCESSIBLE_MAX: u64 = 64 << 10;
/// Prefix of the memfd name that `memlink link` gives its shared memory.
pub const LINK_MEMFD_PREFIX: &[u8] = b"memlink-link:";

/// The stack pointers of a process's threads, as far as they could be read.
#[derive(Debug, Clone, Default)]
pub struct ThreadStacks {
    /// `(stack pointer, tid)`, sorted by stack pointer.
    sps: Vec<(u64, u32)>,
    /// Threads other than the main thread whose stack pointer is unknown (running, or
    /// `task/TID/syscall` unreadable). When non-zero, the pthread layout rule is used too.
    pub unknown: usize,
}

impl ThreadStacks {
    /// Builds the set from `(tid, stack pointer)` pairs and the count of threads without one.
    pub fn new(mut sps: Vec<(u64, u32)>, unknown: usize) -> ThreadStacks {
        sps.sort_unstable();
        ThreadStacks { sps, unknown }
    }

    /// The thread whose stack pointer lies in `[start, end)`, if any.
    pub fn thread_in(&self, start: u64, end: u64) -> Option<u32> {
        let i = self.sps.partition_point(|&(sp, _)| sp < start);
        self.sps
            .get(i)
            .filter(|&&(sp, _)| sp < end)
            .map(|&(_, tid)| tid)
    }
}

/// What the path column says about a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backing<'a> {
    Anonymous,
    Pseudo(&'a [u8]),
    File { path: &'a [u8], deleted: bool },
}

fn backing<'a>(line: &MapsLine<'a>) -> Backing<'a> {
    let p = line.pathname;
    if p.is_empty() {
        Backing::Anonymous
    } else if p[0] == b'[' {
        Backing::Pseudo(p)
    } else {
        let (path, deleted) = line.split_deleted();
        Backing::File { path, deleted }
    }
}

/// True for a private, writable, anonymous mapping: what a stack is made of.
fn is_rw_anon(l: &MapsLine<'_>) -> bool {
    l.pathname.is_empty()
        && l.perms.contains(Perms::READ | Perms::WRITE)
        && !l.perms.contains(Perms::SHARED)
}

fn is_inaccessible_anon(l: &MapsLine<'_>) -> bool {
    l.pathname.is_empty() && l.perms.is_none()
}

fn shm_kind(path: &[u8], deleted: bool, shared: bool) -> Option<ShmKind> {
    if let Some(name) = path.strip_prefix(b"/memfd:") {
        return Some(if name.starts_with(LINK_MEMFD_PREFIX) {
            ShmKind::MemlinkLink
        } else {
            ShmKind::Memfd
        });
    }
    if path.starts_with(b"/SYSV") {
        return Some(ShmKind::SysV);
    }
    if path.starts_with(b"/dev/shm/") {
        return Some(ShmKind::Posix);
    }
    if path == b"/dev/zero" && deleted && shared {
        return Some(ShmKind::Anonymous);
    }
    None
}

/// Classifies regions given the process's thread stacks.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    stacks: ThreadStacks,
}

impl Classifier {
    /// A classifier for a process whose thread stack pointers are `stacks`.
    pub fn new(stacks: ThreadStacks) -> Classifier {
        Classifier { stacks }
    }

    /// Would `l` be classified as a stack (main or thread), judging from itself and the region
    /// just below it?
    fn is_stack(&self, prev: Option<&MapsLine<'_>>, l: &MapsLine<'_>) -> bool {
        if l.pathname == b"[stack]" || l.pathname.starts_with(b"[stack:") {
            return true;
        }
        is_rw_anon(l)
            && (self.stacks.thread_in(l.start, l.end).is_some() || self.layout_stack(prev, l))
    }

    /// The pthread layout rule, used only when some thread's stack pointer is unknown.
    fn layout_stack(&self, prev: Option<&MapsLine<'_>>, l: &MapsLine<'_>) -> bool {
        self.stacks.unknown > 0
            && is_rw_anon(l)
            && prev.is_some_and(|p| {
                is_inaccessible_anon(p)
                    && p.end == l.start
                    && p.end - p.start <= GUARD_NEXT_TO_STACK_MAX
            })
    }

    /// The type of `cur`, and why, given its neighbours in address order.
    pub fn classify(
        &self,
        prev: Option<&MapsLine<'_>>,
        cur: &MapsLine<'_>,
        next: Option<&MapsLine<'_>>,
    ) -> (RegionType, TypeReason) {
        let shared = cur.perms.contains(Perms::SHARED);
        match backing(cur) {
            Backing::Pseudo(name) => {
                if name == b"[heap]" {
                    (RegionType::Heap, TypeReason::HeapName)
                } else if name == b"[stack]" {
                    (RegionType::Stack, TypeReason::StackName)
                } else if let Some(tid) = name
                    .strip_prefix(b"[stack:")
                    .and_then(|t| t.strip_suffix(b"]"))
                    .and_then(crate::proc::parse_dec)
                {
                    (
                        RegionType::ThreadStack,
                        TypeReason::StackTidName(tid as u32),
                    )
                } else if name.starts_with(b"[anon_shmem:") {
                    (
                        RegionType::SharedMemory,
                        TypeReason::Shared(ShmKind::NamedAnonymous),
                    )
                } else if name.starts_with(b"[anon:") {
                    (RegionType::Private, TypeReason::NamedAnonymous)
                } else {
                    (RegionType::Kernel, TypeReason::KernelPseudoPath)
                }
            }
            Backing::File { path, deleted } => {
                if let Some(kind) = shm_kind(path, deleted, shared) {
                    (RegionType::SharedMemory, TypeReason::Shared(kind))
                } else if path.starts_with(b"anon_inode:") {
                    (RegionType::MappedFile, TypeReason::AnonInode)
                } else if cur.perms.contains(Perms::EXEC) {
                    (RegionType::Code, TypeReason::ExecutableFile)
                } else {
                    (RegionType::MappedFile, TypeReason::FileMapping)
                }
            }
            Backing::Anonymous => self.classify_anonymous(prev, cur, next),
        }
    }

    fn classify_anonymous(
        &self,
        prev: Option<&MapsLine<'_>>,
        cur: &MapsLine<'_>,
        next: Option<&MapsLine<'_>>,
    ) -> (RegionType, TypeReason) {
        let size = cur.end - cur.start;
        if cur.perms.contains(Perms::SHARED) {
            return (
                RegionType::SharedMemory,
                TypeReason::Shared(ShmKind::Anonymous),
            );
        }
        if cur.perms.is_none() {
            let below_stack =
                next.is_some_and(|n| n.start == cur.end && self.is_stack(Some(cur), n));
            if below_stack && size <= GUARD_NEXT_TO_STACK_MAX {
                return (RegionType::Guard, TypeReason::GuardBelowStack);
            }
            let by_heap = prev.is_some_and(|p| p.pathname == b"[heap]" && p.end == cur.start)
                || next.is_some_and(|n| n.pathname == b"[heap]" && n.start == cur.end);
            if by_heap && size <= GUARD_NEXT_TO_STACK_MAX {
                return (RegionType::Guard, TypeReason::GuardNextToHeap);
            }
            if size <= SMALL_INACCESSIBLE_MAX {
                return (RegionType::Guard, TypeReason::SmallInaccessible);
            }
            return (RegionType::Reserved, TypeReason::LargeInaccessible);
        }
        if is_rw_anon(cur) {
            if let Some(tid) = self.stacks.thread_in(cur.start, cur.end) {
                return (RegionType::ThreadStack, TypeReason::ThreadStackPointer(tid));
            }
            if self.layout_stack(prev, cur) {
                return (RegionType::ThreadStack, TypeReason::ThreadStackLayout);
            }
        }
        (RegionType::Private, TypeReason::PrivateAnonymous)
    }

    /// Builds the full region for `cur`.
    pub fn region(
        &self,
        prev: Option<&MapsLine<'_>>,
        cur: &MapsLine<'_>,
        next: Option<&MapsLine<'_>>,
        usage: Option<Usage>,
        vm_flags: Option<Vec<VmFlag>>,
    ) -> MemoryRegion {
        let mut r = self.view(prev, cur, next, usage.as_ref(), None).to_region();
        r.vm_flags = vm_flags;
        r
    }

    /// Classifies `cur` and returns it as a view borrowing the line and the figures.
    pub fn view<'a>(
        &self,
        prev: Option<&MapsLine<'_>>,
        cur: &MapsLine<'a>,
        next: Option<&MapsLine<'_>>,
        usage: Option<&'a Usage>,
        vm_flags: Option<&'a [VmFlag]>,
    ) -> RegionView<'a> {
        let (region_type, type_reason) = self.classify(prev, cur, next);
        let (path, name, deleted) = match backing(cur) {
            Backing::Anonymous => (None, None, false),
            Backing::Pseudo(n) => (None, Some(n), false),
            Backing::File { path, deleted } => (Some(path), None, deleted),
        };
        RegionView {
            base_address: cur.start as usize,
            size: (cur.end - cur.start) as usize,
            perms: cur.perms,
            region_type,
            type_reason,
            offset: cur.offset,
            device: cur.device,
            inode: cur.inode,
            path,
            name,
            deleted,
            usage,
            vm_flags,
        }
    }
}

/// Classifies a whole list of lines at once (for captured files and tests).
pub fn classify_all(classifier: &Classifier, lines: &[MapsLine<'_>]) -> Vec<MemoryRegion> {
    (0..lines.len())
        .map(|i| {
            let prev = i.checked_sub(1).map(|j| &lines[j]);
            classifier.region(prev, &lines[i], lines.get(i + 1), None, None)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::maps;

    fn types(maps_text: &[u8], stacks: ThreadStacks) -> Vec<(RegionType, TypeReason)> {
        let lines = maps::parse(maps_text).unwrap();
        let c = Classifier::new(stacks);
        classify_all(&c, &lines)
            .into_iter()
            .map(|r| (r.region_type, r.type_reason))
            .collect()
    }

    #[test]
    fn layout_rule_only_without_stack_pointers() {
        let text = b"1000-2000 ---p 00000000 00:00 0 \n2000-9000 rw-p 00000000 00:00 0 \n";
        let known = types(text, ThreadStacks::new(vec![], 0));
        assert_eq!(known[0].0, RegionType::Guard);
        assert_eq!(known[0].1, TypeReason::SmallInaccessible);
        assert_eq!(known[1].0, RegionType::Private);
        let unknown = types(text, ThreadStacks::new(vec![], 1));
        assert_eq!(unknown[0], (RegionType::Guard, TypeReason::GuardBelowStack));
        assert_eq!(
            unknown[1],
            (RegionType::ThreadStack, TypeReason::ThreadStackLayout)
        );
        let sp = types(text, ThreadStacks::new(vec![(0x8f00, 42)], 0));
        assert_eq!(
            sp[1],
            (RegionType::ThreadStack, TypeReason::ThreadStackPointer(42))
        );
        assert_eq!(sp[0].1, TypeReason::GuardBelowStack);
    }

    #[test]
    fn pseudo_and_shared() {
        let t = types(
            b"1000-2000 rw-p 00000000 00:00 0   [anon:demo arena]\n\
              2000-3000 rw-s 00000000 00:00 0   [anon_shmem:x]\n\
              3000-4000 rw-s 00000000 00:01 5   /memfd:memlink-link:12:7f00 (deleted)\n\
              4000-5000 rw-s 00000000 00:01 6   /memfd:memlink-demo (deleted)\n\
              5000-6000 r-xp 00000000 00:01 6   /memfd:jit (deleted)\n\
              6000-7000 rw-s 00000000 00:01 6   /dev/shm/x\n\
              7000-8000 rw-p 00000000 00:05 6   /dev/zero\n\
              8000-9000 rw-p 00000000 00:0e 6   anon_inode:[io_uring]\n\
              9000-a000 r--p 00000000 00:00 0   [uprobes]\n\
              a000-b000 rw-p 00000000 00:00 0   [stack:77]\n",
            ThreadStacks::default(),
        );
        assert_eq!(t[0], (RegionType::Private, TypeReason::NamedAnonymous));
        assert_eq!(t[1].0, RegionType::SharedMemory);
        assert_eq!(t[2].1, TypeReason::Shared(ShmKind::MemlinkLink));
        assert_eq!(t[3].1, TypeReason::Shared(ShmKind::Memfd));
        assert_eq!(t[4].0, RegionType::SharedMemory);
        assert_eq!(t[5].1, TypeReason::Shared(ShmKind::Posix));
        assert_eq!(t[6], (RegionType::MappedFile, TypeReason::FileMapping));
        assert_eq!(t[7], (RegionType::MappedFile, TypeReason::AnonInode));
        assert_eq!(t[8], (RegionType::Kernel, TypeReason::KernelPseudoPath));
        assert_eq!(
            t[9],
            (RegionType::ThreadStack, TypeReason::StackTidName(77))
        );
    }

    #[test]
    fn reserved_and_heap_guard() {
        let t = types(
            b"1000-2000 rw-p 00000000 00:00 0   [heap]\n\
              2000-3000 ---p 00000000 00:00 0 \n\
              10000-4010000 ---p 00000000 00:00 0 \n",
            ThreadStacks::default(),
        );
        assert_eq!(t[1], (RegionType::Guard, TypeReason::GuardNextToHeap));
        assert_eq!(t[2], (RegionType::Reserved, TypeReason::LargeInaccessible));
    }
}
