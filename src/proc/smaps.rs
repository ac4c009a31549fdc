//! `/proc/PID/smaps` and `/proc/PID/smaps_rollup`: a `maps` header line per mapping followed by
//! `Key:   value kB` lines and a `VmFlags:` line.
//!
//! [`SmapsParser`] is fed one line at a time, so a caller can stream a file of any size with a
//! bounded buffer. Figures are converted to bytes; unknown keys are ignored so that newer kernels
//! still parse.

use crate::error::{Error, Result};
use crate::proc::vocab::{Device, Perms, Usage, VmFlag};

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
        let mut e = SmapsEntry::default();
        e.set_header(h);
        e
    }

    /// Makes this entry the header `h` with no figures, reusing its buffers (a stream that
    /// parses into a few entries over and over allocates nothing per mapping).
    pub fn set_header(&mut self, h: &MapsLine<'_>) {
        self.start = h.start;
        self.end = h.end;
        self.perms = h.perms;
        self.offset = h.offset;
        self.device = h.device;
        self.inode = h.inode;
        self.pathname.clear();
        self.pathname.extend_from_slice(h.pathname);
        self.usage = Usage::default();
        self.vm_flags.clear();
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

/// Is this line the header of a new mapping (it starts with a lowercase hex address)?
pub fn is_header(line: &[u8]) -> bool {
    matches!(line.first(), Some(b'0'..=b'9' | b'a'..=b'f'))
}

/// Streaming parser for `smaps`.
///
/// The primitives ([`header`](Self::header), [`field`](Self::field),
/// [`fixed_field`](Self::fixed_field)) parse into entries the caller owns, so that a stream can
/// keep a small window of entries and reuse them; [`feed_line`](Self::feed_line) is the simple
/// form that hands out each finished entry.
#[derive(Debug)]
pub struct SmapsParser {
    current: Option<SmapsEntry>,
    line_no: usize,
    fixed: FixedFields,
}

impl Default for SmapsParser {
    fn default() -> Self {
        SmapsParser::new()
    }
}

impl SmapsParser {
    /// A parser at the start of a file.
    pub fn new() -> SmapsParser {
        SmapsParser {
            current: None,
            line_no: 0,
            fixed: FixedFields::default(),
        }
    }

    /// A parser that never takes the fixed-layout shortcut ([`fixed_field`](Self::fixed_field)
    /// always declines): the reference the shortcut is tested against.
    pub fn general_only() -> SmapsParser {
        SmapsParser {
            fixed: FixedFields {
                disabled: true,
                ..FixedFields::default()
            },
            ..SmapsParser::new()
        }
    }

    /// Parses a header line (see [`is_header`]) into `entry`, which starts over with no figures.
    pub fn header(&mut self, entry: &mut SmapsEntry, line: &[u8]) -> Result<()> {
        let h = maps::parse_line(line, self.line_no + 1)?;
        self.start_entry(entry, &h);
        Ok(())
    }

    /// The shortcut for a header: when `buf` starts with a well-formed header line and its
    /// newline, parses it into `entry` (see [`maps::parse_prefix`]) and returns the bytes it
    /// took; otherwise returns 0 and the caller parses the line with [`header`](Self::header).
    #[inline]
    pub fn header_prefix(&mut self, entry: &mut SmapsEntry, buf: &[u8]) -> usize {
        let Some((h, n)) = maps::parse_prefix(buf) else {
            return 0;
        };
        self.start_entry(entry, &h);
        n
    }

    /// Makes `entry` the mapping of header `h`, whose field lines come next.
    fn start_entry(&mut self, entry: &mut SmapsEntry, h: &MapsLine<'_>) {
        self.line_no += 1;
        entry.set_header(h);
        self.fixed.index = 0;
    }

    /// Applies a field line to `entry`, the mapping whose header came last (`None` before the
    /// first header, where only blank lines are allowed).
    pub fn field(&mut self, entry: Option<&mut SmapsEntry>, line: &[u8]) -> Result<()> {
        self.line_no += 1;
        let Some(entry) = entry else {
            if line.is_empty() {
                return Ok(());
            }
            return Err(Error::parse(
                "smaps",
                self.line_no,
                "field before the first mapping",
                line,
            ));
        };
        if !fast_kb_field(&mut entry.usage, line) {
            apply_field(
                &mut entry.usage,
                &mut entry.vm_flags,
                line,
                "smaps",
                self.line_no,
            )?;
        }
        self.fixed.learn(line);
        Ok(())
    }

    /// The shortcut for the common line: when `buf` starts with a line of the fixed layout
    /// learned from earlier mappings, applies it to `entry` and returns the bytes it took,
    /// newline included; otherwise returns 0 and the caller parses the line with
    /// [`field`](Self::field) (which gives the same result, or the error).
    ///
    /// The kernel prints each `Key: N kB` line in one 27-byte form (the key padded to 16
    /// columns, the value right-aligned in 8, then ` kB`), in the same order for every mapping.
    /// Knowing which key comes next, the shortcut compares the line's first 16 bytes with that
    /// key's, checks the ` kB\n` at its end and reads the value columns as one word, without
    /// searching for the end of the line.
    #[inline]
    pub fn fixed_field(&mut self, entry: &mut SmapsEntry, buf: &[u8]) -> usize {
        let n = self.fixed.apply(&mut entry.usage, buf);
        if n > 0 {
            self.line_no += 1;
        }
        n
    }

    /// Feeds one line (without its newline). Returns the previous entry when this line starts a
    /// new one.
    pub fn feed_line(&mut self, line: &[u8]) -> Result<Option<SmapsEntry>> {
        if is_header(line) {
            let mut e = SmapsEntry::default();
            self.header(&mut e, line)?;
            return Ok(self.current.replace(e));
        }
        let mut current = self.current.take();
        let res = self.field(current.as_mut(), line);
        self.current = current;
        res.map(|_| None)
    }

    /// Ends the input, returning the last entry.
    pub fn finish(&mut self) -> Option<SmapsEntry> {
        self.current.take()
    }
}

/// Columns of the key (and colon and padding) of a fixed-layout line; the value follows,
/// right-aligned in 8 columns, then ` kB` for figures, as the kernel's
/// `seq_put_decimal_ull_width(.., 8)` and `%8u` print them.
const KEY_COLUMNS: usize = 16;
const VALUE_END: usize = KEY_COLUMNS + 8;

/// Which [`Usage`] figure a `Key: N kB` line sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Rss,
    Ksm,
    Pss,
    Swap,
    Locked,
    SwapPss,
    LazyFree,
    PssAnon,
    PssFile,
    Anonymous,
    PssDirty,
    PssShmem,
    Referenced,
    MmuPageSize,
    SharedClean,
    SharedDirty,
    AnonHugePages,
    FilePmdMapped,
    PrivateClean,
    PrivateDirty,
    KernelPageSize,
    ShmemPmdMapped,
    SharedHugetlb,
    PrivateHugetlb,
    /// `Size`: the range's length, which the header already gives.
    Size,
    /// `THPeligible` (a number without unit).
    ThpEligible,
    /// `ProtectionKey` (a number without unit).
    ProtectionKey,
}

impl Field {
    fn of(key: &[u8]) -> Option<Field> {
        // Dispatch on length first: most keys are told apart by it and one comparison.
        Some(match (key.len(), key) {
            (3, b"Rss") => Field::Rss,
            (3, b"KSM") => Field::Ksm,
            (3, b"Pss") => Field::Pss,
            (4, b"Swap") => Field::Swap,
            (6, b"Locked") => Field::Locked,
            (7, b"SwapPss") => Field::SwapPss,
            (8, b"LazyFree") => Field::LazyFree,
            (8, b"Pss_Anon") => Field::PssAnon,
            (8, b"Pss_File") => Field::PssFile,
            (9, b"Anonymous") => Field::Anonymous,
            (9, b"Pss_Dirty") => Field::PssDirty,
            (9, b"Pss_Shmem") => Field::PssShmem,
            (10, b"Referenced") => Field::Referenced,
            (11, b"MMUPageSize") => Field::MmuPageSize,
            (12, b"Shared_Clean") => Field::SharedClean,
            (12, b"Shared_Dirty") => Field::SharedDirty,
            (13, b"AnonHugePages") => Field::AnonHugePages,
            (13, b"FilePmdMapped") => Field::FilePmdMapped,
            (13, b"Private_Clean") => Field::PrivateClean,
            (13, b"Private_Dirty") => Field::PrivateDirty,
            (14, b"KernelPageSize") => Field::KernelPageSize,
            (14, b"ShmemPmdMapped") => Field::ShmemPmdMapped,
            (14, b"Shared_Hugetlb") => Field::SharedHugetlb,
            (15, b"Private_Hugetlb") => Field::PrivateHugetlb,
            _ => return None,
        })
    }

    /// The figure this line sets (`None` for `Size`, which sets none).
    fn slot(self, u: &mut Usage) -> Option<&mut u64> {
        Some(match self {
            Field::Rss => &mut u.rss,
            Field::Ksm => &mut u.ksm,
            Field::Pss => &mut u.pss,
            Field::Swap => &mut u.swap,
            Field::Locked => &mut u.locked,
            Field::SwapPss => &mut u.swap_pss,
            Field::LazyFree => &mut u.lazy_free,
            Field::PssAnon => &mut u.pss_anon,
            Field::PssFile => &mut u.pss_file,
            Field::Anonymous => &mut u.anonymous,
            Field::PssDirty => &mut u.pss_dirty,
            Field::PssShmem => &mut u.pss_shmem,
            Field::Referenced => &mut u.referenced,
            Field::MmuPageSize => &mut u.mmu_page_size,
            Field::SharedClean => &mut u.shared_clean,
            Field::SharedDirty => &mut u.shared_dirty,
            Field::AnonHugePages => &mut u.anon_huge_pages,
            Field::FilePmdMapped => &mut u.file_pmd_mapped,
            Field::PrivateClean => &mut u.private_clean,
            Field::PrivateDirty => &mut u.private_dirty,
            Field::KernelPageSize => &mut u.kernel_page_size,
            Field::ShmemPmdMapped => &mut u.shmem_pmd_mapped,
            Field::SharedHugetlb => &mut u.shared_hugetlb,
            Field::PrivateHugetlb => &mut u.private_hugetlb,
            Field::Size | Field::ThpEligible | Field::ProtectionKey => return None,
        })
    }

    /// Stores the value `n` of a fixed-layout line (in kB for the figures), as the general
    /// parser does.
    fn store(self, u: &mut Usage, n: u64) {
        match self {
            Field::ThpEligible => u.thp_eligible = Some(n != 0),
            Field::ProtectionKey => u.protection_key = u32::try_from(n).ok(),
            _ => {
                if let Some(slot) = self.slot(u) {
                    *slot = n.saturating_mul(1024);
                }
            }
        }
    }
}

/// The order and spelling of one kernel's `Key: N kB` lines, learned as the general parser
/// accepts them.
///
/// Every mapping of a `smaps` file lists the same keys in the same order, each line in the
/// fixed 27-byte form. Knowing which key comes `index`-th, the shortcut compares the line's first
/// 16 bytes with that key's (two word compares), checks the ` kB\n` at its end and reads the
/// eight value columns as one word; it never searches for the newline. Anything else (a value
/// too wide for eight columns, `VmFlags`, a key in another place) falls back to the general
/// parser, which then decides.
#[derive(Debug, Default)]
struct FixedFields {
    /// Per line position in an entry: the line's template, when that line had the fixed form
    /// the last time.
    layout: Vec<Option<Template>>,
    /// Position of the next line in the current entry.
    index: usize,
    disabled: bool,
}

/// What a fixed-layout line at one position looks like.
#[derive(Debug, Clone, Copy)]
struct Template {
    /// The key, its colon and the padding.
    key: [u8; KEY_COLUMNS],
    field: Field,
    /// The line ends in ` kB` (figures), else right after the value.
    kb: bool,
}

impl Template {
    /// The line's length with its newline.
    fn len(&self) -> usize {
        VALUE_END + if self.kb { 4 } else { 1 }
    }
}

impl FixedFields {
    /// Records the line at the current position (which the general parser accepted).
    fn learn(&mut self, line: &[u8]) {
        let learned = template(line).filter(|_| !self.disabled);
        if self.index < self.layout.len() {
            self.layout[self.index] = learned;
        } else if self.index == self.layout.len() && self.layout.len() < 64 {
            self.layout.push(learned);
        }
        self.index += 1;
    }

    /// Applies the line at the start of `buf` when it has the expected template; returns the
    /// bytes it took (0 when it does not fit).
    #[inline]
    fn apply(&mut self, usage: &mut Usage, buf: &[u8]) -> usize {
        let Some(Some(t)) = self.layout.get(self.index) else {
            return 0;
        };
        let len = t.len();
        let Some(line) = buf.get(..len) else {
            return 0;
        };
        let end: &[u8] = if t.kb { b" kB\n" } else { b"\n" };
        if line[..KEY_COLUMNS] != t.key[..] || &line[VALUE_END..] != end {
            return 0;
        }
        let Some(v) = parse_right_aligned8(line[KEY_COLUMNS..VALUE_END].try_into().ok()) else {
            return 0;
        };
        t.field.store(usage, v);
        self.index += 1;
        len
    }
}

/// The template of a line in a fixed form: `Key:`, spaces to column 16, the value
/// right-aligned in 8 columns, and ` kB` for a figure or nothing for `THPeligible` and
/// `ProtectionKey`.
fn template(line: &[u8]) -> Option<Template> {
    let kb = match line.len() {
        27 if line.ends_with(b" kB") => true,
        VALUE_END => false,
        _ => return None,
    };
    let key: [u8; KEY_COLUMNS] = line[..KEY_COLUMNS].try_into().ok()?;
    let colon = key.iter().position(|&c| c == b':')?;
    if !key[colon + 1..].iter().all(|&c| c == b' ') {
        return None;
    }
    parse_right_aligned8(line[KEY_COLUMNS..VALUE_END].try_into().ok())?;
    let field = match (&key[..colon], kb) {
        (b"Size", true) => Field::Size,
        (b"THPeligible", false) => Field::ThpEligible,
        (b"ProtectionKey", false) => Field::ProtectionKey,
        (k, true) => Field::of(k)?,
        (_, false) => return None,
    };
    Some(Template { key, field, kb })
}

/// Parses eight columns holding a right-aligned decimal number: spaces, then at least one
/// digit, then nothing else. The checks and the conversion work on the eight bytes as one word.
#[inline]
fn parse_right_aligned8(cols: Option<[u8; 8]>) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let x = u64::from_le_bytes(cols?);
    // 0x80 in each byte that is a space (exact, no carries between bytes).
    let t = x ^ (ONES * b' ' as u64);
    let spaces = !(((t & (ONES * 0x7f)) + ONES * 0x7f) | t | (ONES * 0x7f));
    // Spaces must be the leading (low, in little-endian order) bytes, and the last byte a digit.
    let mask = (spaces >> 7) * 0xff;
    if mask & mask.wrapping_add(1) != 0 || mask == u64::MAX {
        return None;
    }
    // Leading spaces read as zeros; then every byte must be '0'..='9'.
    let x = x | (mask & (ONES * 0x10));
    if x & (ONES * 0xf0) != ONES * 0x30 {
        return None;
    }
    let d = x & (ONES * 0x0f);
    if (d + ONES * 0x06) & (ONES * 0xf0) != 0 {
        return None;
    }
    // Pairs, quads, then all eight digits; the first byte is the most significant digit. The
    // products' high bits are meant to fall off.
    let d = (d.wrapping_mul(10 << 8 | 1) >> 8) & 0x00ff_00ff_00ff_00ff;
    let d = (d.wrapping_mul(100 << 16 | 1) >> 16) & 0x0000_ffff_0000_ffff;
    let d = d.wrapping_mul(10_000 << 32 | 1) >> 32;
    Some(d)
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
    Field::of(key)?.slot(u)
}

/// Parses a whole `smaps` file.
pub fn parse(bytes: &[u8]) -> Result<Vec<SmapsEntry>> {
    parse_with(SmapsParser::new(), bytes)
}

/// Parses a whole `smaps` file with `parser`, which may be [`SmapsParser::general_only`].
pub fn parse_with(mut parser: SmapsParser, bytes: &[u8]) -> Result<Vec<SmapsEntry>> {
    let mut out: Vec<SmapsEntry> = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        if let Some(e) = out.last_mut() {
            let n = parser.fixed_field(e, rest);
            if n > 0 {
                pos += n;
                continue;
            }
        }
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], pos + i + 1),
            None => (rest, bytes.len()),
        };
        if is_header(line) {
            let mut e = SmapsEntry::default();
            parser.header(&mut e, line)?;
            out.push(e);
        } else {
            parser.field(out.last_mut(), line)?;
        }
        pos = next;
    }
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
    fn right_aligned_columns() {
        let p = |s: &[u8; 8]| parse_right_aligned8(Some(*s));
        assert_eq!(p(b"       0"), Some(0));
        assert_eq!(p(b"       4"), Some(4));
        assert_eq!(p(b"    1234"), Some(1234));
        assert_eq!(p(b"99999999"), Some(99_999_999));
        assert_eq!(p(b"12345678"), Some(12_345_678));
        assert_eq!(p(b" 9087001"), Some(9_087_001));
        for bad in [
            b"        ",
            b"   12 34",
            b"1234    ",
            b"   -1234",
            b"   1234a",
            b"  12:45 ",
            b"\t   1234",
            b"   /1234",
            b"\t  12345",
        ] {
            assert_eq!(p(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        // Every byte value in every column: the word-at-a-time checks agree with a plain loop.
        for col in 0..8 {
            for b in 0..=255u8 {
                let mut s = *b"   12345";
                s[col] = b;
                let digits = s.iter().skip_while(|&&c| c == b' ').collect::<Vec<_>>();
                let plain =
                    (!digits.is_empty() && digits.iter().all(|c| c.is_ascii_digit())).then(|| {
                        digits
                            .iter()
                            .fold(0u64, |a, &&c| a * 10 + (c - b'0') as u64)
                    });
                assert_eq!(p(&s), plain, "{s:?}");
            }
        }
    }

    /// The fixed-layout shortcut gives exactly what the general parser gives, on a real capture
    /// and on copies of it with lines changed in the ways a shortcut could get wrong.
    #[test]
    fn fixed_layout_shortcut_matches_general_parser() {
        let capture = include_bytes!("../../tests/fixtures/proc/odd/smaps");
        let mut variants = vec![capture.to_vec()];
        let text = String::from_utf8_lossy(capture).into_owned();
        for (from, to) in [
            ("Rss:                   4 kB", "Rss:               12345 kB"),
            (
                "Rss:                   4 kB",
                "Rss:             123456789 kB",
            ),
            ("Pss:                   4 kB", "Pss:                 1 2 kB"),
            ("Swap:                  0 kB", "Swap:                  0 KB"),
            ("Locked:                0 kB", "Locked:         0       kB"),
            ("Referenced:            4 kB", "Shared_Dirty:          7 kB"),
            ("KSM:                   0 kB", "KSM:                    kB"),
            ("THPeligible:           0", "THPeligible:           1"),
            ("THPeligible:           0", "THPeligible:          0 kB"),
            ("THPeligible:           0", "ProtectionKey:         7"),
            ("THPeligible:           0", "THPeligible:          -1"),
            ("THPeligible:           0", "THPeligible:\t        5"),
        ] {
            assert!(text.contains(from), "{from}");
            // Change every other occurrence, so the layout is learned, broken and learned again.
            let mut out = String::new();
            for (i, part) in text.split(from).enumerate() {
                if i > 0 {
                    out.push_str(if i % 2 == 0 { to } else { from });
                }
                out.push_str(part);
            }
            variants.push(out.into_bytes());
        }
        let mut shortcut_lines = 0;
        for v in &variants {
            let general = parse_with(SmapsParser::general_only(), v).map_err(|e| e.to_string());
            let fixed = parse_with(SmapsParser::new(), v).map_err(|e| e.to_string());
            assert_eq!(fixed, general);
            let mut p = SmapsParser::new();
            let mut e = SmapsEntry::default();
            for (_, line) in crate::proc::lines(v) {
                if is_header(line) {
                    let _ = p.header(&mut e, line);
                } else if p.fixed_field(&mut e, &[line, b"\n"].concat()) > 0 {
                    shortcut_lines += 1;
                } else {
                    let _ = p.field(Some(&mut e), line);
                }
            }
        }
        assert!(
            shortcut_lines > 1000,
            "shortcut taken {shortcut_lines} times"
        );
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
