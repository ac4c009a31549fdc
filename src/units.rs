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
    const UNITS: [&str; 6] = ["KB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 1024 {
        return format!("{bytes}B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.1}{}", UNITS[i])
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
    }
}
