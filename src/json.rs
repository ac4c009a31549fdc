//! Fast JSON rendering of regions, for streaming hundreds of thousands of them.
//!
//! `serde_json` spends most of its time escaping keys and formatting through `fmt`; listing a
//! process with 100,000 mappings is dominated by it. [`write_region`] writes exactly what the
//! `Serialize` implementation of [`MemoryRegion`] writes (a test checks the two agree), with
//! integers through `itoa` and only the path-like strings escaped; [`write_view`] writes the same
//! for a borrowed [`RegionView`], escaping its path bytes on the way out.

use crate::memory::{MemoryRegion, Usage};
use crate::view::RegionView;

/// Appends `s` as a JSON string (quoted, escaped).
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_str_body(out, s);
    out.push(b'"');
}

/// Appends path bytes as the JSON string of their [`escape_path`](crate::memory::escape_path)
/// form (bytes that are not UTF-8 as `\xNN`), without building that string first.
pub fn push_path(out: &mut Vec<u8>, bytes: &[u8]) {
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

/// Appends an unsigned integer.
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// Appends `0x` and the lowercase hex digits of `v` (no padding), as `{:#x}` does.
pub fn push_hex(out: &mut Vec<u8>, v: u64) {
    let digits = hex_digits(v);
    let mut buf = [0u8; 18];
    buf[0] = b'0';
    buf[1] = b'x';
    buf[2..2 + digits].copy_from_slice(&hex16(v)[16 - digits..]);
    out.extend_from_slice(&buf[..2 + digits]);
}

/// The number of hex digits of `v` without leading zeros (1 for zero).
fn hex_digits(v: u64) -> usize {
    (16 - (v.leading_zeros() as usize / 4)).max(1)
}

/// All sixteen hex digits of `v`: a fixed-length loop the compiler unrolls, where a loop over
/// the significant digits pushing one byte at a time costs a bounds check and a branch each.
fn hex16(v: u64) -> [u8; 16] {
    let mut d = [0u8; 16];
    for (i, c) in d.iter_mut().enumerate() {
        *c = HEX[((v >> ((15 - i) * 4)) & 0xf) as usize];
    }
    d
}

fn usage(out: &mut Vec<u8>, u: &Usage) {
    let fields: [(&str, u64); 24] = [
        ("\"rss\":", u.rss),
        ("\"pss\":", u.pss),
        ("\"pss_dirty\":", u.pss_dirty),
        ("\"pss_anon\":", u.pss_anon),
        ("\"pss_file\":", u.pss_file),
        ("\"pss_shmem\":", u.pss_shmem),
        ("\"shared_clean\":", u.shared_clean),
        ("\"shared_dirty\":", u.shared_dirty),
        ("\"private_clean\":", u.private_clean),
        ("\"private_dirty\":", u.private_dirty),
        ("\"referenced\":", u.referenced),
        ("\"anonymous\":", u.anonymous),
        ("\"ksm\":", u.ksm),
        ("\"lazy_free\":", u.lazy_free),
        ("\"anon_huge_pages\":", u.anon_huge_pages),
        ("\"shmem_pmd_mapped\":", u.shmem_pmd_mapped),
        ("\"file_pmd_mapped\":", u.file_pmd_mapped),
        ("\"shared_hugetlb\":", u.shared_hugetlb),
        ("\"private_hugetlb\":", u.private_hugetlb),
        ("\"swap\":", u.swap),
        ("\"swap_pss\":", u.swap_pss),
        ("\"locked\":", u.locked),
        ("\"kernel_page_size\":", u.kernel_page_size),
        ("\"mmu_page_size\":", u.mmu_page_size),
    ];
    out.push(b'{');
    for (k, v) in fields {
        out.extend_from_slice(k.as_bytes());
        push_u64(out, v);
        out.push(b',');
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
    match protection {
        // The kernel's four letters need no escaping.
        [a, b, c, d]
            if protection
                .iter()
                .all(|c| c.is_ascii_lowercase() || *c == b'-') =>
        {
            out.extend_from_slice(&[b'"', *a, *b, *c, *d, b'"'])
        }
        _ => push_str(out, &String::from_utf8_lossy(protection)),
    }
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
    out.extend_from_slice(if r.deleted {
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
            let want = serde_json::to_vec(&crate::memory::escape_path(p)).unwrap();
            assert_eq!(out, want, "{}", String::from_utf8_lossy(p));
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
            crate::proc::smaps::parse(include_bytes!("../tests/fixtures/proc/odd/smaps")).unwrap();
        let lines: Vec<_> = smaps.iter().map(|e| e.as_maps_line()).collect();
        let c = crate::classify::Classifier::default();
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
