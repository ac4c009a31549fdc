//! `/proc/meminfo`: the system-wide memory figures (`MemTotal`, `MemAvailable`, `Shmem`,
//! `SwapTotal`, `SwapFree`), in bytes.

/// The fields of `meminfo` that memlink uses, in bytes; `None` when the kernel does not report
/// the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemInfo {
    /// `MemTotal`.
    pub total: Option<u64>,
    /// `MemAvailable` (3.14+).
    pub available: Option<u64>,
    /// `Shmem`: shared memory and tmpfs.
    pub shmem: Option<u64>,
    /// `SwapTotal`.
    pub swap_total: Option<u64>,
    /// `SwapFree`.
    pub swap_free: Option<u64>,
}

impl MemInfo {
    /// Used memory: total minus available (`None` when either is unknown).
    pub fn used(&self) -> Option<u64> {
        Some(self.total?.saturating_sub(self.available?))
    }

    /// Used swap: total minus free.
    pub fn swap_used(&self) -> Option<u64> {
        Some(self.swap_total?.saturating_sub(self.swap_free?))
    }
}

/// Parses `meminfo`. Lines it does not know, or cannot read, are skipped: the file has no fixed
/// set of lines.
pub fn parse(bytes: &[u8]) -> MemInfo {
    let mut m = MemInfo::default();
    for line in bytes.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (key, rest) = (&line[..colon], &line[colon + 1..]);
        let slot = match key {
            b"MemTotal" => &mut m.total,
            b"MemAvailable" => &mut m.available,
            b"Shmem" => &mut m.shmem,
            b"SwapTotal" => &mut m.swap_total,
            b"SwapFree" => &mut m.swap_free,
            _ => continue,
        };
        let mut words = rest.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let value = words
            .next()
            .and_then(|w| std::str::from_utf8(w).ok())
            .and_then(|w| w.parse::<u64>().ok());
        let scale = match words.next() {
            Some(b"kB") => 1024,
            None => 1,
            Some(_) => continue,
        };
        *slot = value.and_then(|v| v.checked_mul(scale));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields() {
        let m = parse(
            b"MemTotal:       24000000 kB\nMemFree: 1 kB\nMemAvailable:   20000000 kB\n\
              Shmem:            1000 kB\nSwapTotal:  0 kB\nSwapFree: 0 kB\nHugePages_Total: 0\n",
        );
        assert_eq!(m.total, Some(24_000_000 * 1024));
        assert_eq!(m.used(), Some(4_000_000 * 1024));
        assert_eq!(m.shmem, Some(1024 * 1000));
        assert_eq!(m.swap_used(), Some(0));
        assert_eq!(parse(b"garbage\nMemTotal: x kB\n").total, None);
    }
}
