//! Region classification: turns a parsed `maps`/`smaps` entry into a [`MemoryRegion`] with a
//! [`RegionType`] and the [`TypeReason`] behind it.
//!
//! Most types follow from the path column alone. Thread stacks, guards and reservations need
//! context: the stack pointers of the process's blocked threads and, for threads whose stack
//! pointer cannot be read (running on a CPU), the regions laid out as glibc lays out thread
//! stacks ([`ThreadStacks`]), and the neighbouring regions. The layout rule asks for evidence
//! that does not depend on the moment of reading (the `nh` flag that `MAP_STACK` sets, a guard
//! below, never more such stacks than threads without a stack pointer), so that two readings of
//! an unchanged process give the same types. Classification is pure, so it is tested on
//! captured `/proc` files; `docs/regions.md` states the rules.

use crate::proc::maps::MapsLine;
use crate::region::view::RegionView;
use crate::region::{MemoryRegion, Perms, RegionType, ShmKind, TypeReason, Usage, VmFlag};

/// An inaccessible region next to a stack or the heap is a guard up to this size.
pub const GUARD_NEXT_TO_STACK_MAX: u64 = 1 << 20;
/// An inaccessible region not next to a stack or heap is reserved address space; up to this
/// size its reason says it is small (an allocator's or a JIT's guard, a hole).
pub(crate) const SMALL_INACCESSIBLE_MAX: u64 = 64 << 10;
/// Prefix of the memfd name that `memlink link` gives its shared memory.
pub(crate) const LINK_MEMFD_PREFIX: &[u8] = b"memlink-link:";
/// `VmFlags` entry for `VM_NOHUGEPAGE`, which `mmap(MAP_STACK)` sets since Linux 6.7 (commit
/// c4608d1bf7c6, "mm: mmap: map MAP_STACK to VM_NOHUGEPAGE").
pub(crate) const NO_HUGEPAGE: VmFlag = VmFlag::new(b"nh");
/// `VmFlags` entry for `VM_GROWSDOWN` (the main thread's stack, never a thread's).
const GROWS_DOWN: VmFlag = VmFlag::new(b"gd");

/// The stack pointers of a process's threads, as far as they could be read, and the regions
/// that are laid out as glibc thread stacks, for the threads whose stack pointer could not be.
#[derive(Debug, Clone, Default)]
pub struct ThreadStacks {
    /// `(stack pointer, tid)`, sorted by stack pointer.
    sps: Vec<(u64, u32)>,
    /// Threads other than the main thread whose stack pointer is unknown (running, or
    /// `task/TID/syscall` unreadable).
    pub unknown: usize,
    /// `[start, end)` of the regions with glibc's thread stack layout that hold no known stack
    /// pointer, sorted; `None` when they were not looked for (every stack pointer was read, or
    /// `smaps` could not be).
    layout: Option<Vec<(u64, u64)>>,
}

impl ThreadStacks {
    /// Builds the set from `(stack pointer, tid)` pairs and the count of threads without one.
    pub fn new(mut sps: Vec<(u64, u32)>, unknown: usize) -> ThreadStacks {
        sps.sort_unstable();
        ThreadStacks {
            sps,
            unknown,
            layout: None,
        }
    }

    /// Adds the regions found with glibc's thread stack layout ([`StackLayoutScan`]); those
    /// that hold a known stack pointer are already attributed and are left out.
    pub fn with_layout_stacks(mut self, mut ranges: Vec<(u64, u64)>) -> ThreadStacks {
        ranges.retain(|&(s, e)| self.thread_in(s, e).is_none());
        ranges.sort_unstable();
        ranges.dedup();
        self.layout = Some(ranges);
        self
    }

    /// The thread whose stack pointer lies in `[start, end)`, if any.
    pub fn thread_in(&self, start: u64, end: u64) -> Option<u32> {
        let i = self.sps.partition_point(|&(sp, _)| sp < start);
        self.sps
            .get(i)
            .filter(|&&(sp, _)| sp < end)
            .map(|&(_, tid)| tid)
    }

    /// The layout rule's verdict on `[start, end)`: `None` when it is not a layout stack (or
    /// none were looked for), `Some(true)` when it is taken as the stack of a thread without a
    /// readable stack pointer (there are no more layout stacks than such threads), `Some(false)`
    /// when it cannot be attributed (there are more).
    fn layout_verdict(&self, start: u64, end: u64) -> Option<bool> {
        let layout = self.layout.as_ref()?;
        layout
            .binary_search(&(start, end))
            .ok()
            .map(|_| layout.len() <= self.unknown)
    }
}

/// Finds the regions laid out as glibc thread stacks in a process's `smaps`, one entry at a
/// time in address order (pure: the caller reads the file).
///
/// A region qualifies when it is private, writable and anonymous, carries `nh` (set by
/// `MAP_STACK` since Linux 6.7) and not `gd`, and has a guard: an inaccessible anonymous region
/// of at most [`GUARD_NEXT_TO_STACK_MAX`] directly below it, or (glibc releases that install
/// guards with `MADV_GUARD_INSTALL`, Linux 6.13, leave no such region) a guard-installed first
/// page, which only `pagemap` shows: such regions are returned apart, for the caller to check.
#[derive(Debug, Default)]
pub struct StackLayoutScan {
    /// End of the previous region, when it was an inaccessible anonymous guard-sized region.
    guard_end: Option<u64>,
    found: Vec<(u64, u64)>,
    unguarded: Vec<(u64, u64)>,
}

impl StackLayoutScan {
    /// A scan at the start of the file.
    pub fn new() -> StackLayoutScan {
        StackLayoutScan::default()
    }

    /// Takes the next region in address order with its `VmFlags`.
    pub fn push(&mut self, line: &MapsLine<'_>, flags: &[VmFlag]) {
        if is_rw_anon(line) && flags.contains(&NO_HUGEPAGE) && !flags.contains(&GROWS_DOWN) {
            if self.guard_end == Some(line.start) {
                self.found.push((line.start, line.end));
            } else {
                self.unguarded.push((line.start, line.end));
            }
        }
        self.guard_end = (is_inaccessible_anon(line)
            && line.end - line.start <= GUARD_NEXT_TO_STACK_MAX)
            .then_some(line.end);
    }

    /// The regions found.
    pub fn finish(self) -> LayoutCandidates {
        LayoutCandidates {
            guarded: self.found,
            unguarded: self.unguarded,
        }
    }
}

/// What a [`StackLayoutScan`] found, as `[start, end)` ranges in address order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LayoutCandidates {
    /// Layout stacks with an inaccessible guard region directly below.
    pub guarded: Vec<(u64, u64)>,
    /// Regions that are layout stacks if their first page is a guard installed by
    /// `MADV_GUARD_INSTALL`.
    pub unguarded: Vec<(u64, u64)>,
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
    /// just below it? The same decision as [`classify`](Self::classify) makes for `l`, which
    /// does not depend on `l`'s `VmFlags`, so a guard's type agrees with its stack's.
    fn is_stack(&self, prev: Option<&MapsLine<'_>>, l: &MapsLine<'_>) -> bool {
        if l.pathname == b"[stack]" || l.pathname.starts_with(b"[stack:") {
            return true;
        }
        is_rw_anon(l) && self.rw_anonymous(prev, l, None).0 == RegionType::ThreadStack
    }

    /// The type of `cur`, and why, given its neighbours in address order.
    pub fn classify(
        &self,
        prev: Option<&MapsLine<'_>>,
        cur: &MapsLine<'_>,
        next: Option<&MapsLine<'_>>,
    ) -> (RegionType, TypeReason) {
        self.classify_with_flags(prev, cur, next, None)
    }

    /// [`classify`](Self::classify), with `cur`'s `VmFlags` when they were read. The flags
    /// never change the type, only how precisely the reason is put (so that `list`, which
    /// reads `maps`, and `list --detailed`, which reads `smaps`, give the same types).
    pub fn classify_with_flags(
        &self,
        prev: Option<&MapsLine<'_>>,
        cur: &MapsLine<'_>,
        next: Option<&MapsLine<'_>>,
        flags: Option<&[VmFlag]>,
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
            Backing::Anonymous => self.classify_anonymous(prev, cur, next, flags),
        }
    }

    fn classify_anonymous(
        &self,
        prev: Option<&MapsLine<'_>>,
        cur: &MapsLine<'_>,
        next: Option<&MapsLine<'_>>,
        flags: Option<&[VmFlag]>,
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
                return (RegionType::Reserved, TypeReason::SmallInaccessible);
            }
            return (RegionType::Reserved, TypeReason::LargeInaccessible);
        }
        if is_rw_anon(cur) {
            return self.rw_anonymous(prev, cur, flags);
        }
        (RegionType::Private, TypeReason::PrivateAnonymous)
    }

    /// A private, writable, anonymous region: a thread's stack, or private memory.
    fn rw_anonymous(
        &self,
        prev: Option<&MapsLine<'_>>,
        cur: &MapsLine<'_>,
        flags: Option<&[VmFlag]>,
    ) -> (RegionType, TypeReason) {
        if let Some(tid) = self.stacks.thread_in(cur.start, cur.end) {
            return (RegionType::ThreadStack, TypeReason::ThreadStackPointer(tid));
        }
        match self.stacks.layout_verdict(cur.start, cur.end) {
            Some(true) => return (RegionType::ThreadStack, TypeReason::ThreadStackLayout),
            Some(false) => return (RegionType::Private, TypeReason::UnattributedThreadStack),
            None => {}
        }
        // Only the reason is refined from here on: the type is Private whatever the flags say.
        let Some(flags) = flags else {
            return (RegionType::Private, TypeReason::PrivateAnonymous);
        };
        let guarded = prev.is_some_and(|p| {
            is_inaccessible_anon(p)
                && p.end == cur.start
                && p.end - p.start <= GUARD_NEXT_TO_STACK_MAX
        });
        let stack_flags = flags.contains(&NO_HUGEPAGE) && !flags.contains(&GROWS_DOWN);
        let reason = match (guarded, stack_flags) {
            (true, true) if self.stacks.unknown == 0 => TypeReason::CachedThreadStack,
            // Layout stacks were not looked for (smaps unreadable then): say nothing more.
            (true, true) => TypeReason::PrivateAnonymous,
            (true, false) => TypeReason::GuardedNotStack,
            (false, _) => TypeReason::PrivateAnonymous,
        };
        (RegionType::Private, reason)
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
        self.view(prev, cur, next, usage.as_ref(), vm_flags.as_deref())
            .to_region()
    }

    /// Classifies `cur` and returns it as a view borrowing the line and the figures.
    ///
    /// A path ending in ` (deleted)` is taken as the kernel's suffix here (no I/O);
    /// [`settle_deleted`] corrects it when the file could be checked.
    pub fn view<'a>(
        &self,
        prev: Option<&MapsLine<'_>>,
        cur: &MapsLine<'a>,
        next: Option<&MapsLine<'_>>,
        usage: Option<&'a Usage>,
        vm_flags: Option<&'a [VmFlag]>,
    ) -> RegionView<'a> {
        let (region_type, type_reason) = self.classify_with_flags(prev, cur, next, vm_flags);
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

/// True when `line` is a file mapping whose name ends in ` (deleted)` and whose deleted state
/// [`settle_deleted`] should check: not memfd, SysV or shared anonymous memory, whose names
/// always carry the suffix.
pub fn needs_deleted_check(line: &MapsLine<'_>) -> bool {
    match backing(line) {
        Backing::File {
            path,
            deleted: true,
        } => shm_kind(path, true, line.perms.contains(Perms::SHARED)).is_none(),
        _ => false,
    }
}

/// Settles whether the file of `view` (classified from `line`) was deleted, from `deleted`:
/// what the file's link count says (`Some(true)`: deleted; `Some(false)`: a live file whose name
/// really ends in ` (deleted)`, kept whole), or `None` when it could not be checked, which the
/// reason then says. Does nothing to regions [`needs_deleted_check`] leaves alone.
pub fn settle_deleted<'a>(view: &mut RegionView<'a>, line: &MapsLine<'a>, deleted: Option<bool>) {
    if !needs_deleted_check(line) {
        return;
    }
    match deleted {
        Some(true) => {}
        Some(false) => {
            view.path = Some(line.pathname);
            view.deleted = false;
        }
        None => {
            view.type_reason = match view.type_reason {
                TypeReason::ExecutableFile => TypeReason::ExecutableFileDeletedUnknown,
                TypeReason::FileMapping => TypeReason::FileMappingDeletedUnknown,
                other => other,
            }
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
    fn layout_rule_needs_layout_stacks_and_unknown_threads() {
        let text = b"1000-2000 ---p 00000000 00:00 0 \n2000-9000 rw-p 00000000 00:00 0 \n";
        let known = types(text, ThreadStacks::new(vec![], 0));
        assert_eq!(
            known[0],
            (RegionType::Reserved, TypeReason::SmallInaccessible)
        );
        assert_eq!(known[1].0, RegionType::Private);
        // A thread without a stack pointer is not enough: the region must be a layout stack.
        let shape_only = types(text, ThreadStacks::new(vec![], 1));
        assert_eq!(shape_only, known);
        let layout = ThreadStacks::new(vec![], 1).with_layout_stacks(vec![(0x2000, 0x9000)]);
        let unknown = types(text, layout);
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

    const ODD_SMAPS: &[u8] = include_bytes!("../../tests/fixtures/proc/odd/smaps");
    /// The `odd` capture's three thread stacks (8 MiB, `nh`, a guard page below each).
    const ODD_STACKS: [(u64, u64); 3] = [
        (0x7f686215c000, 0x7f686295c000),
        (0x7f686295d000, 0x7f686315d000),
        (0x7f686315e000, 0x7f686395e000),
    ];

    fn odd_scan() -> LayoutCandidates {
        let mut scan = StackLayoutScan::new();
        for e in crate::proc::smaps::parse(ODD_SMAPS).unwrap() {
            scan.push(&e.as_maps_line(), &e.vm_flags);
        }
        scan.finish()
    }

    /// Types and reasons of the `odd` capture's regions, classified as the stream does.
    fn odd_types(stacks: ThreadStacks, detailed: bool) -> Vec<(u64, RegionType, TypeReason)> {
        let entries = crate::proc::smaps::parse(ODD_SMAPS).unwrap();
        let lines: Vec<_> = entries.iter().map(|e| e.as_maps_line()).collect();
        let c = Classifier::new(stacks);
        (0..lines.len())
            .map(|i| {
                let flags = detailed.then_some(&entries[i].vm_flags[..]);
                let prev = i.checked_sub(1).map(|j| &lines[j]);
                let (t, r) = c.classify_with_flags(prev, &lines[i], lines.get(i + 1), flags);
                (lines[i].start, t, r)
            })
            .collect()
    }

    #[test]
    fn glibc_stacks_carry_nh_in_a_real_capture() {
        // Captured on Linux 6.18 with glibc 2.36: MAP_STACK stacks carry nh, and nothing else
        // in the process has a guard below and nh; the 64 MiB malloc block has neither.
        let found = odd_scan();
        assert_eq!(found.guarded, ODD_STACKS);
        assert!(found.unguarded.is_empty(), "{found:x?}");
    }

    #[test]
    fn layout_stacks_are_taken_only_when_no_more_than_the_threads_without_sp() {
        let found = odd_scan().guarded;
        for unknown in [3, 4] {
            let t = odd_types(
                ThreadStacks::new(vec![], unknown).with_layout_stacks(found.clone()),
                false,
            );
            for (start, _) in ODD_STACKS {
                let r = t.iter().find(|r| r.0 == start).unwrap();
                assert_eq!(
                    (r.1, r.2),
                    (RegionType::ThreadStack, TypeReason::ThreadStackLayout)
                );
                let g = t.iter().find(|r| r.0 == start - 0x1000).unwrap();
                assert_eq!(g.1, RegionType::Guard);
            }
        }
        // Three layout stacks for two threads: which two is unknown, so none is taken, the
        // same way whichever moment the reading is from.
        let t = odd_types(
            ThreadStacks::new(vec![], 2).with_layout_stacks(found.clone()),
            true,
        );
        for (start, _) in ODD_STACKS {
            let r = t.iter().find(|r| r.0 == start).unwrap();
            assert_eq!(
                (r.1, r.2),
                (RegionType::Private, TypeReason::UnattributedThreadStack)
            );
            let g = t.iter().find(|r| r.0 == start - 0x1000).unwrap();
            assert_eq!(g.1, RegionType::Reserved);
        }
        // One thread blocked with its stack pointer read, one running: the running one's
        // stack is the one layout stack left.
        let t = odd_types(
            ThreadStacks::new(vec![(0x7f686295aeb0, 6685), (0x7f686315beb0, 6686)], 1)
                .with_layout_stacks(found),
            false,
        );
        let reasons: Vec<_> = ODD_STACKS
            .iter()
            .map(|&(s, _)| t.iter().find(|r| r.0 == s).unwrap().2)
            .collect();
        assert_eq!(
            reasons,
            [
                TypeReason::ThreadStackPointer(6685),
                TypeReason::ThreadStackPointer(6686),
                TypeReason::ThreadStackLayout
            ]
        );
    }

    #[test]
    fn flags_refine_reasons_but_never_change_types() {
        for stacks in [
            ThreadStacks::new(vec![], 0),
            ThreadStacks::new(vec![(0x7f686295aeb0, 6685)], 0),
            ThreadStacks::new(vec![], 1).with_layout_stacks(odd_scan().guarded),
        ] {
            let plain = odd_types(stacks.clone(), false);
            let detailed = odd_types(stacks, true);
            let ty = |v: &[(u64, RegionType, TypeReason)]| {
                v.iter().map(|r| (r.0, r.1)).collect::<Vec<_>>()
            };
            assert_eq!(ty(&plain), ty(&detailed));
        }
        // Every thread's stack pointer read and none in them: glibc's cache of exited threads'
        // stacks (seen only with the flags).
        let t = odd_types(ThreadStacks::new(vec![], 0), true);
        let r = t.iter().find(|r| r.0 == ODD_STACKS[0].0).unwrap();
        assert_eq!(
            (r.1, r.2),
            (RegionType::Private, TypeReason::CachedThreadStack)
        );
        let t = odd_types(ThreadStacks::new(vec![], 0), false);
        let r = t.iter().find(|r| r.0 == ODD_STACKS[0].0).unwrap();
        assert_eq!(r.2, TypeReason::PrivateAnonymous);
    }

    #[test]
    fn guard_installed_stacks_and_look_alikes() {
        let flags = |s: &str| -> Vec<VmFlag> {
            s.split(' ')
                .map(|f| VmFlag::new(f.as_bytes().try_into().unwrap()))
                .collect()
        };
        let text = b"1000-2000 ---p 00000000 00:00 0 \n\
              2000-9000 rw-p 00000000 00:00 0 \n\
              10000-20000 rw-p 00000000 00:00 0 \n\
              20000-21000 ---p 00000000 00:00 0 \n\
              21000-30000 rw-p 00000000 00:00 0 \n\
              30000-31000 ---p 00000000 00:00 0 \n\
              31000-40000 rw-p 00000000 00:00 0 \n";
        let lines = maps::parse(text).unwrap();
        let f = [
            flags("mr mw me nh"),
            flags("rd wr mr mw me ac"),
            flags("rd wr mr mw me ac nh"),
            flags("mr mw me"),
            flags("rd wr mr mw me ac nh"),
            flags("mr mw me"),
            flags("rd wr mr mw me gd ac nh"),
        ];
        let mut scan = StackLayoutScan::new();
        for (l, f) in lines.iter().zip(&f) {
            scan.push(l, f);
        }
        let LayoutCandidates { guarded, unguarded } = scan.finish();
        // Without nh (an allocator's region above a guard) or with gd: not stacks. With nh but
        // no inaccessible region below: a candidate only if pagemap shows a guard page.
        assert_eq!(guarded, [(0x21000, 0x30000)]);
        assert_eq!(unguarded, [(0x10000, 0x20000)]);
        let c = Classifier::new(ThreadStacks::new(vec![], 5));
        let (t, r) = c.classify_with_flags(Some(&lines[0]), &lines[1], None, Some(&f[1]));
        assert_eq!((t, r), (RegionType::Private, TypeReason::GuardedNotStack));
    }

    #[test]
    fn deleted_suffix_settled_by_the_check() {
        let text = b"1000-2000 r--p 00000000 fe:00 7   /srv/x (deleted)\n\
              2000-3000 r-xp 00000000 fe:00 8   /srv/y (deleted)\n\
              3000-4000 rw-s 00000000 00:01 9   /memfd:m (deleted)\n\
              4000-5000 r--p 00000000 fe:00 7   /srv/z\n";
        let lines = maps::parse(text).unwrap();
        let c = Classifier::default();
        let view = |i: usize, check: Option<bool>| {
            let mut v = c.view(None, &lines[i], None, None, None);
            settle_deleted(&mut v, &lines[i], check);
            v
        };
        let live = view(0, Some(false));
        assert_eq!(
            (live.path, live.deleted),
            (Some(&b"/srv/x (deleted)"[..]), false)
        );
        assert_eq!(live.type_reason, TypeReason::FileMapping);
        let gone = view(0, Some(true));
        assert_eq!((gone.path, gone.deleted), (Some(&b"/srv/x"[..]), true));
        let unknown = view(1, None);
        assert!(unknown.deleted);
        assert_eq!(
            unknown.type_reason,
            TypeReason::ExecutableFileDeletedUnknown
        );
        assert!(unknown.type_reason.deleted_unknown());
        let mut json = Vec::new();
        crate::region::json::write_view(&mut json, &unknown);
        let json = String::from_utf8(json).unwrap();
        assert!(json.contains("\"deleted\":null"), "{json}");
        let back: MemoryRegion = serde_json::from_str(&json).unwrap();
        assert_eq!(back, unknown.to_region());
        assert!(
            !needs_deleted_check(&lines[2]),
            "memfd names always have it"
        );
        assert!(!needs_deleted_check(&lines[3]));
        assert_eq!(
            view(2, None).type_reason,
            TypeReason::Shared(ShmKind::Memfd)
        );
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
