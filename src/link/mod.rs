//! `MemoryLinker`: sharing (or copying) a range of memory between two running processes, and
//! turning a shared range back into private memory.
//!
//! A [`LinkRequest`] is validated (arguments alone) by [`LinkRequest::validate`] before anything
//! is read; the pre-flight checks over `/proc` follow, before any process is stopped. Share mode
//! replaces the source range with a memfd named `memlink-link:SRCPID:HEXADDR` and maps the same
//! memfd in the target; copy mode copies once with `process_vm_readv`/`process_vm_writev`.
//! The Linux implementation lives behind [`crate::platform`]; elsewhere every operation returns
//! [`Error::Unsupported`].
//!
//! [`Error::Unsupported`]: crate::Error::Unsupported
//!
//! ```no_run
//! use memlink::link::{LinkRequest, MemoryLinker};
//! let req = LinkRequest::new(1234, 5678, 0x7f00_0000_0000, 4096);
//! let report = MemoryLinker::new().link(&req)?;
//! println!("linked {} bytes", report.size);
//! # Ok::<(), memlink::Error>(())
//! ```

pub mod request;

pub use request::*;

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;

impl LinkRequest {
    /// Checks the arguments alone: size not 0, page alignment, user-space bounds, two distinct
    /// processes, neither memlink itself.
    pub fn validate(&self) -> Result<()> {
        crate::platform::link_check_args(self)
    }
}

/// Links memory between processes (the seed's API).
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryLinker;

impl MemoryLinker {
    /// A linker.
    pub fn new() -> MemoryLinker {
        MemoryLinker
    }

    /// Runs `req`: validation, pre-flight checks, then the link (unless `dry_run`).
    ///
    /// # Errors
    /// Every refusal of the pre-flight checks ([`Error::InvalidArgument`], [`Error::Refused`],
    /// [`Error::Unmapped`], [`Error::NoSuchProcess`], [`Error::Zombie`], [`Error::KernelThread`],
    /// [`Error::PermissionDenied`]); [`Error::ProcessExited`] when a process dies during the
    /// link (the survivor is rolled back); [`Error::Unsupported`] off Linux/x86_64.
    ///
    /// [`Error::InvalidArgument`]: crate::Error::InvalidArgument
    /// [`Error::Refused`]: crate::Error::Refused
    /// [`Error::Unmapped`]: crate::Error::Unmapped
    /// [`Error::NoSuchProcess`]: crate::Error::NoSuchProcess
    /// [`Error::Zombie`]: crate::Error::Zombie
    /// [`Error::KernelThread`]: crate::Error::KernelThread
    /// [`Error::PermissionDenied`]: crate::Error::PermissionDenied
    /// [`Error::ProcessExited`]: crate::Error::ProcessExited
    /// [`Error::Unsupported`]: crate::Error::Unsupported
    pub fn link(&self, req: &LinkRequest) -> Result<LinkReport> {
        req.validate()?;
        crate::platform::link(req)
    }

    /// Runs `req`: turns a shared memfd range back into private memory with the same content.
    pub fn unlink(&self, req: &UnlinkRequest) -> Result<UnlinkReport> {
        crate::platform::unlink(req)
    }
}

/// The shared memfd ranges of `pid` that other processes map too (same device and inode),
/// found by scanning every readable `/proc/*/maps`.
pub fn link_partners(pid: u32) -> Result<Vec<LinkPartners>> {
    crate::platform::link_partners(pid)
}
