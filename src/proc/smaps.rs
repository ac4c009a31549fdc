//! `/proc/PID/smaps` and `/proc/PID/smaps_rollup`: a `maps` header line per mapping followed by
//! `Key:   value kB` lines and a `VmFlags:` line.
//!
//! [`SmapsParser`] is fed one line at a time, so a caller can stream a file of any size with a
//! bounded buffer. Figures are converted to bytes; unknown keys are ignored so that newer kernels
//! still parse.

use crate::error::{Error, Result};
use crate::memory::{Device, Perms, Usage, VmFlag};

use super::maps::{self, MapsLine};

/// One mapping from `smaps`, owning its path.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SmapsEntry {
    /// First address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Permissions.
    pub perms: Perms,
    /// File offset.
    pub offset: u64,
    /// Device.
    pub device: Device,
    /// Inode.
    pub inode: u64,
    /// The path column (empty for anonymous memory).
    pub pathname: Vec<u8>,
    /// Figures, in bytes.
    pub usage: Usage,
    /// `VmFlags`.
    pub vm_flags: Vec<VmFlag>,
}

impl SmapsEntry {
    /// An entry with the header's fields and no figures.
    pub fn from_header(h: &MapsLine<'_>) -> SmapsEntry {
        SmapsEntry {
            start: h.start,
            end: h.end,
            perms: h.perms,
            offset: h.offset,
            device: h.device,
            inode: h.inode,
            pathname: h.pathname.to_vec(),
            usage: Usage::default(),
            vm_flags: Vec::new(),
        }
    }

    /// Borrows the header fields as a [`MapsLine`].
    pub fn as_maps_line(&self) -> MapsLine<'_> {
        MapsLine {
            start: self.start,
            end: self.end,
            perms: self.perms,
            offset: self.offset,
            device: self.device,
            inode: self.inode,
            pathname: &self.pathname,
        }
    }
}

/// Streaming parser for `smaps`: feed lines, collect finished entries.
#[derive(Debug, Default)]
pub struct SmapsParser {
    current: Option<SmapsEntry>,
    line_no: usize,
}

/// Is this line the header of a new mapping (it starts with a lowercase hex address)?
fn is_header(line: &[u8]) -> bool {
    matches!(line.first(), Some(b'0'..=b'9' | b'a'..=b'f'))
}

impl SmapsParser {
    /// A parser at the start of a file.
    pub fn new() -> SmapsParser {
        SmapsParser::default()
    }

    /// Feeds one line (without its newline). Returns the previous entry when this line starts a
    /// new one.
    pub fn feed_line(&mut self, line: &[u8]) -> Result<Option<SmapsEntry>> {
        self.line_no += 1;
        if is_header(line) {
            let header = maps::parse_line(line, self.line_no)?;
            return Ok(self.current.replace(SmapsEntry::from_header(&header)));
        }
        let Some(entry) = self.current.as_mut() else {
            if line.is_empty() {
                return Ok(None);
            }
            return Err(Error::parse(
                "smaps",
                self.line_no,
                "field before the first mapping",
                line,
            ));
        };
        if fast_kb_field(&mut entry.usage, line) {
            return Ok(None);
        }
        apply_field(
            &mut entry.usage,
            &mut entry.vm_flags,
            line,
            "smaps",
            self.line_no,
        )?;
        Ok(None)
    }

    /// Ends the input, returning the last entry.
    pub fn finish(&mut self) -> Option<SmapsEntry> {
        self.current.take()
    }
}

/// The common case, `Key:<spaces><digits> kB` for a known key, in a few dozen instructions: a
/// listing of 100,000 mappings parses 2.5 million such lines. Returns false for anything else,
/// which [`apply_field`] then handles (and rejects when malformed).
#[inline]
fn fast_kb_field(usage: &mut Usage, line: &[u8]) -> bool {
    let Some(body) = line.strip_suffix(b" kB") else {
        return false;
    };
    // `Size` is the range's length, which the header already gives.
    if body.starts_with(b"Size:") {
        return true;
    }
    let mut end = body.len();
    let mut n: u64 = 0;
    let mut scale: u64 = 1;
    while end > 0 && body[end - 1].is_ascii_digit() && scale <= 1_000_000_000_000 {
        n += (body[end - 1] - b'0') as u64 * scale;
        scale *= 10;
        end -= 1;
    }
    if scale == 1 || end == 0 || body[end - 1] != b' ' {
        return false;
    }
    let Some(colon) = body[..end].iter().position(|&c| c == b':') else {
        return false;
    };
    // Only spaces between the colon and the digits, checked a word at a time.
    let pad = &body[colon + 1..end];
    let mut words = pad.chunks_exact(8);
    let spaces = words.by_ref().all(|w| {
        u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
            == 0x2020_2020_2020_2020
    }) && words.remainder().iter().all(|&c| c == b' ');
    if !spaces {
        return false;
    }
    match field_slot(usage, &body[..colon]) {
        Some(slot) => {
            *slot = n.saturating_mul(1024);
            true
        }
        None => false,
    }
}

/// Applies one `Key: value` line to `usage` (or `flags` for `VmFlags`).
fn apply_field(
    usage: &mut Usage,
    flags: &mut Vec<VmFlag>,
    line: &[u8],
    what: &str,
    line_no: usize,
) -> Result<()> {
    if line.is_empty() {
        return Ok(());
    }
    let Some(colon) = line.iter().take(64).position(|&c| c == b':') else {
        return Err(Error::parse(what, line_no, "expected 'Key: value'", line));
    };
    let (key, value) = (&line[..colon], &line[colon + 1..]);
    if key == b"VmFlags" {
        flags.extend(
            value
                .split(|&c| c == b' ')
                .filter(|t| t.len() == 2)
                .map(|t| VmFlag([t[0], t[1]])),
        );
        return Ok(());
    }
    // `   1234 kB` (or a bare number): read the digits backwards from the end, then check that
    // only padding precedes them. The padding check folds instead of branching per byte.
    let (body, unit_kb) = match value.strip_suffix(b" kB") {
        Some(b) => (b, true),
        None => (trim(value), false),
    };
    let digits = body.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    let (pad, num) = body.split_at(body.len() - digits);
    let padding_ok = pad.iter().fold(0u8, |acc, &c| acc | (c ^ b' ')) == 0;
    let n = if digits == 0 || digits > 19 || !padding_ok {
        None
    } else {
        Some(
            num.iter()
                .fold(0u64, |acc, &c| acc * 10 + (c - b'0') as u64),
        )
    };
    let Some(n) = n else {
        // A field memlink does not know may carry any value; a known one must be a number.
        if field_slot(usage, key).is_some() {
            return Err(Error::parse(what, line_no, "expected a number", line));
        }
        return Ok(());
    };
    let bytes = if unit_kb { n.saturating_mul(1024) } else { n };
    if let Some(slot) = field_slot(usage, key) {
        *slot = bytes;
    } else {
        match key {
            b"THPeligible" => usage.thp_eligible = Some(n != 0),
            b"ProtectionKey" => usage.protection_key = u32::try_from(n).ok(),
            _ => {}
        }
    }
    Ok(())
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&c| c != b' ' && c != b'\t')
        .map_or(start, |e| e + 1);
    &s[start..end]
}

fn field_slot<'u>(u: &'u mut Usage, key: &[u8]) -> Option<&'u mut u64> {
    // Dispatch on length first: most keys are told apart by it and one comparison.
    Some(match (key.len(), key) {
        (3, b"Rss") => &mut u.rss,
        (3, b"KSM") => &mut u.ksm,
        (3, b"Pss") => &mut u.pss,
        (4, b"Swap") => &mut u.swap,
        (6, b"Locked") => &mut u.locked,
        (7, b"SwapPss") => &mut u.swap_pss,
        (8, b"LazyFree") => &mut u.lazy_free,
        (8, b"Pss_Anon") => &mut u.pss_anon,
        (8, b"Pss_File") => &mut u.pss_file,
        (9, b"Anonymous") => &mut u.anonymous,
        (9, b"Pss_Dirty") => &mut u.pss_dirty,
        (9, b"Pss_Shmem") => &mut u.pss_shmem,
        (10, b"Referenced") => &mut u.referenced,
        (11, b"MMUPageSize") => &mut u.mmu_page_size,
        (12, b"Shared_Clean") => &mut u.shared_clean,
        (12, b"Shared_Dirty") => &mut u.shared_dirty,
        (13, b"AnonHugePages") => &mut u.anon_huge_pages,
        (13, b"FilePmdMapped") => &mut u.file_pmd_mapped,
        (13, b"Private_Clean") => &mut u.private_clean,
        (13, b"Private_Dirty") => &mut u.private_dirty,
        (14, b"KernelPageSize") => &mut u.kernel_page_size,
        (14, b"ShmemPmdMapped") => &mut u.shmem_pmd_mapped,
        (14, b"Shared_Hugetlb") => &mut u.shared_hugetlb,
        (15, b"Private_Hugetlb") => &mut u.private_hugetlb,
        _ => return None,
    })
}

/// Parses a whole `smaps` file.
pub fn parse(bytes: &[u8]) -> Result<Vec<SmapsEntry>> {
    let mut p = SmapsParser::new();
    let mut out = Vec::new();
    for (_, line) in super::lines(bytes) {
        if let Some(e) = p.feed_line(line)? {
            out.push(e);
        }
    }
    out.extend(p.finish());
    Ok(out)
}

/// The totals of `/proc/PID/smaps_rollup`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rollup {
    /// Lowest mapped address (from the `[rollup]` header).
    pub start: u64,
    /// One past the highest mapped address.
    pub end: u64,
    /// Summed figures, in bytes.
    pub usage: Usage,
}

/// Parses `smaps_rollup`. An empty file (kernel thread, zombie) gives `None`.
pub fn parse_rollup(bytes: &[u8]) -> Result<Option<Rollup>> {
    let mut lines = super::lines(bytes);
    let Some((n, header)) = lines.next() else {
        return Ok(None);
    };
    let h = maps::parse_line(header, n)?;
    let mut rollup = Rollup {
        start: h.start,
        end: h.end,
        usage: Usage::default(),
    };
    let mut flags = Vec::new();
    for (n, line) in lines {
        apply_field(&mut rollup.usage, &mut flags, line, "smaps_rollup", n)?;
    }
    Ok(Some(rollup))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: &[u8] = b"55e6eacae000-55e6eacaf000 r--p 00000000 fe:00 827394   /srv/fixture/odd
Size:                  4 kB
Rss:                   4 kB
Pss:                   2 kB
Private_Dirty:         4 kB
THPeligible:           0
ProtectionKey:         3
Unknown_New:        junk
VmFlags: rd mr mw me 
7f686215b000-7f686215c000 ---p 00000000 00:00 0 
Size:                  4 kB
Swap:                  8 kB
VmFlags: mr mw me ac zz 
";

    #[test]
    fn two_entries() {
        let v = parse(TWO).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].pathname, b"/srv/fixture/odd");
        assert_eq!(v[0].usage.rss, 4096);
        assert_eq!(v[0].usage.pss, 2048);
        assert_eq!(v[0].usage.private_dirty, 4096);
        assert_eq!(v[0].usage.thp_eligible, Some(false));
        assert_eq!(v[0].usage.protection_key, Some(3));
        assert_eq!(v[0].vm_flags.len(), 4);
        assert_eq!(v[1].usage.swap, 8192);
        assert!(
            v[1].vm_flags.contains(&VmFlag(*b"zz")),
            "unknown flags survive"
        );
    }

    #[test]
    fn malformed_known_field_names_line() {
        let e = parse(b"1000-2000 rw-p 0 00:00 0\nRss: lots kB\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        let e = parse(b"Rss: 4 kB\n").unwrap_err();
        assert!(e.to_string().contains("before the first mapping"), "{e}");
        let e = parse(b"1000-2000 rw-p 0 00:00 0\nno colon here\n").unwrap_err();
        assert!(e.to_string().contains("Key: value"), "{e}");
    }

    #[test]
    fn rollup_empty_and_full() {
        assert_eq!(parse_rollup(b"").unwrap(), None);
        let r = parse_rollup(
            b"55e6eacae000-7ffea4da5000 ---p 00000000 00:00 0    [rollup]\nRss: 2460 kB\nPss_Anon: 1164 kB\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.usage.rss, 2460 * 1024);
        assert_eq!(r.usage.pss_anon, 1164 * 1024);
        assert_eq!(r.start, 0x55e6eacae000);
    }
}
