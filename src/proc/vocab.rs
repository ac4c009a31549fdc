//! The kernel's own vocabulary, as `/proc/PID/maps` and `smaps` spell it: permissions
//! ([`Perms`]), device numbers ([`Device`]), the per-region usage figures ([`Usage`], in bytes)
//! and the two-letter `VmFlags` ([`VmFlag`]).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

bitflags::bitflags! {
    /// The permission column of `/proc/PID/maps`, which round-trips `rw-p` / `r-xs`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Perms: u8 {
        /// `r`: readable.
        const READ = 1;
        /// `w`: writable.
        const WRITE = 2;
        /// `x`: executable.
        const EXEC = 4;
        /// `s`: shared (`p` when absent: private copy-on-write).
        const SHARED = 8;
    }
}

impl Perms {
    /// Parses the four-character permission field (`rwxp`, `r--s`, `---p`...).
    pub fn parse(s: &[u8]) -> Option<Perms> {
        let &[r, w, x, sp] = s else {
            return None;
        };
        let flag = |c: u8, yes: u8, flag: Perms| match c {
            _ if c == yes => Some(flag),
            b'-' => Some(Perms::empty()),
            _ => None,
        };
        let share = match sp {
            b's' => Perms::SHARED,
            b'p' | b'-' => Perms::empty(),
            _ => return None,
        };
        Some(
            flag(r, b'r', Perms::READ)?
                | flag(w, b'w', Perms::WRITE)?
                | flag(x, b'x', Perms::EXEC)?
                | share,
        )
    }

    /// The four-character form, as the kernel prints it.
    pub fn as_bytes(self) -> [u8; 4] {
        [
            if self.contains(Perms::READ) {
                b'r'
            } else {
                b'-'
            },
            if self.contains(Perms::WRITE) {
                b'w'
            } else {
                b'-'
            },
            if self.contains(Perms::EXEC) {
                b'x'
            } else {
                b'-'
            },
            if self.contains(Perms::SHARED) {
                b's'
            } else {
                b'p'
            },
        ]
    }

    /// True when no access at all is allowed (`---p`): a guard page or reservation.
    pub fn is_none(self) -> bool {
        !self.intersects(Perms::READ | Perms::WRITE | Perms::EXEC)
    }
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.as_bytes();
        // The four bytes are ASCII by construction.
        f.pad(std::str::from_utf8(&b).unwrap_or("????"))
    }
}

/// A device number as `/proc/PID/maps` shows it (`fe:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Device {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}", self.major, self.minor)
    }
}

impl Serialize for Device {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Per-region figures from `/proc/PID/smaps`, converted to **bytes**.
///
/// A field the running kernel does not report stays 0 (or `None` for the optional ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    /// `Rss`: resident bytes.
    pub rss: u64,
    /// `Pss`: proportional share of resident bytes (rounded down by the kernel per region).
    pub pss: u64,
    /// `Pss_Dirty`.
    pub pss_dirty: u64,
    /// `Pss_Anon` (rollup only).
    pub pss_anon: u64,
    /// `Pss_File` (rollup only).
    pub pss_file: u64,
    /// `Pss_Shmem` (rollup only).
    pub pss_shmem: u64,
    /// `Shared_Clean`.
    pub shared_clean: u64,
    /// `Shared_Dirty`.
    pub shared_dirty: u64,
    /// `Private_Clean`.
    pub private_clean: u64,
    /// `Private_Dirty`.
    pub private_dirty: u64,
    /// `Referenced`.
    pub referenced: u64,
    /// `Anonymous`.
    pub anonymous: u64,
    /// `KSM`.
    pub ksm: u64,
    /// `LazyFree`.
    pub lazy_free: u64,
    /// `AnonHugePages`.
    pub anon_huge_pages: u64,
    /// `ShmemPmdMapped`.
    pub shmem_pmd_mapped: u64,
    /// `FilePmdMapped`.
    pub file_pmd_mapped: u64,
    /// `Shared_Hugetlb`.
    pub shared_hugetlb: u64,
    /// `Private_Hugetlb`.
    pub private_hugetlb: u64,
    /// `Swap`.
    pub swap: u64,
    /// `SwapPss`.
    pub swap_pss: u64,
    /// `Locked`.
    pub locked: u64,
    /// `KernelPageSize`.
    pub kernel_page_size: u64,
    /// `MMUPageSize`.
    pub mmu_page_size: u64,
    /// `THPeligible`.
    pub thp_eligible: Option<bool>,
    /// `ProtectionKey` (x86 PKU), when the kernel reports it.
    pub protection_key: Option<u32>,
}

impl Usage {
    /// Adds every figure of `o` (the sizes of pages, `thp_eligible` and `protection_key` describe
    /// a single mapping and are left as they are).
    pub fn add(&mut self, o: &Usage) {
        self.rss += o.rss;
        self.pss += o.pss;
        self.pss_dirty += o.pss_dirty;
        self.pss_anon += o.pss_anon;
        self.pss_file += o.pss_file;
        self.pss_shmem += o.pss_shmem;
        self.shared_clean += o.shared_clean;
        self.shared_dirty += o.shared_dirty;
        self.private_clean += o.private_clean;
        self.private_dirty += o.private_dirty;
        self.referenced += o.referenced;
        self.anonymous += o.anonymous;
        self.ksm += o.ksm;
        self.lazy_free += o.lazy_free;
        self.anon_huge_pages += o.anon_huge_pages;
        self.shmem_pmd_mapped += o.shmem_pmd_mapped;
        self.file_pmd_mapped += o.file_pmd_mapped;
        self.shared_hugetlb += o.shared_hugetlb;
        self.private_hugetlb += o.private_hugetlb;
        self.swap += o.swap;
        self.swap_pss += o.swap_pss;
        self.locked += o.locked;
    }

    /// Unique set size: private clean + private dirty.
    pub fn uss(&self) -> u64 {
        self.private_clean + self.private_dirty
    }

    /// Dirty bytes: shared dirty + private dirty.
    pub fn dirty(&self) -> u64 {
        self.shared_dirty + self.private_dirty
    }
}

/// One of the kernel's two-letter `VmFlags` (`rd`, `wr`, `lo`, `ht`...), kept as the kernel
/// spells it so that flags newer than memlink survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VmFlag(pub [u8; 2]);

impl VmFlag {
    /// Builds a flag from its two-letter spelling.
    pub const fn new(s: &[u8; 2]) -> VmFlag {
        VmFlag(*s)
    }

    /// The two letters.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for VmFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for VmFlag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Device {
    /// Parses `fe:00`.
    pub fn parse(s: &str) -> Option<Device> {
        let (a, b) = s.split_once(':')?;
        Some(Device {
            major: u32::from_str_radix(a, 16).ok()?,
            minor: u32::from_str_radix(b, 16).ok()?,
        })
    }
}

impl<'de> Deserialize<'de> for Device {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Device::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("bad device {s:?}")))
    }
}

impl<'de> Deserialize<'de> for VmFlag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_bytes() {
            [a, b] => Ok(VmFlag([*a, *b])),
            _ => Err(serde::de::Error::custom(format!("bad VmFlags entry {s:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every four-letter string over the permission letters and a stranger: parsed exactly when
    /// each place holds its letter or `-` (or `p` in the last), and written back as read.
    #[test]
    fn permissions_parse_and_round_trip() {
        let letters = *b"rwxsp-z";
        for &a in &letters {
            for &b in &letters {
                for &c in &letters {
                    for &d in &letters {
                        let s = [a, b, c, d];
                        let ok = (a == b'r' || a == b'-')
                            && (b == b'w' || b == b'-')
                            && (c == b'x' || c == b'-')
                            && matches!(d, b's' | b'p' | b'-');
                        let p = Perms::parse(&s);
                        assert_eq!(p.is_some(), ok, "{}", String::from_utf8_lossy(&s));
                        if let (Some(p), true) = (p, d != b'-') {
                            assert_eq!(p.as_bytes(), s);
                        }
                    }
                }
            }
        }
        assert_eq!(Perms::parse(b"rw-"), None);
        assert_eq!(Perms::parse(b"rw-pp"), None);
    }
}
