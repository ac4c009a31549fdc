//! Search patterns: hex bytes with `??` wildcards, UTF-8 and UTF-16LE text, and typed numbers,
//! parsed from their command-line spelling into bytes plus a mask. Pure: no I/O.

use crate::error::{Error, Result};

/// The numeric types a value pattern can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Signed 8-bit.
    I8,
    /// Unsigned 8-bit.
    U8,
    /// Signed 16-bit.
    I16,
    /// Unsigned 16-bit.
    U16,
    /// Signed 32-bit.
    I32,
    /// Unsigned 32-bit.
    U32,
    /// Signed 64-bit.
    I64,
    /// Unsigned 64-bit.
    U64,
    /// IEEE 754 single precision (matched bit for bit).
    F32,
    /// IEEE 754 double precision (matched bit for bit).
    F64,
}

impl ValueType {
    /// The spelling used in flags and labels (`u32`).
    pub fn name(self) -> &'static str {
        match self {
            ValueType::I8 => "i8",
            ValueType::U8 => "u8",
            ValueType::I16 => "i16",
            ValueType::U16 => "u16",
            ValueType::I32 => "i32",
            ValueType::U32 => "u32",
            ValueType::I64 => "i64",
            ValueType::U64 => "u64",
            ValueType::F32 => "f32",
            ValueType::F64 => "f64",
        }
    }

    /// Width in bytes (also the natural alignment).
    pub fn width(self) -> usize {
        match self {
            ValueType::I8 | ValueType::U8 => 1,
            ValueType::I16 | ValueType::U16 => 2,
            ValueType::I32 | ValueType::U32 | ValueType::F32 => 4,
            ValueType::I64 | ValueType::U64 | ValueType::F64 => 8,
        }
    }
}

/// One compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// How the user wrote it, e.g. `hex:de ad ?? ef`, `text:secret`, `u32:1234`.
    pub label: String,
    /// The bytes to match (0 where `mask` says wildcard).
    pub bytes: Vec<u8>,
    /// `true` for a byte that must match; `None` when every byte must.
    pub mask: Option<Vec<bool>>,
    /// Matches must start at an address that is a multiple of this (1: anywhere).
    pub align: usize,
}

impl Pattern {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Never true for a parsed pattern.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Does `data` (at least `len()` bytes) match at its start?
    pub fn matches(&self, data: &[u8]) -> bool {
        match &self.mask {
            None => data.starts_with(&self.bytes),
            Some(m) => {
                data.len() >= self.bytes.len()
                    && self
                        .bytes
                        .iter()
                        .zip(m)
                        .zip(data)
                        .all(|((b, &must), d)| !must || b == d)
            }
        }
    }

    /// The longest run of fixed bytes and its offset in the pattern: what the scanner looks
    /// for before checking the whole pattern.
    pub fn anchor(&self) -> (usize, &[u8]) {
        let Some(mask) = &self.mask else {
            return (0, &self.bytes);
        };
        let (mut best, mut best_len, mut i) = (0, 0, 0);
        while i < mask.len() {
            if mask[i] {
                let s = i;
                while i < mask.len() && mask[i] {
                    i += 1;
                }
                if i - s > best_len {
                    best = s;
                    best_len = i - s;
                }
            } else {
                i += 1;
            }
        }
        (best, &self.bytes[best..best + best_len])
    }

    /// Parses hex bytes: pairs of hex digits or `??` (any byte), optionally separated by
    /// spaces: `de ad ?? ef`, `dead??ef`.
    pub fn hex(s: &str) -> Result<Pattern> {
        let bad = |why: &str| Error::InvalidArgument(format!("invalid hex pattern {s:?}: {why}"));
        let mut bytes = Vec::new();
        let mut mask = Vec::new();
        for token in s.split_whitespace() {
            let t = token.as_bytes();
            if t.len() % 2 != 0 {
                return Err(bad(
                    "odd number of hex digits (write bytes as pairs, ?? for any byte)",
                ));
            }
            for pair in t.chunks_exact(2) {
                match pair {
                    b"??" => {
                        bytes.push(0);
                        mask.push(false);
                    }
                    _ => {
                        let digit = |c: u8| (c as char).to_digit(16);
                        match (digit(pair[0]), digit(pair[1])) {
                            (Some(h), Some(l)) => {
                                bytes.push((h * 16 + l) as u8);
                                mask.push(true);
                            }
                            _ => {
                                return Err(bad(&format!(
                                    "{:?} is not a hex byte or ??",
                                    String::from_utf8_lossy(pair)
                                )))
                            }
                        }
                    }
                }
            }
        }
        if bytes.is_empty() {
            return Err(bad("empty"));
        }
        if !mask.iter().any(|&m| m) {
            return Err(bad("it has no fixed byte (only ??)"));
        }
        let all = mask.iter().all(|&m| m);
        Ok(Pattern {
            label: format!("hex:{}", s.trim()),
            bytes,
            mask: if all { None } else { Some(mask) },
            align: 1,
        })
    }

    /// UTF-8 text.
    pub fn text(s: &str) -> Result<Pattern> {
        if s.is_empty() {
            return Err(Error::InvalidArgument("empty text pattern".into()));
        }
        Ok(Pattern {
            label: format!("text:{s}"),
            bytes: s.as_bytes().to_vec(),
            mask: None,
            align: 1,
        })
    }

    /// UTF-16LE text (what Windows-style and Java/.NET string internals use).
    pub fn utf16(s: &str) -> Result<Pattern> {
        if s.is_empty() {
            return Err(Error::InvalidArgument("empty UTF-16 pattern".into()));
        }
        Ok(Pattern {
            label: format!("utf16:{s}"),
            bytes: s.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            mask: None,
            align: 1,
        })
    }

    /// A typed value, little-endian unless `big_endian`; `aligned` only matches at the type's
    /// natural alignment. Integers may be decimal (with a sign for signed types) or `0x` hex.
    pub fn value(ty: ValueType, s: &str, big_endian: bool, aligned: bool) -> Result<Pattern> {
        let t = s.trim();
        let name = ty.name();
        let bad =
            |why: String| Error::InvalidArgument(format!("invalid {name} value {s:?}: {why}"));
        if t.is_empty() {
            return Err(bad("empty".into()));
        }
        let le: Vec<u8> = match ty {
            ValueType::F32 => {
                let v = t.parse::<f32>().map_err(|_| bad("not a number".into()))?;
                check_float_fits(t, v.is_infinite(), v == 0.0).map_err(bad)?;
                v.to_le_bytes().to_vec()
            }
            ValueType::F64 => {
                let v = t.parse::<f64>().map_err(|_| bad("not a number".into()))?;
                check_float_fits(t, v.is_infinite(), v == 0.0).map_err(bad)?;
                v.to_le_bytes().to_vec()
            }
            _ => {
                let v = parse_int(t).ok_or_else(|| bad("not an integer".into()))?;
                let (lo, hi): (i128, i128) = match ty {
                    ValueType::I8 => (i8::MIN.into(), i8::MAX.into()),
                    ValueType::U8 => (0, u8::MAX.into()),
                    ValueType::I16 => (i16::MIN.into(), i16::MAX.into()),
                    ValueType::U16 => (0, u16::MAX.into()),
                    ValueType::I32 => (i32::MIN.into(), i32::MAX.into()),
                    ValueType::U32 => (0, u32::MAX.into()),
                    ValueType::I64 => (i64::MIN.into(), i64::MAX.into()),
                    _ => (0, u64::MAX.into()),
                };
                if v < lo || v > hi {
                    return Err(bad(format!("out of range for {name} ({lo}..={hi})")));
                }
                v.to_le_bytes()[..ty.width()].to_vec()
            }
        };
        let mut bytes = le;
        if big_endian {
            bytes.reverse();
        }
        Ok(Pattern {
            label: format!("{name}:{t}{}", if big_endian { " (be)" } else { "" }),
            bytes,
            mask: None,
            align: if aligned { ty.width() } else { 1 },
        })
    }
}

/// A decimal literal that rounds to infinity (`1e400` as f64) or to zero (`1e-400`) does not
/// fit the type: refused rather than silently searched as `inf` or `0`. `inf` and `0` written
/// as such are fine.
fn check_float_fits(t: &str, infinite: bool, zero: bool) -> std::result::Result<(), String> {
    let lower = t.to_ascii_lowercase();
    let unsigned = lower.trim_start_matches(['+', '-']);
    if infinite && unsigned != "inf" && unsigned != "infinity" {
        return Err(
            "out of range for the type (too large: it would be searched as infinity)".into(),
        );
    }
    let mantissa = unsigned.split('e').next().unwrap_or("");
    if zero && mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
        return Err("out of range for the type (too small: it would be searched as 0)".into());
    }
    Ok(())
}

fn parse_int(t: &str) -> Option<i128> {
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(h) if !h.is_empty() && h.len() <= 32 => i128::from_str_radix(h, 16).ok()?,
        Some(_) => return None,
        None if !body.is_empty()
            && body.bytes().all(|b| b.is_ascii_digit())
            && body.len() <= 30 =>
        {
            body.parse().ok()?
        }
        None => return None,
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_with_wildcards() {
        let p = Pattern::hex("de ad ?? ef").unwrap();
        assert_eq!(p.bytes, [0xde, 0xad, 0, 0xef]);
        assert_eq!(p.mask, Some(vec![true, true, false, true]));
        assert!(p.matches(&[0xde, 0xad, 0x55, 0xef, 1]));
        assert!(!p.matches(&[0xde, 0xad, 0x55, 0xee]));
        assert_eq!(p.anchor(), (0, &[0xde, 0xad][..]));
        let q = Pattern::hex("DEADbeef").unwrap();
        assert_eq!(q.bytes, [0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(q.mask, None);
        assert_eq!(
            Pattern::hex("?? 01 02 03").unwrap().anchor(),
            (1, &[1, 2, 3][..])
        );
    }

    #[test]
    fn bad_hex() {
        for (s, why) in [
            ("", "empty"),
            ("  ", "empty"),
            ("abc", "odd"),
            ("???", "odd"),
            ("?? ??", "no fixed byte"),
            ("zz", "not a hex byte"),
            ("a?", "not a hex byte"),
        ] {
            let e = Pattern::hex(s).unwrap_err().to_string();
            assert!(e.contains(why), "{s:?}: {e}");
        }
    }

    #[test]
    fn values() {
        let v = |t, s| Pattern::value(t, s, false, false).map(|p| p.bytes);
        assert_eq!(
            v(ValueType::U32, "0x11223344").unwrap(),
            [0x44, 0x33, 0x22, 0x11]
        );
        assert_eq!(v(ValueType::I8, "-1").unwrap(), [0xff]);
        assert_eq!(v(ValueType::I16, "-2").unwrap(), [0xfe, 0xff]);
        assert_eq!(
            v(ValueType::U64, "18446744073709551615").unwrap(),
            [0xff; 8]
        );
        assert_eq!(v(ValueType::F32, "1.5").unwrap(), 1.5f32.to_le_bytes());
        assert_eq!(v(ValueType::F64, "-2").unwrap(), (-2f64).to_le_bytes());
        // Values that do not fit the type are refused, not searched as inf or 0.
        assert!(v(ValueType::F64, "1e400").is_err());
        assert!(v(ValueType::F64, "-1e400").is_err());
        assert!(v(ValueType::F32, "1e39").is_err());
        assert!(v(ValueType::F64, "1e-400").is_err());
        assert_eq!(
            v(ValueType::F64, "inf").unwrap(),
            f64::INFINITY.to_le_bytes()
        );
        assert_eq!(v(ValueType::F64, "0.0e5").unwrap(), 0f64.to_le_bytes());
        assert_eq!(
            v(ValueType::F32, "3.4e38").unwrap(),
            3.4e38f32.to_le_bytes()
        );
        let be = Pattern::value(ValueType::U16, "0x0102", true, true).unwrap();
        assert_eq!((be.bytes.as_slice(), be.align), (&[1u8, 2][..], 2));
        for (t, s, why) in [
            (ValueType::U8, "256", "out of range"),
            (ValueType::I8, "128", "out of range"),
            (ValueType::U32, "-1", "out of range"),
            (ValueType::U64, "18446744073709551616", "out of range"),
            (ValueType::I32, "", "empty"),
            (ValueType::I32, "12a", "not an integer"),
            (ValueType::F32, "pi", "not a number"),
        ] {
            let e = v(t, s).unwrap_err().to_string();
            assert!(e.contains(why), "{s:?}: {e}");
        }
    }

    #[test]
    fn text_and_utf16() {
        assert_eq!(Pattern::text("hé").unwrap().bytes, "hé".as_bytes());
        assert_eq!(Pattern::utf16("hi").unwrap().bytes, [b'h', 0, b'i', 0]);
        assert!(Pattern::text("").is_err());
        assert!(Pattern::utf16("").is_err());
    }
}
