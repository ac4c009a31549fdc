//! [`MemoryAnalyzer`]: the entry point for looking at one process's memory.
//!
//! An analyzer owns the process handle ([`ProcDir`], procfs's `Process { fd, .. }`): `/proc/PID`
//! is opened once, and "which process, is it alive, a zombie, a kernel thread" is checked once,
//! when the analyzer is made. Every later call (regions, totals, facts, memory) reads through
//! that handle, so a PID reused by another process afterwards is never read by mistake.

use std::path::Path;

use crate::error::Result;
use crate::platform::{self, MemReader, ProcDir, Regions};
use crate::proc::smaps::Rollup;
use crate::process::ProcessInfo;
use crate::region::stats::{MemoryStats, StatsBuilder};
use crate::region::view::{RegionSource, RegionView};
use crate::region::{MemoryRegion, Perms, RegionType};

/// Analyzes the memory of one process.
///
/// ```no_run
/// use memlink::MemoryAnalyzer;
/// let a = MemoryAnalyzer::new(std::process::id())?;
/// let stats = a.get_memory_stats()?;
/// let rss = stats.total.memory.rss.map_or("-".to_string(), |b| b.to_string());
/// println!("{} regions, {rss} bytes resident", stats.total.count);
/// # Ok::<(), memlink::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct MemoryAnalyzer {
    dir: ProcDir,
}

impl MemoryAnalyzer {
    /// An analyzer for process `pid`.
    ///
    /// # Errors
    /// The process does not exist, is a zombie or a kernel thread, or cannot be read.
    pub fn new(pid: u32) -> Result<Self> {
        Self::with_proc_root(Path::new(platform::DEFAULT_PROC_ROOT), pid)
    }

    /// An analyzer reading procfs mounted at `root` (the host's `/proc` seen from a container).
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_proc_root(root: &Path, pid: u32) -> Result<Self> {
        Ok(MemoryAnalyzer {
            dir: platform::open_process(root, pid)?,
        })
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.dir.pid()
    }

    /// The process handle, for the platform calls that take one.
    pub fn proc_dir(&self) -> &ProcDir {
        &self.dir
    }

    /// When the thread-group leader has exited (`pthread_exit`) while other threads live: how
    /// many threads remain. The process's memory is then read through one of them (the
    /// leader's own files are empty), so every figure is still the process's.
    pub fn threads_after_leader_exit(&self) -> Option<usize> {
        self.dir.leader_exited()?;
        let pid = self.pid();
        let live = self
            .dir
            .tids()
            .map_or(0, |t| t.iter().filter(|&&t| t != pid).count());
        Some(live)
    }

    /// Facts about the process.
    pub fn process_info(&self) -> Result<ProcessInfo> {
        platform::process_info_of(&self.dir)
    }

    /// Streams the regions in address order; `detailed` reads `smaps` for per-region figures.
    pub fn regions(&self, detailed: bool) -> Result<Regions> {
        platform::regions_of(&self.dir, detailed)
    }

    /// A reader of the process's memory, through the same handle (see [`MemReader`]).
    pub fn memory(&self) -> MemReader {
        platform::memory_of(&self.dir)
    }

    /// Every region with its `smaps` figures.
    pub fn analyze(&self) -> Result<Vec<MemoryRegion>> {
        self.regions(true)?.collect()
    }

    /// Every region without figures (`maps` only: cheaper).
    pub fn list(&self) -> Result<Vec<MemoryRegion>> {
        self.regions(false)?.collect()
    }

    /// Totals, by type and by file, computed from `smaps` in one streaming pass.
    pub fn get_memory_stats(&self) -> Result<MemoryStats> {
        let mut b = StatsBuilder::new();
        let mut regions = self.regions(true)?;
        while let Some(r) = regions.next_view() {
            b.add_view(&r?);
        }
        let mut stats = b.finish(self.pid());
        if let Some(rollup) = self.kernel_rollup()? {
            stats.apply_rollup(&rollup.usage);
        }
        Ok(stats)
    }

    /// The kernel's own totals, `smaps_rollup`, when the kernel has that file (4.14 and
    /// later): `None` on older kernels and in procfs captures without it, where totals are the
    /// sum of the regions. Read right after `smaps` by every command that shows totals, so that
    /// `analyze`, `map`, `snapshot` and `ps` give one PSS for one process.
    ///
    /// # Errors
    /// The process exited, or reading was refused.
    pub fn kernel_rollup(&self) -> Result<Option<Rollup>> {
        let bytes = match self.dir.read("smaps_rollup") {
            Ok(b) => b,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) && self.dir.is_alive() => {
                return Ok(None)
            }
            Err(e) => return Err(self.dir.error("read the memory totals of", e)),
        };
        match crate::proc::smaps::parse_rollup(&bytes)? {
            Some(r) => Ok(Some(r)),
            None if !self.dir.is_alive() => Err(crate::Error::ProcessExited {
                pid: self.pid(),
                during: "its memory totals were being read".into(),
            }),
            None => Ok(None),
        }
    }

    /// Process-wide totals from `smaps_rollup`, without per-region work.
    pub fn rollup(&self) -> Result<Rollup> {
        platform::rollup_of(&self.dir)
    }

    /// The regions `keep` accepts; only those are copied out of the stream.
    fn find(&self, keep: impl Fn(&RegionView<'_>) -> bool) -> Result<Vec<MemoryRegion>> {
        let mut out = Vec::new();
        let mut regions = self.regions(true)?;
        while let Some(r) = regions.next_view() {
            let r = r?;
            if keep(&r) {
                out.push(r.to_region());
            }
        }
        Ok(out)
    }

    /// The heap: `[heap]` (glibc's other arenas are private anonymous memory).
    pub fn find_heap_regions(&self) -> Result<Vec<MemoryRegion>> {
        self.find(|r| r.region_type == RegionType::Heap)
    }

    /// The main stack and every thread stack found.
    pub fn find_stack_regions(&self) -> Result<Vec<MemoryRegion>> {
        self.find(|r| matches!(r.region_type, RegionType::Stack | RegionType::ThreadStack))
    }

    /// Every region with execute permission.
    pub fn find_executable_regions(&self) -> Result<Vec<MemoryRegion>> {
        self.find(|r| r.perms.contains(Perms::EXEC))
    }
}
