//! The self-contained HTML page: inline CSS and script, the [`MapDocument`] embedded as JSON,
//! and a Content-Security-Policy that forbids every fetch.
//!
//! The page is a fixed template (`assets/page.css`, `assets/page.js`, compiled in) around one
//! data block, so it is written by plain string output rather than a templating engine: the only
//! variable parts are the title (escaped) and the JSON (made script-safe by [`ScriptSafe`]).
//! The policy allows exactly the inline script and style whose SHA-256 hashes it names, and
//! nothing else (`default-src 'none'`): no network, no other file, no injected script.

use std::io::{self, Write};

use sha2::{Digest, Sha256};

use super::svg::escape;
use super::{MapDocument, ScriptSafe};

const CSS: &str = include_str!("assets/page.css");
const JS: &str = include_str!("assets/page.js");

/// Standard base64 with padding (for CSP hash sources).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn hash_source(text: &str) -> String {
    format!("'sha256-{}'", base64(&Sha256::digest(text.as_bytes())))
}

/// The Content-Security-Policy of every page: nothing may be fetched or run but the page's own
/// inline script and style.
pub(crate) fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        hash_source(JS),
        hash_source(CSS)
    )
}

/// Writes the page for `doc`.
pub fn write<W: Write + ?Sized>(doc: &MapDocument<'_>, out: &mut W) -> io::Result<()> {
    let title = escape(&doc.title);
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"{}\">\n<title>{title}</title>\n<style>{CSS}</style>\n</head>\n\
         <body>\n<header><h1 id=\"title\">{title}</h1><p id=\"subtitle\"></p></header>\n\
         <div id=\"error\" hidden></div>\n\
         <noscript><p>This page draws the map with its inline script; allow JavaScript to see it.</p></noscript>\n\
         <main id=\"app\"></main>\n<script type=\"application/json\" id=\"memlink-data\">",
        content_security_policy(),
        escape(&doc.generator)
    )?;
    doc.write_json(&mut ScriptSafe(&mut *out))?;
    write!(out, "</script>\n<script>{JS}</script>\n</body>\n</html>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn policy_forbids_fetches() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert!(
            !JS.contains("</script"),
            "the script must not close its element"
        );
        assert!(!CSS.contains("</style"));
    }
}
