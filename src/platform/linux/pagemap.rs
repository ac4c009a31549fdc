//! What backs each page of an address range of a process: the page cache (a file page, or a
//! shared anonymous page), a private anonymous page (including a copied-on-write copy of a
//! file page, which is how a patched code page shows), swap, or nothing yet.
//!
//! The kinds come from the `PAGEMAP_SCAN` ioctl on `/proc/PID/pagemap` (Linux 6.7), which
//! returns runs of pages with the same kind in one call; where the kernel lacks it, from
//! reading `/proc/PID/pagemap` itself, 8 bytes per page. Neither faults a page in.
//!
//! # References
//! Documentation/admin-guide/mm/pagemap.rst (the entry bits, and `PAGEMAP_SCAN`);
//! include/uapi/linux/fs.h (`struct pm_scan_arg`, `struct page_region`, `PAGE_IS_*`).

use std::fs::File;
use std::os::unix::fs::FileExt;

use super::procdir::ProcDir;
use super::vm::page_size;
use crate::error::{Error, Result};

/// What backs a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PageKind {
    /// No page yet (never touched, or a file page the kernel dropped): reading it would fault
    /// it in.
    NotPresent,
    /// A resident page of the page cache: a file's page, or a shared anonymous (shmem) page.
    File,
    /// A resident private anonymous page. In a file mapping, a page copied on write: it may
    /// differ from the file.
    Anonymous,
    /// A private anonymous page that is in swap (reading it would swap it in).
    Swapped,
}

/// A run of consecutive pages of one kind, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRun {
    /// First address (page-aligned).
    pub start: u64,
    /// One past the last address (page-aligned).
    pub end: u64,
    /// What backs every page of the run.
    pub kind: PageKind,
}

impl PageRun {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Is the run empty?
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// How the kinds were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageMethod {
    /// The `PAGEMAP_SCAN` ioctl (Linux 6.7+).
    Scan,
    /// Reading `/proc/PID/pagemap`, one 8-byte entry per page.
    Entries,
}

/// An open `/proc/PID/pagemap`.
#[derive(Debug)]
pub struct PageMap {
    pid: u32,
    file: File,
    method: PageMethod,
}

impl PageMap {
    /// Opens the pagemap of the process of `dir`, using `PAGEMAP_SCAN` where the kernel has it.
    ///
    /// # Errors
    /// The file cannot be opened: [`Error::PermissionDenied`] without ptrace read access,
    /// [`Error::ProcessExited`].
    pub fn open(dir: &ProcDir) -> Result<PageMap> {
        let file = dir
            .open_file("pagemap")
            .map_err(|e| dir.error("read the page map of", e))?;
        let method = if sys::scan_supported(&file) {
            PageMethod::Scan
        } else {
            PageMethod::Entries
        };
        Ok(PageMap {
            pid: dir.pid(),
            file,
            method,
        })
    }

    /// As [`open`](Self::open), with the method forced (the tests compare both).
    ///
    /// # Errors
    /// As [`open`](Self::open); [`Error::Unsupported`] for [`PageMethod::Scan`] on a kernel
    /// without it.
    pub fn open_with(dir: &ProcDir, method: PageMethod) -> Result<PageMap> {
        let mut m = PageMap::open(dir)?;
        if method == PageMethod::Scan && m.method != PageMethod::Scan {
            return Err(Error::Unsupported {
                op: "PAGEMAP_SCAN (Linux 6.7 or later)",
                platform: "this kernel",
            });
        }
        m.method = method;
        Ok(m)
    }

    /// The method in use.
    pub fn method(&self) -> PageMethod {
        self.method
    }

    /// The runs of page kinds covering `[start, end)` (rounded out to pages), in address order,
    /// adjacent runs of the same kind merged. Addresses outside every mapping are
    /// [`PageKind::NotPresent`].
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] when `end < start`; the process exited or the pagemap could
    /// not be read.
    pub fn runs(&self, start: u64, end: u64) -> Result<Vec<PageRun>> {
        if end < start {
            return Err(Error::InvalidArgument(format!(
                "page range 0x{start:x}-0x{end:x} ends before it starts"
            )));
        }
        let page = page_size();
        let start = start / page * page;
        let end = end.div_ceil(page) * page;
        let mut out = Vec::new();
        if start == end {
            return Ok(out);
        }
        match self.method {
            PageMethod::Scan => self.scan(start, end, &mut out)?,
            PageMethod::Entries => self.entries(start, end, page, &mut out)?,
        }
        Ok(out)
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        match e.raw_os_error() {
            Some(libc::ESRCH) => Error::ProcessExited {
                pid: self.pid,
                during: "its page map was being read".into(),
            },
            _ => Error::from_errno(self.pid, "read the page map of", e),
        }
    }

    fn scan(&self, start: u64, end: u64, out: &mut Vec<PageRun>) -> Result<()> {
        let mut regions = vec![sys::PageRegion::default(); 512];
        let mut at = start;
        while at < end {
            let (n, walk_end) =
                sys::scan(&self.file, at, end, &mut regions).map_err(|e| self.io_error(e))?;
            for r in &regions[..n] {
                push(out, r.start, r.start, PageKind::NotPresent);
                push(out, r.start, r.end, kind_of_categories(r.categories));
            }
            // Pages the walk passed without reporting (gaps between mappings) are not present.
            push(out, walk_end, walk_end, PageKind::NotPresent);
            if walk_end <= at {
                break;
            }
            at = walk_end;
        }
        fill_gaps(out, start, end);
        Ok(())
    }

    fn entries(&self, start: u64, end: u64, page: u64, out: &mut Vec<PageRun>) -> Result<()> {
        const BATCH: u64 = 4096;
        let mut buf = vec![0u8; (BATCH * 8) as usize];
        let mut at = start;
        while at < end {
            let pages = ((end - at) / page).min(BATCH);
            let want = (pages * 8) as usize;
            let got = self
                .file
                .read_at(&mut buf[..want], at / page * 8)
                .map_err(|e| self.io_error(e))?;
            if got < 8 {
                break;
            }
            for (i, e) in buf[..got - got % 8].chunks_exact(8).enumerate() {
                let entry = u64::from_ne_bytes(e.try_into().unwrap_or([0; 8]));
                let a = at + i as u64 * page;
                push(out, a, a + page, kind_of_entry(entry));
            }
            at += (got / 8) as u64 * page;
        }
        fill_gaps(out, start, end);
        Ok(())
    }
}

/// The runs of page kinds of `[start, end)` of the process of `dir` (see [`PageMap::runs`]).
///
/// # Errors
/// As [`PageMap::open`] and [`PageMap::runs`].
pub fn page_runs(dir: &ProcDir, start: u64, end: u64) -> Result<Vec<PageRun>> {
    PageMap::open(dir)?.runs(start, end)
}

/// Appends `[start, end)` of `kind`, merging with the last run when adjacent and alike, and
/// filling a gap before it as not present. Empty runs only fill gaps.
fn push(out: &mut Vec<PageRun>, start: u64, end: u64, kind: PageKind) {
    if let Some(last) = out.last_mut() {
        if last.end < start {
            let gap_start = last.end;
            push(out, gap_start, start, PageKind::NotPresent);
            return push(out, start, end, kind);
        }
    }
    if end <= start {
        return;
    }
    match out.last_mut() {
        Some(last) if last.kind == kind && last.end == start => last.end = end,
        _ => out.push(PageRun { start, end, kind }),
    }
}

/// Makes the runs cover exactly `[start, end)`.
fn fill_gaps(out: &mut Vec<PageRun>, start: u64, end: u64) {
    if out.first().is_none_or(|r| r.start > start) {
        let first_end = out.first().map_or(end, |r| r.start);
        out.insert(
            0,
            PageRun {
                start,
                end: first_end,
                kind: PageKind::NotPresent,
            },
        );
    }
    push(out, end, end, PageKind::NotPresent);
    out.retain(|r| !r.is_empty());
}

/// Bits of a `/proc/PID/pagemap` entry.
const PM_PRESENT: u64 = 1 << 63;
const PM_SWAP: u64 = 1 << 62;
const PM_FILE: u64 = 1 << 61;

fn kind_of_entry(e: u64) -> PageKind {
    if e & PM_PRESENT != 0 {
        if e & PM_FILE != 0 {
            PageKind::File
        } else {
            PageKind::Anonymous
        }
    } else if e & PM_SWAP != 0 {
        if e & PM_FILE != 0 {
            // A shmem page in swap: its content is the shared object's, not a private copy.
            PageKind::NotPresent
        } else {
            PageKind::Swapped
        }
    } else {
        PageKind::NotPresent
    }
}

fn kind_of_categories(c: u64) -> PageKind {
    if c & sys::PAGE_IS_PRESENT != 0 {
        if c & sys::PAGE_IS_FILE != 0 {
            PageKind::File
        } else {
            PageKind::Anonymous
        }
    } else if c & sys::PAGE_IS_SWAPPED != 0 {
        if c & sys::PAGE_IS_FILE != 0 {
            PageKind::NotPresent
        } else {
            PageKind::Swapped
        }
    } else {
        PageKind::NotPresent
    }
}

/// The `PAGEMAP_SCAN` ioctl, which neither `nix` nor `libc` wraps.
pub(super) mod sys {
    #![allow(
        unsafe_code,
        reason = "the PAGEMAP_SCAN ioctl, which nix does not wrap"
    )]

    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;

    pub const PAGE_IS_FILE: u64 = 1 << 2;
    pub const PAGE_IS_PRESENT: u64 = 1 << 3;
    pub const PAGE_IS_SWAPPED: u64 = 1 << 4;

    /// `struct page_region` of include/uapi/linux/fs.h.
    #[repr(C)]
    #[derive(Debug, Clone, Copy, Default)]
    pub struct PageRegion {
        pub start: u64,
        pub end: u64,
        pub categories: u64,
    }

    /// `struct pm_scan_arg` of include/uapi/linux/fs.h.
    #[repr(C)]
    #[derive(Debug, Default)]
    struct PmScanArg {
        size: u64,
        flags: u64,
        start: u64,
        end: u64,
        walk_end: u64,
        vec: u64,
        vec_len: u64,
        max_pages: u64,
        category_inverted: u64,
        category_mask: u64,
        category_anyof_mask: u64,
        return_mask: u64,
    }

    /// `_IOWR('f', 16, struct pm_scan_arg)`.
    const PAGEMAP_SCAN: u64 =
        (3 << 30) | ((std::mem::size_of::<PmScanArg>() as u64) << 16) | ((b'f' as u64) << 8) | 16;

    /// Does the kernel answer `PAGEMAP_SCAN` on this pagemap file (an empty range)?
    pub fn scan_supported(file: &File) -> bool {
        let mut none: [PageRegion; 0] = [];
        scan(file, 0, 0, &mut none).is_ok()
    }

    /// One `PAGEMAP_SCAN` over `[start, end)`: the number of regions written to `out`, and the
    /// address where the walk stopped (`end` when it finished).
    pub fn scan(
        file: &File,
        start: u64,
        end: u64,
        out: &mut [PageRegion],
    ) -> io::Result<(usize, u64)> {
        let mut arg = PmScanArg {
            size: std::mem::size_of::<PmScanArg>() as u64,
            start,
            end,
            vec: out.as_mut_ptr() as u64,
            vec_len: out.len() as u64,
            return_mask: PAGE_IS_FILE | PAGE_IS_PRESENT | PAGE_IS_SWAPPED,
            ..PmScanArg::default()
        };
        // SAFETY: `arg` is a live, writable `pm_scan_arg` whose `size` tells the kernel its
        // layout; `vec`/`vec_len` describe `out`, a live, writable slice of `page_region`s that
        // the kernel fills at most `vec_len` of. The kernel keeps no pointer after the call.
        let r = unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                PAGEMAP_SCAN as libc::Ioctl,
                &mut arg as *mut PmScanArg,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((r as usize, arg.walk_end))
    }

    /// A private anonymous read-write mapping of the test process, unmapped on drop.
    #[cfg(test)]
    pub(crate) struct TestMapping {
        ptr: std::ptr::NonNull<std::ffi::c_void>,
        len: usize,
    }

    #[cfg(test)]
    impl TestMapping {
        pub fn new(len: usize) -> TestMapping {
            use nix::sys::mman::{mmap_anonymous, MapFlags, ProtFlags};
            let size = std::num::NonZeroUsize::new(len).unwrap();
            // SAFETY: a new private anonymous mapping at an address the kernel picks cannot
            // overlap memory anything else uses.
            let ptr = unsafe {
                mmap_anonymous(
                    None,
                    size,
                    ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                    MapFlags::MAP_PRIVATE,
                )
            }
            .unwrap();
            TestMapping { ptr, len }
        }

        pub fn base(&self) -> u64 {
            self.ptr.as_ptr() as u64
        }

        /// Writes one byte at `offset` (< len), which makes its page present.
        pub fn touch(&self, offset: usize) {
            assert!(offset < self.len);
            // SAFETY: `offset` is inside the live, writable mapping this value owns.
            unsafe { self.ptr.as_ptr().cast::<u8>().add(offset).write_volatile(1) };
        }
    }

    #[cfg(test)]
    impl Drop for TestMapping {
        fn drop(&mut self) {
            // SAFETY: the mapping was made by `new`, is owned by this value and nothing
            // refers into it after the drop.
            let _ = unsafe { nix::sys::mman::munmap(self.ptr, self.len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn own_dir() -> ProcDir {
        ProcDir::open(Path::new("/proc"), std::process::id()).unwrap()
    }

    /// Maps 8 anonymous pages, touches pages 1, 2 and 5 by writing, and checks the kinds.
    fn check(method: PageMethod) {
        let pg = page_size();
        let m = sys::TestMapping::new(8 * pg as usize);
        for p in [1, 2, 5] {
            m.touch(p * pg as usize);
        }
        let b = m.base();
        let map = PageMap::open_with(&own_dir(), method).unwrap();
        let runs = map.runs(b, b + 8 * pg).unwrap();
        let run = |s: u64, e: u64, kind| PageRun {
            start: b + s * pg,
            end: b + e * pg,
            kind,
        };
        let expect = vec![
            run(0, 1, PageKind::NotPresent),
            run(1, 3, PageKind::Anonymous),
            run(3, 5, PageKind::NotPresent),
            run(5, 6, PageKind::Anonymous),
            run(6, 8, PageKind::NotPresent),
        ];
        assert_eq!(runs, expect, "{method:?}");
        // Unaligned bounds round out to the same pages.
        let unaligned = map.runs(b + 10, b + 8 * pg - 10).unwrap();
        assert_eq!(unaligned, expect, "{method:?}");
    }

    #[test]
    fn anonymous_pages_by_scan() {
        check(PageMethod::Scan);
    }

    #[test]
    fn anonymous_pages_by_entries() {
        check(PageMethod::Entries);
    }

    /// This test binary's own code is file pages, the same by both methods.
    #[test]
    fn own_code_is_file_pages_by_both_methods() {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let exe = std::fs::read_link("/proc/self/exe").unwrap();
        let line = maps
            .lines()
            .find(|l| l.contains("r-xp") && l.ends_with(exe.to_str().unwrap()))
            .unwrap();
        let range = line.split(' ').next().unwrap();
        let (s, e) = range.split_once('-').unwrap();
        let (s, e) = (
            u64::from_str_radix(s, 16).unwrap(),
            u64::from_str_radix(e, 16).unwrap(),
        );
        // This function's page is resident: it is running.
        let here = own_code_is_file_pages_by_both_methods as *const () as u64;
        assert!(s <= here && here < e);
        let dir = own_dir();
        let scan = PageMap::open_with(&dir, PageMethod::Scan)
            .unwrap()
            .runs(s, e)
            .unwrap();
        let entries = PageMap::open_with(&dir, PageMethod::Entries)
            .unwrap()
            .runs(s, e)
            .unwrap();
        // Other test threads fault code pages in meanwhile, so the two reads may differ in
        // which pages are present; neither may see a private copy, and both see this page.
        for runs in [&scan, &entries] {
            assert!(
                runs.iter().all(|r| r.kind != PageKind::Anonymous),
                "{runs:?}"
            );
            assert!(runs.iter().all(|r| r.kind != PageKind::Swapped), "{runs:?}");
            let run = runs
                .iter()
                .find(|r| r.start <= here && here < r.end)
                .unwrap();
            assert_eq!(run.kind, PageKind::File);
            assert_eq!(runs.first().unwrap().start, s);
            assert_eq!(runs.last().unwrap().end, e);
            assert!(runs
                .windows(2)
                .all(|w| w[0].end == w[1].start && w[0].kind != w[1].kind));
        }
    }

    #[test]
    fn backwards_range_is_refused() {
        let map = PageMap::open(&own_dir()).unwrap();
        assert!(matches!(
            map.runs(2 << 20, 1 << 20),
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(map.runs(1 << 20, 1 << 20).unwrap(), vec![]);
    }
}
