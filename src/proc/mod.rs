//! Pure parsers for the files of `/proc/PID`: bytes in, typed values (or an error naming the
//! line and text) out. Nothing here performs I/O, so every parser is tested on real captures and
//! fuzzed.

pub mod maps;
pub mod meminfo;
pub mod smaps;
pub mod stat;
pub mod status;
pub mod task;
pub mod vocab;

/// Parses an unsigned hexadecimal number (no prefix) from the whole of `s`.
pub(crate) fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | d as u64;
    }
    Some(v)
}

/// Parses an unsigned decimal number from the whole of `s`.
pub(crate) fn parse_dec(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

/// Splits `s` at the first occurrence of `sep`, returning the part before and the rest after.
pub(crate) fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = memchr::memchr(sep, s)?;
    Some((&s[..i], &s[i + 1..]))
}

/// Iterates over the lines of `bytes` with their 1-based numbers, without the trailing `\n`.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut it = body
        .split(|&c| c == b'\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l));
    let empty = body.is_empty();
    std::iter::from_fn(move || if empty { None } else { it.next() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_dec() {
        assert_eq!(parse_hex(b"7fff0000"), Some(0x7fff0000));
        assert_eq!(parse_hex(b"ffffffffff600000"), Some(0xffffffffff600000));
        assert_eq!(parse_hex(b"12345678901234567"), None);
        assert_eq!(parse_hex(b""), None);
        assert_eq!(parse_hex(b"0x1"), None);
        assert_eq!(parse_dec(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_dec(b"18446744073709551616"), None);
        assert_eq!(parse_dec(b"1a"), None);
    }

    #[test]
    fn lines_numbered() {
        let v: Vec<_> = lines(b"a\nb\n").collect();
        assert_eq!(v, vec![(1, &b"a"[..]), (2, &b"b"[..])]);
        assert_eq!(lines(b"").count(), 0);
        assert_eq!(lines(b"x").count(), 1);
    }
}
