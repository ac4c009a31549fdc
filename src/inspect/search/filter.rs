//! Which regions a search reads: [`RegionFilter`] by type, permissions ([`PermFilter`]) and
//! address range, and the part of each region it keeps.

use crate::error::{Error, Result};
use crate::region::{MemoryRegion, Perms, RegionType};

/// A permission filter such as `r-x`: a letter must be present, `-` must be absent, `?` is
/// either; an optional fourth character `p`/`s` selects private or shared mappings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PermFilter {
    /// Flags that must be set.
    pub must: Perms,
    /// Flags that must be clear.
    pub must_not: Perms,
}

impl PermFilter {
    /// Parses `r-x`, `rw?`, `r--s`.
    pub fn parse(s: &str) -> Result<PermFilter> {
        let bad = || {
            Error::InvalidArgument(format!(
                "invalid permission filter {s:?}: expected three or four characters like r-x or rw-p (? for either)"
            ))
        };
        let b = s.as_bytes();
        if b.len() != 3 && b.len() != 4 {
            return Err(bad());
        }
        let mut f = PermFilter::default();
        for (i, &c) in b.iter().enumerate() {
            let (letter, flag) = [
                (b'r', Perms::READ),
                (b'w', Perms::WRITE),
                (b'x', Perms::EXEC),
                (b's', Perms::SHARED),
            ][i];
            match c {
                _ if c == letter => f.must |= flag,
                b'-' => f.must_not |= flag,
                b'p' if i == 3 => f.must_not |= flag,
                b'?' | b'*' => {}
                _ => return Err(bad()),
            }
        }
        Ok(f)
    }

    /// Does a region with `p` pass?
    pub fn accepts(&self, p: Perms) -> bool {
        p.contains(self.must) && !p.intersects(self.must_not)
    }
}

/// Which regions to scan.
#[derive(Debug, Clone, Default)]
pub struct RegionFilter {
    /// Region types to keep (all when empty).
    pub types: Vec<RegionType>,
    /// Permission filter.
    pub perms: Option<PermFilter>,
    /// Only addresses in `[low, high)`.
    pub range: Option<(u64, u64)>,
}

impl RegionFilter {
    /// Parses `LOW-HIGH` (hex addresses, `HIGH` exclusive).
    pub fn parse_range(s: &str) -> Result<(u64, u64)> {
        let (lo, hi) = s.split_once('-').ok_or_else(|| {
            Error::InvalidArgument(format!("invalid range {s:?}: expected LOW-HIGH in hex"))
        })?;
        let lo = crate::units::parse_address(lo)?;
        let hi = crate::units::parse_address(hi)?;
        if hi <= lo {
            return Err(Error::InvalidArgument(format!(
                "invalid range {s:?}: the end must be above the start"
            )));
        }
        Ok((lo, hi))
    }

    /// Parses a comma-separated list of region types (`heap,stack`).
    pub fn parse_types(s: &str) -> Result<Vec<RegionType>> {
        s.split(',')
            .filter(|t| !t.trim().is_empty())
            .map(|t| {
                RegionType::from_name(t).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "unknown region type {t:?} (expected one of: {})",
                        RegionType::ALL
                            .map(|t| t.name().to_ascii_lowercase())
                            .join(", ")
                    ))
                })
            })
            .collect()
    }

    /// The part of `r` to scan, if any.
    pub fn clip(&self, r: &MemoryRegion) -> Option<(u64, u64)> {
        if !self.types.is_empty() && !self.types.contains(&r.region_type) {
            return None;
        }
        if let Some(p) = &self.perms {
            if !p.accepts(r.perms) {
                return None;
            }
        }
        let (mut s, mut e) = (r.base_address as u64, r.end_address() as u64);
        if let Some((lo, hi)) = self.range {
            s = s.max(lo);
            e = e.min(hi);
        }
        (s < e).then_some((s, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let f = PermFilter::parse("r-x").unwrap();
        assert!(f.accepts(Perms::READ | Perms::EXEC));
        assert!(!f.accepts(Perms::READ | Perms::EXEC | Perms::WRITE));
        assert!(PermFilter::parse("rw?s")
            .unwrap()
            .accepts(Perms::READ | Perms::WRITE | Perms::SHARED));
        assert!(PermFilter::parse("rwxq").is_err());
        assert!(PermFilter::parse("x").is_err());
        assert_eq!(
            RegionFilter::parse_range("1000-2000").unwrap(),
            (0x1000, 0x2000)
        );
        assert!(RegionFilter::parse_range("2000-1000").is_err());
        assert!(RegionFilter::parse_range("zz").is_err());
        assert_eq!(
            RegionFilter::parse_types("heap,stack").unwrap(),
            [RegionType::Heap, RegionType::Stack]
        );
        assert!(RegionFilter::parse_types("bogus").is_err());
    }
}
