//! `/proc/PID/maps`: one line per mapping.
//!
//! ```text
//! 55e6eacae000-55e6eacaf000 r--p 00000000 fe:00 827394                     /srv/fixture/odd
//! ```
//! The path column is everything after the padding that follows the inode; it may contain
//! spaces and bytes that are not UTF-8, and ends in ` (deleted)` when the file was removed.

use crate::error::{Error, Result};
use crate::proc::vocab::{Device, Perms};

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
    let (mut l, mut pos) = parse_fields(line).map_err(err)?;
    if pos < line.len() && line[pos] != b' ' {
        return Err(err("bad inode"));
    }
    // The kernel pads the path column with spaces; a path never starts with one.
    while pos < line.len() && line[pos] == b' ' {
        pos += 1;
    }
    l.pathname = &line[pos..];
    Ok(l)
}

/// Parses the line at the start of `buf`, which holds the line, its newline and whatever
/// follows: [`parse_line`] for a buffer of many lines, finding the line's end as it parses
/// instead of searching for it first (only the path, when there is one, is searched). Returns
/// the line and the bytes it took, newline included; `None` when the line is malformed or its
/// newline is not in `buf`, where [`parse_line`] on the line gives the answer.
#[inline]
pub fn parse_prefix(buf: &[u8]) -> Option<(MapsLine<'_>, usize)> {
    // No field can run past a newline: each ends at its delimiter, which is never one.
    let (mut l, mut pos) = parse_fields(buf).ok()?;
    match buf.get(pos)? {
        b'\n' => return Some((l, pos + 1)),
        b' ' => {}
        _ => return None,
    }
    while buf.get(pos) == Some(&b' ') {
        pos += 1;
    }
    let len = memchr::memchr(b'\n', &buf[pos..])?;
    l.pathname = &buf[pos..pos + len];
    Some((l, pos + len + 1))
}

/// The fields before the path, from the start of `line`: the line with an empty path, and the
/// position just after the inode's digits.
#[inline]
fn parse_fields(line: &[u8]) -> std::result::Result<(MapsLine<'static>, usize), &'static str> {
    let mut pos = 0;
    let start = hex_field(line, &mut pos, b'-').ok_or("bad start address")?;
    let end = hex_field(line, &mut pos, b' ').ok_or("bad end address")?;
    if end < start {
        return Err("end address below start address");
    }
    let perms = line
        .get(pos..pos + 4)
        .and_then(Perms::parse)
        .filter(|_| line.get(pos + 4) == Some(&b' '))
        .ok_or("bad permissions")?;
    pos += 5;
    let offset = hex_field(line, &mut pos, b' ').ok_or("bad offset")?;
    let major = hex_field(line, &mut pos, b':')
        .and_then(|v| u32::try_from(v).ok())
        .ok_or("bad device major")?;
    let minor = hex_field(line, &mut pos, b' ')
        .and_then(|v| u32::try_from(v).ok())
        .ok_or("bad device minor")?;
    let inode_start = pos;
    let mut inode: u64 = 0;
    while pos < line.len() && line[pos].is_ascii_digit() {
        inode = inode
            .checked_mul(10)
            .and_then(|v| v.checked_add((line[pos] - b'0') as u64))
            .ok_or("bad inode")?;
        pos += 1;
    }
    if pos == inode_start {
        return Err("bad inode");
    }
    Ok((
        MapsLine {
            start,
            end,
            perms,
            offset,
            device: Device { major, minor },
            inode,
            pathname: &[],
        },
        pos,
    ))
}

/// Parses hex digits from `line[*pos..]` up to `delim` (at most 16 digits, at least one), and
/// moves `pos` past the delimiter.
///
/// The kernel prints addresses and offsets with at least eight digits, so the first eight are
/// taken as one word when they are all hex digits, and the rest one at a time.
#[inline]
fn hex_field(line: &[u8], pos: &mut usize, delim: u8) -> Option<u64> {
    let start = *pos;
    let field = line
        .get(start..start + 17)
        .unwrap_or(&line[start.min(line.len())..]);
    let mut v: u64 = 0;
    let mut n = 0;
    if let Some(v8) = field.get(..8).and_then(|w| hex8(w.try_into().ok()?)) {
        v = v8;
        n = 8;
    }
    for &c in &field[n..] {
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

/// The value of eight hex digits (either case), or `None` when any byte is not one; the checks
/// and the conversion work on the eight bytes as one word.
#[inline]
fn hex8(bytes: [u8; 8]) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let x = u64::from_le_bytes(bytes);
    if x & (ONES * 0x80) != 0 {
        return None;
    }
    // 0x80 in each byte within [lo, hi] (bytes below 0x80: no carry crosses a byte).
    let within = |x: u64, lo: u8, hi: u8| {
        let ge = x + ONES * (0x80 - lo as u64);
        let gt = x + ONES * (0x7f - hi as u64);
        ge & !gt & (ONES * 0x80)
    };
    let digit = within(x, b'0', b'9');
    let letter = within(x | (ONES * 0x20), b'a', b'f');
    if digit | letter != ONES * 0x80 {
        return None;
    }
    // '0'..'9' -> 0..9; 'a'..'f' and 'A'..'F' (bit 6 set) -> 1..6 + 9.
    let d = (x & (ONES * 0x0f)) + 9 * ((x >> 6) & ONES);
    // Pairs, quads, then all eight; the first byte is the most significant digit.
    let d = ((d << 4) | (d >> 8)) & 0x00ff_00ff_00ff_00ff;
    let d = ((d << 8) | (d >> 16)) & 0x0000_ffff_0000_ffff;
    Some(((d << 16) | (d >> 32)) & 0xffff_ffff)
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

    /// The buffer form gives what the line form gives, on every line of the real captures and on
    /// lines cut or joined in the ways a buffer holds them.
    #[test]
    fn prefix_parse_matches_line_parse() {
        let text = include_bytes!("../../tests/fixtures/proc/odd/maps");
        let mut cases: Vec<Vec<u8>> = text
            .split(|&c| c == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect();
        cases.extend(
            [
                &b"5-10 rw-p 0 00:00 0"[..],
                b"5-10 rw-p 0 00:00 0   ",
                b"5-10 rw-p 0 00:00 0   [heap]",
                b"5-10 rw-p 0 00:00 12x",
                b"5-10 rw-p 0 00:00",
                b"5-10 rw-p 0 00:00 ",
                b"5-10 rw-p 0 00",
                b"5-10",
                b"",
            ]
            .map(<[u8]>::to_vec),
        );
        for line in &cases {
            let want = parse_line(line, 1).ok();
            for next in [&b""[..], b"7f00-7f01 r--p 00000000 00:00 0\n", b"junk"] {
                let buf = [line.as_slice(), b"\n", next].concat();
                let got = parse_prefix(&buf);
                assert_eq!(
                    got.map(|(l, _)| l),
                    want,
                    "{}",
                    String::from_utf8_lossy(line)
                );
                if let Some((_, n)) = got {
                    assert_eq!(n, line.len() + 1);
                }
            }
            // Without its newline the line may go on in the next chunk: never a guess.
            assert_eq!(parse_prefix(line), None);
        }
    }

    #[test]
    fn eight_hex_digits_at_once() {
        assert_eq!(hex8(*b"0123abcd"), Some(0x0123_abcd));
        assert_eq!(hex8(*b"FFFFffff"), Some(0xffff_ffff));
        assert_eq!(hex8(*b"00000000"), Some(0));
        // Every byte value in every place: the word-at-a-time checks agree with the table.
        for place in 0..8 {
            for b in 0..=255u8 {
                let mut s = *b"7f68a2c0";
                s[place] = b;
                let plain = s.iter().try_fold(0u64, |v, &c| {
                    let d = HEX_VALUE[c as usize];
                    (d != NOT_HEX).then_some((v << 4) | d as u64)
                });
                assert_eq!(hex8(s), plain, "{s:?}");
            }
        }
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
