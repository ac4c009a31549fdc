//! Text that cannot rewrite the terminal.
//!
//! memlink is typically run by root over every user's processes, and prints what those processes
//! chose: command lines, thread names, file names. Printed raw, an ESC sequence in a command line
//! recolours or retitles the operator's terminal, and a newline breaks a table. Every text output
//! therefore goes through [`push_terminal_safe`], which writes:
//!
//! - the C0 controls (U+0000–U+001F), DEL (U+007F) and the C1 controls (U+0080–U+009F, which
//!   hold the one-byte CSI) as `\xNN`, one escape per byte of their UTF-8 form;
//! - bytes that are not UTF-8 as `\xNN`;
//! - the backslash as `\\`, so the escaped form is reversible ([`unescape_terminal`]);
//! - everything else (printable UTF-8, spaces) as it is.
//!
//! JSON output escapes control characters by its own rules and does not use this module.

/// Appends the terminal-safe form of `bytes` to `out`.
pub fn push_terminal_safe(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        let mut start = 0;
        for (i, c) in valid.char_indices() {
            let escape = matches!(c, '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}' | '\\');
            if !escape {
                continue;
            }
            out.extend_from_slice(&valid.as_bytes()[start..i]);
            if c == '\\' {
                out.extend_from_slice(b"\\\\");
            } else {
                let mut utf8 = [0u8; 4];
                for &b in c.encode_utf8(&mut utf8).as_bytes() {
                    push_hex_escape(out, b);
                }
            }
            start = i + c.len_utf8();
        }
        out.extend_from_slice(&valid.as_bytes()[start..]);
        for &b in chunk.invalid() {
            push_hex_escape(out, b);
        }
    }
}

/// The terminal-safe form of `bytes` (see the module documentation).
pub fn terminal_safe(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    push_terminal_safe(&mut out, bytes);
    // Valid UTF-8 was copied whole and every escape is ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Reverses [`terminal_safe`]: `\\` becomes `\` and `\xNN` the byte it names. Text that is not
/// in the escaped form (a lone backslash, `\x` without two hex digits) is kept as it is.
pub fn unescape_terminal(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            if b.get(i + 1) == Some(&b'\\') {
                out.push(b'\\');
                i += 2;
                continue;
            }
            if b.get(i + 1) == Some(&b'x') {
                let hex = b
                    .get(i + 2..i + 4)
                    .and_then(|h| std::str::from_utf8(h).ok());
                if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// `s` without the trailing blanks (spaces and NULs) that programs pad their titles with
/// (redis, postgres and nginx rewrite their command line in place that way).
pub fn trim_padding(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .rposition(|&c| c != b' ' && c != 0)
        .map_or(0, |i| i + 1);
    &s[..end]
}

/// `s` shortened to at most `width` characters by replacing its middle with `…`, so that both
/// the start and the end of a long path stay visible. Text that fits is returned as it is.
pub fn elide_middle(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let keep = width - 1;
    let tail = keep / 2;
    let head = keep - tail;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

fn push_hex_escape(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[b'\\', b'x', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_escape_and_text_stays() {
        assert_eq!(terminal_safe(b"redis-server *:6379"), "redis-server *:6379");
        assert_eq!(
            terminal_safe("caf\u{e9} \u{1F600}".as_bytes()),
            "caf\u{e9} \u{1F600}"
        );
        assert_eq!(terminal_safe(b"\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
        assert_eq!(terminal_safe(b"a\nb\tc\rd\x7f"), "a\\x0ab\\x09c\\x0dd\\x7f");
        // The one-byte CSI (U+009B) and NEL (U+0085) as UTF-8.
        assert_eq!(
            terminal_safe("x\u{9b}31m\u{85}".as_bytes()),
            "x\\xc2\\x9b31m\\xc2\\x85"
        );
        assert_eq!(terminal_safe(b"back\\slash"), "back\\\\slash");
        assert_eq!(terminal_safe(b"bad\xff\xfe"), "bad\\xff\\xfe");
    }

    /// Every byte in every position comes back from the escaped form, and the escaped form
    /// holds no control character at all.
    #[test]
    fn escaped_form_is_reversible_and_inert() {
        for b in 0..=255u8 {
            for input in [
                vec![b],
                vec![b'a', b, b'z'],
                vec![0xc2, b],
                vec![b, b'\\', b'x'],
            ] {
                let safe = terminal_safe(&input);
                assert!(
                    !safe
                        .chars()
                        .any(|c| c.is_control() && c != ' ' || ('\u{80}'..='\u{9f}').contains(&c)),
                    "{input:?} -> {safe:?}"
                );
                assert_eq!(unescape_terminal(&safe), input, "{safe:?}");
            }
        }
    }

    #[test]
    fn elides_in_the_middle() {
        assert_eq!(elide_middle("/usr/lib/libc.so.6", 40), "/usr/lib/libc.so.6");
        let e = elide_middle("/very/long/directory/name/and/then/libfoo.so.1", 20);
        assert_eq!(e, "/very/long…bfoo.so.1");
        assert_eq!(e.chars().count(), 20);
        assert_eq!(elide_middle("abcdef", 1), "…");
    }

    #[test]
    fn padding_trims_blanks_only() {
        assert_eq!(
            trim_padding(b"postgres: checkpointer   \0\0"),
            b"postgres: checkpointer"
        );
        assert_eq!(trim_padding(b"   "), b"");
        assert_eq!(trim_padding(b" a b "), b" a b");
    }
}
