//! Borrowed regions: [`RegionView`], a region that points into the buffers of whatever produced
//! it, and [`RegionSource`], anything that hands them out one at a time.
//!
//! Listing a process with 100,000 mappings as owned [`MemoryRegion`]s costs several heap
//! allocations per region (permissions, state, path, escaped path, name) only to print and drop
//! them. A view costs none: the stream parses each line into a slot it reuses, classifies it
//! there, and lends it out until the next call. Renderers (JSON, the text table, summaries)
//! take views, so they serve both the live stream and regions loaded from a snapshot.
//!
//! A view holds a path as the bytes the kernel printed. Turning them into a [`PathBuf`] and
//! back is exact on Unix, where paths are bytes; the conversions are `cfg(unix)`, with a lossy
//! fallback elsewhere.

#[cfg(unix)]
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::region::{
    escape_path, Device, MemoryRegion, Perms, RegionType, TypeReason, Usage, VmFlag,
};

/// A region borrowed from its source; [`to_region`](Self::to_region) makes an owned copy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionView<'a> {
    /// First address.
    pub base_address: usize,
    /// Size in bytes.
    pub size: usize,
    /// Permissions.
    pub perms: Perms,
    /// What kind of memory this is.
    pub region_type: RegionType,
    /// Why it got that type.
    pub type_reason: TypeReason,
    /// Offset into the file.
    pub offset: u64,
    /// Device of the mapped file.
    pub device: Device,
    /// Inode of the mapped file.
    pub inode: u64,
    /// The exact path bytes of a file-backed region, without the ` (deleted)` suffix.
    pub path: Option<&'a [u8]>,
    /// The kernel's pseudo-name (`[heap]`, `[vdso]`, `[anon:NAME]`).
    pub name: Option<&'a [u8]>,
    /// The file was deleted after it was mapped.
    pub deleted: bool,
    /// Figures from `smaps`, when detailed figures were read.
    pub usage: Option<&'a Usage>,
    /// `VmFlags` from `smaps`, when detailed figures were read.
    pub vm_flags: Option<&'a [VmFlag]>,
}

impl RegionView<'_> {
    /// One past the last address.
    pub fn end_address(&self) -> usize {
        self.base_address + self.size
    }

    /// An owned copy, as the streaming iterators and `Vec`-returning calls give.
    pub fn to_region(&self) -> MemoryRegion {
        let perms = self.perms;
        MemoryRegion {
            base_address: self.base_address,
            size: self.size,
            protection: String::from_utf8_lossy(&perms.as_bytes()).into_owned(),
            region_type: self.region_type,
            state: "active".to_string(),
            mapped_file: self.path.map(escape_path),
            perms,
            offset: self.offset,
            device: self.device,
            inode: self.inode,
            path: self.path.map(path_from_bytes),
            name: self.name.map(|n| String::from_utf8_lossy(n).into_owned()),
            deleted: self.deleted,
            type_reason: self.type_reason,
            usage: self.usage.copied(),
            vm_flags: self.vm_flags.map(<[VmFlag]>::to_vec),
        }
    }
}

/// The path with exactly these bytes (Unix paths are bytes).
#[cfg(unix)]
fn path_from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

/// The path these bytes spell; elsewhere paths are not bytes, so invalid UTF-8 is replaced.
#[cfg(not(unix))]
fn path_from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

/// The path's bytes.
#[cfg(unix)]
fn path_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// The path's bytes in the platform's encoding of `OsStr` (UTF-8 for valid Unicode).
#[cfg(not(unix))]
fn path_bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_encoded_bytes()
}

impl MemoryRegion {
    /// The region as a view, for the renderers that take one.
    pub fn view(&self) -> RegionView<'_> {
        RegionView {
            base_address: self.base_address,
            size: self.size,
            perms: self.perms,
            region_type: self.region_type,
            type_reason: self.type_reason,
            offset: self.offset,
            device: self.device,
            inode: self.inode,
            path: self.path.as_deref().map(path_bytes),
            name: self.name.as_deref().map(str::as_bytes),
            deleted: self.deleted,
            usage: self.usage.as_ref(),
            vm_flags: self.vm_flags.as_deref(),
        }
    }
}

/// Something that lends out regions in address order, one at a time: each view lives until the
/// next call. The live stream ([`crate::platform::Regions`]) is one; [`Owned`] turns any
/// iterator of owned regions (a snapshot's) into one.
pub trait RegionSource {
    /// The next region, an error, or `None` at the end.
    fn next_view(&mut self) -> Option<Result<RegionView<'_>>>;
}

/// A [`RegionSource`] over an iterator of owned regions.
#[derive(Debug)]
pub struct Owned<I> {
    iter: I,
    current: Option<MemoryRegion>,
}

impl<I: Iterator<Item = Result<MemoryRegion>>> Owned<I> {
    /// Wraps `iter`.
    pub fn new(iter: I) -> Owned<I> {
        Owned {
            iter,
            current: None,
        }
    }
}

impl<I: Iterator<Item = Result<MemoryRegion>>> RegionSource for Owned<I> {
    fn next_view(&mut self) -> Option<Result<RegionView<'_>>> {
        match self.iter.next()? {
            Ok(r) => Some(Ok(self.current.insert(r).view())),
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proc::maps;
    use crate::region::classify::{classify_all, Classifier};

    #[test]
    fn view_and_owned_copy_round_trip() {
        let text = include_bytes!("../../tests/fixtures/proc/odd/maps");
        let lines = maps::parse(text).unwrap();
        let regions = classify_all(&Classifier::default(), &lines);
        assert!(regions.iter().any(|r| r.deleted));
        assert!(regions.iter().any(|r| r.name.is_some()));
        for r in &regions {
            assert_eq!(&r.view().to_region(), r);
        }
        let mut src = Owned::new(regions.clone().into_iter().map(Ok));
        let mut n = 0;
        while let Some(v) = src.next_view() {
            assert_eq!(v.unwrap().to_region(), regions[n]);
            n += 1;
        }
        assert_eq!(n, regions.len());
    }
}
