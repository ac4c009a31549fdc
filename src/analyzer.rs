//! [`MemoryAnalyzer`]: the entry point for looking at one process's memory.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::platform::{self, Regions};
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
    pid: u32,
    root: PathBuf,
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
    pub fn with_proc_root(root: &Path, pid: u32) -> Result<Self> {
        let info = platform::process_info_in(root, pid)?;
        if info.state == 'Z' || info.state == 'X' {
            return Err(Error::Zombie { pid });
        }
        if info.kernel_thread {
            return Err(Error::KernelThread { pid });
        }
        Ok(MemoryAnalyzer {
            pid,
            root: root.to_path_buf(),
        })
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Facts about the process.
    pub fn process_info(&self) -> Result<ProcessInfo> {
        platform::process_info_in(&self.root, self.pid)
    }

    /// Streams the regions in address order; `detailed` reads `smaps` for per-region figures.
    pub fn regions(&self, detailed: bool) -> Result<Regions> {
        platform::regions_in(&self.root, self.pid, detailed)
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
        Ok(b.finish(self.pid))
    }

    /// Process-wide totals from `smaps_rollup`, without per-region work.
    pub fn rollup(&self) -> Result<Rollup> {
        platform::rollup_in(&self.root, self.pid)
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
