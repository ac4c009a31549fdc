//! One parser for the sizes, addresses and PIDs given on any command line, and one formatter for
//! human sizes.

use crate::error::{Error, Result};

/// Parses a PID: a positive decimal number that fits the kernel's `pid_t`.
pub fn parse_pid(s: &str) -> Result<u32> {
    let s = s.trim();
    let pid: u32 = s.parse().map_err(|_| {
        Error::InvalidArgument(format!("invalid PID {s:?}: expected a positive number"))
    })?;
    if pid == 0 {
        return Err(Error::InvalidArgument("PID 0 is not a process".into()));
    }
    if pid > i32::MAX as u32 {
        return Err(Error::InvalidArgument(format!(
            "invalid PID {s}: too large"
        )));
    }
    Ok(pid)
}

/// Parses a size: plain bytes (`4096`), hex (`0x1000`), or a number with a 1024-based suffix
/// `K`, `M`, `G`, `T`, optionally followed by `iB` or `B` (`4K`, `4KiB`, `1MiB`, `2G`).
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let bad = |why: &str| Error::InvalidArgument(format!("invalid size {s:?}: {why}"));
    if t.is_empty() {
        return Err(bad("empty"));
    }
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(h, 16).map_err(|_| bad("bad hex number"));
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(bad("expected a number"));
    }
    let n: u64 = num.parse().map_err(|_| bad("number too large"))?;
    let unit = unit.trim();
    let unit_upper = unit.to_ascii_uppercase();
    let base = unit_upper
        .strip_suffix("IB")
        .or_else(|| unit_upper.strip_suffix('B'))
        .unwrap_or(&unit_upper);
    let shift = match base {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(bad("unknown unit (use K, M, G or T, optionally with iB)")),
    };
    n.checked_mul(1u64 << shift).ok_or_else(|| bad("too large"))
}

/// Parses an address: hexadecimal with or without `0x`.
pub fn parse_address(s: &str) -> Result<u64> {
    let t = s.trim();
    let h = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t);
    if h.is_empty() || h.len() > 16 {
        return Err(Error::InvalidArgument(format!(
            "invalid address {s:?}: expected up to 16 hex digits"
        )));
    }
    u64::from_str_radix(h, 16)
        .map_err(|_| Error::InvalidArgument(format!("invalid address {s:?}: expected hex digits")))
}

/// Formats a byte count with 1024-based units and one decimal: `4.0KB`, `1.5MB`, `512B`.
pub fn format_size(bytes: u64) -> String {
    let mut out = Vec::with_capacity(12);
    push_size(&mut out, bytes);
    // Only ASCII digits, '.', and unit letters were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends [`format_size`]'s text to `out` without going through `fmt` (it is called once per
/// region when listing hundreds of thousands of them). Tenths are rounded half up.
pub fn push_size(out: &mut Vec<u8>, bytes: u64) {
    const UNITS: [&[u8]; 6] = [b"KB", b"MB", b"GB", b"TB", b"PB", b"EB"];
    if bytes < 1024 {
        out.extend_from_slice(itoa::Buffer::new().format(bytes).as_bytes());
        out.push(b'B');
        return;
    }
    let mut unit = 0;
    while unit + 1 < UNITS.len() && bytes >> (10 * (unit + 2)) > 0 {
        unit += 1;
    }
    let shift = 10 * (unit as u32 + 1);
    // Tenths of the unit, rounded half up, computed in 128 bits so nothing overflows.
    let tenths = ((bytes as u128 * 10 + (1u128 << (shift - 1))) >> shift) as u64;
    // Rounding can carry into the next unit (1023.95KB -> 1.0MB).
    let (tenths, unit) = if tenths >= 10240 && unit + 1 < UNITS.len() {
        let shift = shift + 10;
        (
            ((bytes as u128 * 10 + (1u128 << (shift - 1))) >> shift) as u64,
            unit + 1,
        )
    } else {
        (tenths, unit)
    };
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(tenths / 10).as_bytes());
    out.push(b'.');
    out.push(b'0' + (tenths % 10) as u8);
    out.extend_from_slice(UNITS[unit]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert_eq!(parse_size("4K").unwrap(), 4096);
        assert_eq!(parse_size("4KiB").unwrap(), 4096);
        assert_eq!(parse_size("4kb").unwrap(), 4096);
        assert_eq!(parse_size("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_size("2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("0x1000").unwrap(), 4096);
        assert!(parse_size("").is_err());
        assert!(parse_size("K").is_err());
        assert!(parse_size("4X").is_err());
        assert!(parse_size("-1").is_err());
        assert!(parse_size("99999999999T")
            .unwrap_err()
            .to_string()
            .contains("too large"));
    }

    #[test]
    fn addresses() {
        assert_eq!(parse_address("0x7fff0000").unwrap(), 0x7fff0000);
        assert_eq!(parse_address("7fff0000").unwrap(), 0x7fff0000);
        assert!(parse_address("0x").is_err());
        assert!(parse_address("xyz").is_err());
        assert!(parse_address("0x12345678901234567").is_err());
    }

    #[test]
    fn pids() {
        assert_eq!(parse_pid("42").unwrap(), 42);
        assert!(parse_pid("0").is_err());
        assert!(parse_pid("-3").is_err());
        assert!(parse_pid("abc").is_err());
        assert!(parse_pid("4294967295").is_err());
    }

    #[test]
    fn human() {
        assert_eq!(format_size(0), "0B");
        assert_eq!(format_size(1023), "1023B");
        assert_eq!(format_size(4096), "4.0KB");
        assert_eq!(format_size(1536 * 1024), "1.5MB");
        assert_eq!(format_size(8 << 30), "8.0GB");
        assert_eq!(format_size(1024 * 1024 - 1), "1.0MB");
        assert_eq!(format_size(1023 * 1024), "1023.0KB");
        assert_eq!(format_size(1126), "1.1KB");
        assert_eq!(format_size(u64::MAX), "16.0EB");
        for v in [1024u64, 1500, 4096, 123456, 7 << 20, 999_999_999, 1 << 40] {
            let f = v as f64 / 1024f64.powi((63 - v.leading_zeros() as i32) / 10);
            let approx = format!("{f:.1}");
            assert!(
                format_size(v).starts_with(&approx[..approx.len() - 1]),
                "{v}"
            );
        }
    }
}
