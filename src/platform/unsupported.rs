//! Platforms without a backend yet (macOS `vm_region`, Windows `VirtualQueryEx`): the process
//! handle cannot be opened, and every operation says it is not supported.

use std::path::Path;

use super::Backend;
use crate::error::{Error, Result};
use crate::link::request::{LinkPartners, LinkReport, LinkRequest, UnlinkReport, UnlinkRequest};
use crate::proc::smaps::Rollup;
use crate::process::ProcessInfo;

#[cfg(target_os = "macos")]
const PLATFORM: &str = "macOS (planned: vm_region)";
#[cfg(target_os = "windows")]
const PLATFORM: &str = "Windows (planned: VirtualQueryEx)";
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
const PLATFORM: &str = "this operating system";

fn unsupported(op: &'static str) -> Error {
    Error::Unsupported {
        op,
        platform: PLATFORM,
    }
}

/// The process handle; it cannot be opened here.
#[derive(Debug, Clone)]
pub struct ProcDir {
    pid: u32,
}

impl ProcDir {
    /// Always [`Error::Unsupported`].
    pub fn open(_: &Path, _: u32) -> Result<ProcDir> {
        Err(unsupported("opening a process"))
    }

    /// Always [`Error::Unsupported`].
    pub fn open_live(root: &Path, pid: u32) -> Result<ProcDir> {
        ProcDir::open(root, pid)
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }
}

/// The memory reader; every read is [`Error::Unsupported`].
#[derive(Debug)]
pub struct MemReader {
    pid: u32,
}

impl MemReader {
    /// A reader for the process of `dir`.
    pub fn new(dir: &ProcDir) -> MemReader {
        MemReader { pid: dir.pid }
    }

    /// The PID.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Always [`Error::Unsupported`].
    pub fn read(&self, _: u64, _: &mut [u8]) -> Result<usize> {
        Err(unsupported("reading memory"))
    }
}

pub(super) struct Native;

impl Backend for Native {
    fn open(root: &Path, pid: u32) -> Result<ProcDir> {
        ProcDir::open_live(root, pid)
    }

    fn regions(_: &ProcDir, _: bool) -> Result<super::Regions> {
        Err(unsupported("listing memory regions"))
    }

    fn rollup(_: &ProcDir) -> Result<Rollup> {
        Err(unsupported("reading memory totals"))
    }

    fn process_info(_: &ProcDir) -> Result<ProcessInfo> {
        Err(unsupported("reading process information"))
    }

    fn memory(dir: &ProcDir) -> MemReader {
        MemReader::new(dir)
    }

    fn link_check_args(_: &LinkRequest) -> Result<()> {
        Ok(())
    }

    fn link(_: &LinkRequest) -> Result<LinkReport> {
        Err(unsupported("linking memory"))
    }

    fn unlink(_: &UnlinkRequest) -> Result<UnlinkReport> {
        Err(unsupported("unlinking memory"))
    }

    fn link_partners(_: u32) -> Result<Vec<LinkPartners>> {
        Err(unsupported("finding link partners"))
    }
}
