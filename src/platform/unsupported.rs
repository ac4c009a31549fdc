//! Platforms without a backend yet (macOS `vm_region`, Windows `VirtualQueryEx`): every
//! operation says it is not supported.

use std::path::Path;

use super::Backend;
use crate::error::{Error, Result};
use crate::link::{LinkPartners, LinkReport, LinkRequest, UnlinkReport, UnlinkRequest};
use crate::proc::smaps::Rollup;
use crate::process::ProcessInfo;
use crate::region::MemoryRegion;

#[cfg(target_os = "macos")]
const PLATFORM: &str = "macOS (planned: vm_region)";
#[cfg(target_os = "windows")]
const PLATFORM: &str = "Windows (planned: VirtualQueryEx)";
#[cfg(not(any(target_os = "macos", target_os = "windows")))]
const PLATFORM: &str = "this operating system";

pub(super) struct Native;

impl Backend for Native {
    fn regions(_: &Path, _: u32, _: bool) -> Result<super::Regions> {
        Err(Error::Unsupported {
            op: "listing memory regions",
            platform: PLATFORM,
        })
    }

    fn rollup(_: &Path, _: u32) -> Result<Rollup> {
        Err(Error::Unsupported {
            op: "reading memory totals",
            platform: PLATFORM,
        })
    }

    fn process_info(_: &Path, _: u32) -> Result<ProcessInfo> {
        Err(Error::Unsupported {
            op: "reading process information",
            platform: PLATFORM,
        })
    }

    fn link_check_args(_: &LinkRequest) -> Result<()> {
        Ok(())
    }

    fn link(_: &LinkRequest) -> Result<LinkReport> {
        Err(Error::Unsupported {
            op: "linking memory",
            platform: PLATFORM,
        })
    }

    fn unlink(_: &UnlinkRequest) -> Result<UnlinkReport> {
        Err(Error::Unsupported {
            op: "unlinking memory",
            platform: PLATFORM,
        })
    }

    fn link_partners(_: u32) -> Result<Vec<LinkPartners>> {
        Err(Error::Unsupported {
            op: "finding link partners",
            platform: PLATFORM,
        })
    }
}
