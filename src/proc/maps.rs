//! `/proc/PID/maps`: one line per mapping.
//!
//! ```text
//! 55e6eacae000-55e6eacaf000 r--p 00000000 fe:00 827394                     /srv/fixture/odd
//! ```
//! The path column is everything after the padding that follows the inode; it may contain
//! spaces and bytes that are not UTF-8, and ends in ` (deleted)` when the file was removed.

use crate::error::{Error, Result};
use crate::memory::{Device, Perms};

/// One parsed line of `maps` (also the header line of each `smaps` entry), borrowing its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapsLine<'a> {
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
    /// The path column as the kernel printed it (empty for anonymous memory).
    pub pathname: &'a [u8],
}

/// The kernel's suffix for a mapping whose file was unlinked.
pub const DELETED_SUFFIX: &[u8] = b" (deleted)";

impl<'a> MapsLine<'a> {
    /// The path without the ` (deleted)` suffix, and whether it was there.
    pub fn split_deleted(&self) -> (&'a [u8], bool) {
        match self.pathname.strip_suffix(DELETED_SUFFIX) {
            Some(p) if self.pathname.first() == Some(&b'/') => (p, true),
            _ => (self.pathname, false),
        }
    }
}

/// Parses one line of `maps` (without its newline). `line_no` is used in errors.
///
/// Written as one left-to-right scan: listing a process parses one line per mapping, and the
/// fields are too short for a vectorised search to pay off.
pub fn parse_line(line: &[u8], line_no: usize) -> Result<MapsLine<'_>> {
    let err = |msg: &str| Error::parse("maps", line_no, msg, line);
    let mut pos = 0;
    let start = hex_field(line, &mut pos, b'-').ok_or_else(|| err("bad start address"))?;
    let end = hex_field(line, &mut pos, b' ').ok_or_else(|| err("bad end address"))?;
    if end < start {
        return Err(err("end address below start address"));
    }
    let perms = line
        .get(pos..pos + 4)
        .and_then(Perms::parse)
        .filter(|_| line.get(pos + 4) == Some(&b' '))
        .ok_or_else(|| err("bad permissions"))?;
    pos += 5;
    let offset = hex_field(line, &mut pos, b' ').ok_or_else(|| err("bad offset"))?;
    let major = hex_field(line, &mut pos, b':')
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| err("bad device major"))?;
    let minor = hex_field(line, &mut pos, b' ')
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| err("bad device minor"))?;
    let inode_start = pos;
    let mut inode: u64 = 0;
    while pos < line.len() && line[pos].is_ascii_digit() {
        inode = inode
            .checked_mul(10)
            .and_then(|v| v.checked_add((line[pos] - b'0') as u64))
            .ok_or_else(|| err("bad inode"))?;
        pos += 1;
    }
    if pos == inode_start || (pos < line.len() && line[pos] != b' ') {
        return Err(err("bad inode"));
    }
    // The kernel pads the path column with spaces; a path never starts with one.
    while pos < line.len() && line[pos] == b' ' {
        pos += 1;
    }
    Ok(MapsLine {
        start,
        end,
        perms,
        offset,
        device: Device { major, minor },
        inode,
        pathname: &line[pos..],
    })
}

/// Parses hex digits from `line[*pos..]` up to `delim` (at most 16 digits, at least one), and
/// moves `pos` past the delimiter.
#[inline]
fn hex_field(line: &[u8], pos: &mut usize, delim: u8) -> Option<u64> {
    let start = *pos;
    let field = line
        .get(start..start + 17)
        .unwrap_or(&line[start.min(line.len())..]);
    let mut v: u64 = 0;
    let mut n = 0;
    for &c in field {
        let d = HEX_VALUE[c as usize];
        if d == NOT_HEX {
            break;
        }
        v = (v << 4) | d as u64;
        n += 1;
    }
    if n == 0 || n > 16 || field.get(n) != Some(&delim) {
        return None;
    }
    *pos = start + n + 1;
    Some(v)
}

const NOT_HEX: u8 = 0xff;

/// The value of each byte as a hex digit, or [`NOT_HEX`]: one load per character instead of
/// three range tests.
static HEX_VALUE: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Parses a whole `maps` file.
pub fn parse(bytes: &[u8]) -> Result<Vec<MapsLine<'_>>> {
    super::lines(bytes).map(|(n, l)| parse_line(l, n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_line() {
        let l = parse_line(
            b"55e6eacae000-55e6eacaf000 r-xp 00001000 fe:00 827394                     /srv/fixture/odd",
            1,
        )
        .unwrap();
        assert_eq!(l.start, 0x55e6eacae000);
        assert_eq!(l.end, 0x55e6eacaf000);
        assert_eq!(l.perms, Perms::READ | Perms::EXEC);
        assert_eq!(l.offset, 0x1000);
        assert_eq!(
            l.device,
            Device {
                major: 0xfe,
                minor: 0
            }
        );
        assert_eq!(l.inode, 827394);
        assert_eq!(l.pathname, b"/srv/fixture/odd");
    }

    #[test]
    fn anonymous_with_trailing_space() {
        let l = parse_line(b"7f686215b000-7f686215c000 ---p 00000000 00:00 0 ", 1).unwrap();
        assert!(l.perms.is_none());
        assert_eq!(l.pathname, b"");
        let l = parse_line(b"7f686215b000-7f686215c000 ---p 00000000 00:00 0", 1).unwrap();
        assert_eq!(l.pathname, b"");
    }

    #[test]
    fn deleted_and_spaces() {
        let l = parse_line(
            b"7f6867b52000-7f6867b54000 r--p 00000000 fe:00 827397  /srv/file with space.bin (deleted)",
            1,
        )
        .unwrap();
        assert_eq!(l.split_deleted(), (&b"/srv/file with space.bin"[..], true));
        let l = parse_line(b"1000-2000 rw-p 00000000 00:00 0 [heap]", 1).unwrap();
        assert_eq!(l.split_deleted(), (&b"[heap]"[..], false));
    }

    #[test]
    fn errors_name_line() {
        let e = parse_line(b"zz-10 rw-p 0 00:00 0", 7)
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 7"), "{e}");
        assert!(e.contains("bad start address"), "{e}");
        assert!(parse_line(b"5-10 rw-p 0 00:00 12x", 1).is_err());
        assert!(parse_line(b"5-10 rw-p 0 00:00 99999999999999999999", 1).is_err());
        assert!(parse_line(b"11111111111111111-10 rw-p 0 00:00 0", 1).is_err());
        assert!(parse_line(b"1111111111111111-ffffffffffffffff rw-p 0 00:00 0", 1).is_ok());
        assert!(parse_line(b"5-10 rw-p 0 00:00 0", 1).is_ok());
        assert!(parse_line(b"5-10", 1).is_err());
        assert!(parse_line(b"5-", 1).is_err());
        assert!(parse_line(b"-10 rw-p 0 00:00 0", 1).is_err());
        assert!(parse_line(b"5-10 rw-p 0 0g:00 0", 1).is_err());
        assert!(parse_line(b"10-5 rw-p 0 00:00 0", 1).is_err());
        assert!(parse_line(b"5-10 rwzp 0 00:00 0", 1).is_err());
        assert!(parse_line(b"5-10 rw-p 0 00:00", 1).is_err());
        assert!(parse_line(b"", 1).is_err());
    }
}
