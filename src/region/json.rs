//! Fast JSON rendering of regions, for streaming hundreds of thousands of them.
//!
//! `serde_json` spends most of its time escaping keys and formatting through `fmt`; listing a
//! process with 100,000 mappings is dominated by it. [`write_region`] writes exactly what the
//! `Serialize` implementation of [`MemoryRegion`] writes (a test checks the two agree), with
//! integers through `itoa` and only the path-like strings escaped; [`write_view`] writes the same
//! for a borrowed [`RegionView`], escaping its path bytes on the way out.

use crate::region::view::RegionView;
use crate::region::{MemoryRegion, Usage};

/// Appends `s` as a JSON string (quoted, escaped).
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_str_body(out, s);
    out.push(b'"');
}

/// Appends path bytes as the JSON string of their [`escape_path`](crate::region::escape_path)
/// form (bytes that are not UTF-8 as `\xNN`), without building that string first.
pub(crate) fn push_path(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for chunk in bytes.utf8_chunks() {
        push_str_body(out, chunk.valid());
        for &b in chunk.invalid() {
            // The escape's backslash is itself escaped in JSON.
            out.extend_from_slice(b"\\\\x");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        }
    }
    out.push(b'"');
}

fn push_str_body(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The three figures `smaps` leaves out per region (only `smaps_rollup` has them): `null`, not 0.
const REGION_PSS_SPLIT: &[u8] = b"\"pss_anon\":null,\"pss_file\":null,\"pss_shmem\":null,";

/// Appends an unsigned integer.
pub(crate) fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends `0x` and the lowercase hex digits of `v` (no padding), as `{:#x}` does.
pub(crate) fn push_hex(out: &mut Vec<u8>, v: u64) {
    let (digits, n) = hex_left(v);
    out.extend_from_slice(b"0x");
    out.extend_from_slice(&digits[..n]);
}

/// The hex digits of `v` without leading zeros, at the start of sixteen bytes (whatever follows
/// them is to be overwritten), and how many there are: for writers that copy fixed-size blocks.
pub fn hex_left(v: u64) -> ([u8; 16], usize) {
    let digits = hex_digits(v);
    (hex16(v << (4 * (16 - digits))), digits)
}

/// The number of hex digits of `v` without leading zeros (1 for zero).
fn hex_digits(v: u64) -> usize {
    (16 - (v.leading_zeros() as usize / 4)).max(1)
}

/// All sixteen hex digits of `v`, most significant first, computed a word at a time (a loop
/// over the digits costs a hundred instructions per address, and a listing prints two
/// addresses per region).
fn hex16(v: u64) -> [u8; 16] {
    let hi = hex8_ascii((v >> 32) as u32);
    let lo = hex8_ascii(v as u32);
    let mut d = [0u8; 16];
    d[..8].copy_from_slice(&hi);
    d[8..].copy_from_slice(&lo);
    d
}

/// The eight hex digits of `x`, most significant first.
fn hex8_ascii(x: u32) -> [u8; 8] {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // One nibble per byte, the least significant in the lowest byte.
    let x = x as u64;
    let x = (x | (x << 16)) & 0x0000_ffff_0000_ffff;
    let x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff;
    let n = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    // 1 in each byte whose nibble is 10 or more, which then maps to 'a'.. instead of ':'..
    let letters = ((n + ONES * 0x76) & (ONES * 0x80)) >> 7;
    let ascii = n + ONES * b'0' as u64 + letters * (b'a' - b'0' - 10) as u64;
    ascii.swap_bytes().to_le_bytes()
}

fn usage(out: &mut Vec<u8>, u: &Usage) {
    /// Per figure: its key, the key with a zero value (most figures of most regions are zero,
    /// and take one copy), and the value.
    macro_rules! figures {
        ($($name:ident),* $(,)?) => {
            [$((
                concat!("\"", stringify!($name), "\":").as_bytes(),
                concat!("\"", stringify!($name), "\":0,").as_bytes(),
                u.$name,
            )),*]
        };
    }
    let fields: [(&[u8], &[u8], u64); 21] = figures![
        rss,
        pss,
        pss_dirty,
        shared_clean,
        shared_dirty,
        private_clean,
        private_dirty,
        referenced,
        anonymous,
        ksm,
        lazy_free,
        anon_huge_pages,
        shmem_pmd_mapped,
        file_pmd_mapped,
        shared_hugetlb,
        private_hugetlb,
        swap,
        swap_pss,
        locked,
        kernel_page_size,
        mmu_page_size,
    ];
    out.reserve(1024);
    out.push(b'{');
    for (i, (key, zero, v)) in fields.into_iter().enumerate() {
        if i == 3 {
            // The kernel reports the split of PSS only in smaps_rollup, never per region.
            out.extend_from_slice(REGION_PSS_SPLIT);
        }
        if v == 0 {
            out.extend_from_slice(zero);
        } else {
            out.extend_from_slice(key);
            push_u64(out, v);
            out.push(b',');
        }
    }
    out.extend_from_slice(match u.thp_eligible {
        Some(true) => b"\"thp_eligible\":true,\"protection_key\":",
        Some(false) => b"\"thp_eligible\":false,\"protection_key\":",
        None => b"\"thp_eligible\":null,\"protection_key\":",
    });
    match u.protection_key {
        Some(k) => push_u64(out, k as u64),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

/// Appends the JSON object of `r`, identical to `serde_json::to_writer(r)`.
pub fn write_region(out: &mut Vec<u8>, r: &MemoryRegion) {
    let file = match &r.mapped_file {
        Some(f) => Text::Escaped(f),
        None => Text::Null,
    };
    write_object(out, &r.view(), r.protection.as_bytes(), &r.state, file);
}

/// Appends the JSON object of `v`, identical to what [`write_region`] writes for
/// `v.to_region()`.
pub fn write_view(out: &mut Vec<u8>, v: &RegionView<'_>) {
    let file = match v.path {
        Some(p) => Text::Path(p),
        None => Text::Null,
    };
    write_object(out, v, &v.perms.as_bytes(), "active", file);
}

/// A string field: already escaped text, path bytes to escape, or `null`.
enum Text<'a> {
    Escaped(&'a str),
    Path(&'a [u8]),
    Null,
}

fn write_object(
    out: &mut Vec<u8>,
    r: &RegionView<'_>,
    protection: &[u8],
    state: &str,
    mapped_file: Text<'_>,
) {
    out.extend_from_slice(b"{\"base_address\":");
    push_u64(out, r.base_address as u64);
    out.extend_from_slice(b",\"size\":");
    push_u64(out, r.size as u64);
    out.extend_from_slice(b",\"protection\":");
    push_str(out, &String::from_utf8_lossy(protection));
    out.extend_from_slice(b",\"region_type\":\"");
    out.extend_from_slice(r.region_type.name().as_bytes());
    out.extend_from_slice(b"\",\"state\":");
    push_str(out, state);
    out.extend_from_slice(b",\"mapped_file\":");
    match mapped_file {
        Text::Escaped(s) => push_str(out, s),
        Text::Path(p) => push_path(out, p),
        Text::Null => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"address_hex\":\"");
    push_hex(out, r.base_address as u64);
    out.extend_from_slice(b"\",\"end_address_hex\":\"");
    push_hex(out, r.end_address() as u64);
    out.extend_from_slice(b"\",\"name\":");
    match r.name {
        Some(n) => push_str(out, &String::from_utf8_lossy(n)),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"offset\":");
    push_u64(out, r.offset);
    out.extend_from_slice(b",\"device\":\"");
    push_hex2(out, r.device.major);
    out.push(b':');
    push_hex2(out, r.device.minor);
    out.extend_from_slice(b"\",\"inode\":");
    push_u64(out, r.inode);
    out.extend_from_slice(if r.type_reason.deleted_unknown() {
        b",\"deleted\":null,\"type_reason\":"
    } else if r.deleted {
        b",\"deleted\":true,\"type_reason\":"
    } else {
        b",\"deleted\":false,\"type_reason\":"
    });
    match r.type_reason.as_static_str() {
        Some(s) => push_str(out, s),
        None => push_str(out, &r.type_reason.to_string()),
    }
    if let Some(u) = r.usage {
        out.extend_from_slice(b",\"usage\":");
        usage(out, u);
    }
    if let Some(flags) = r.vm_flags {
        out.extend_from_slice(b",\"vm_flags\":[");
        for (i, f) in flags.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if f.0.iter().all(|c| c.is_ascii_alphanumeric()) {
                out.extend_from_slice(&[b'"', f.0[0], f.0[1], b'"']);
            } else {
                push_str(out, f.as_str());
            }
        }
        out.push(b']');
    }
    out.push(b'}');
}

/// Appends at least two lowercase hex digits, as `{:02x}` does.
fn push_hex2(out: &mut Vec<u8>, v: u32) {
    let v = v as u64;
    let digits = hex_digits(v).max(2);
    out.extend_from_slice(&hex16(v)[16 - digits..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_serde() {
        for s in [
            "plain",
            "quote\"back\\slash",
            "ctl\u{1}\n\t\r\u{8}\u{c}",
            "caf\\xe9",
            "é",
        ] {
            let mut out = Vec::new();
            push_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    #[test]
    fn paths_escape_like_escape_path() {
        for p in [
            &b"/plain/path"[..],
            b"/caf\xe9/\xff\xfe",
            b"/quote\"and\\back\nslash",
            "/\u{e9}t\u{e9}".as_bytes(),
        ] {
            let mut out = Vec::new();
            push_path(&mut out, p);
            let want = serde_json::to_vec(&crate::region::escape_path(p)).unwrap();
            assert_eq!(out, want, "{}", String::from_utf8_lossy(p));
        }
    }

    #[test]
    fn hex_digits_of_every_nibble_in_every_place() {
        for place in 0..16 {
            for nibble in 0..16u64 {
                let v = 0x0123_4567_89ab_cdef_u64 & !(0xf << (place * 4)) | nibble << (place * 4);
                assert_eq!(hex16(v), *format!("{v:016x}").as_bytes(), "{v:#x}");
            }
        }
    }

    #[test]
    fn hex_left_aligned() {
        for v in [0u64, 1, 0xf, 0x10, 0x7fff_0000, u64::MAX] {
            let (d, n) = hex_left(v);
            assert_eq!(&d[..n], format!("{v:x}").as_bytes());
        }
    }

    #[test]
    fn hex_and_numbers() {
        for v in [
            0u64,
            1,
            0xf,
            0x10,
            0xfd,
            0x103,
            0x7fff0000,
            1 << 63,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            push_hex(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), format!("{v:#x}"));
            if let Ok(v) = u32::try_from(v) {
                let mut out = Vec::new();
                push_hex2(&mut out, v);
                assert_eq!(String::from_utf8(out).unwrap(), format!("{v:02x}"));
            }
        }
    }

    #[test]
    fn region_matches_serde_on_a_capture() {
        let smaps =
            crate::proc::smaps::parse(include_bytes!("../../tests/fixtures/proc/odd/smaps"))
                .unwrap();
        let lines: Vec<_> = smaps.iter().map(|e| e.as_maps_line()).collect();
        let c = crate::region::classify::Classifier::default();
        for (i, e) in smaps.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| &lines[j]);
            for detailed in [false, true] {
                let r = c.region(
                    prev,
                    &lines[i],
                    lines.get(i + 1),
                    detailed.then_some(e.usage),
                    detailed.then(|| e.vm_flags.clone()),
                );
                let mut fast = Vec::new();
                write_region(&mut fast, &r);
                assert_eq!(fast, serde_json::to_vec(&r).unwrap());
                let mut view = Vec::new();
                write_view(&mut view, &r.view());
                assert_eq!(view, fast);
            }
        }
    }
}
