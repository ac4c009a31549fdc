//! The compiled patterns of a search. One pattern is searched with `memchr::memmem` (SIMD);
//! several at once with an Aho-Corasick automaton over each pattern's longest fixed run of
//! bytes (its anchor), then checked whole.

use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memmem;

use super::pattern::Pattern;
use crate::error::{Error, Result};

/// The longest pattern (a chunk must hold a whole match).
const MAX_PATTERN: usize = 64 << 10;

enum Engine {
    One(Box<memmem::Finder<'static>>),
    Many(AhoCorasick),
}

/// The compiled patterns.
pub(super) struct Matcher {
    pub(super) patterns: Vec<Pattern>,
    /// Per distinct anchor: the (pattern, anchor offset) pairs using it.
    anchors: Vec<Vec<(usize, usize)>>,
    engine: Engine,
    pub(super) max_len: usize,
}

impl Matcher {
    pub(super) fn new(patterns: Vec<Pattern>) -> Result<Matcher> {
        if patterns.is_empty() {
            return Err(Error::InvalidArgument(
                "no pattern given (use --hex, --text, --utf16 or a typed value such as --u32)"
                    .into(),
            ));
        }
        if let Some(p) = patterns.iter().find(|p| p.len() > MAX_PATTERN) {
            return Err(Error::InvalidArgument(format!(
                "pattern {} is {} bytes long; the longest supported is {MAX_PATTERN}",
                p.label.chars().take(40).collect::<String>(),
                p.len()
            )));
        }
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut anchors: Vec<Vec<(usize, usize)>> = Vec::new();
        for (i, p) in patterns.iter().enumerate() {
            let (off, a) = p.anchor();
            match keys.iter().position(|k| k == a) {
                Some(k) => anchors[k].push((i, off)),
                None => {
                    keys.push(a.to_vec());
                    anchors.push(vec![(i, off)]);
                }
            }
        }
        let engine = if keys.len() == 1 {
            Engine::One(Box::new(memmem::Finder::new(&keys[0]).into_owned()))
        } else {
            Engine::Many(
                AhoCorasick::builder()
                    .match_kind(MatchKind::Standard)
                    .build(&keys)
                    .map_err(|e| Error::InvalidArgument(format!("cannot compile patterns: {e}")))?,
            )
        };
        let max_len = patterns.iter().map(Pattern::len).max().unwrap_or(1);
        Ok(Matcher {
            patterns,
            anchors,
            engine,
            max_len,
        })
    }

    /// Calls `emit(pos, pattern)` for every match in `data` that ends after `carried`, starts
    /// before absolute address `limit` and respects alignment; `base` is `data[0]`'s address.
    pub(super) fn find(
        &self,
        data: &[u8],
        carried: usize,
        base: u64,
        limit: u64,
        emit: &mut dyn FnMut(usize, usize) -> bool,
    ) -> bool {
        let mut check = |hit: usize, key: usize| -> bool {
            for &(pi, off) in &self.anchors[key] {
                let p = &self.patterns[pi];
                let Some(s) = hit.checked_sub(off) else {
                    continue;
                };
                let end = s + p.len();
                if end > data.len() || end <= carried {
                    continue;
                }
                let addr = base + s as u64;
                if addr >= limit || !addr.is_multiple_of(p.align as u64) || !p.matches(&data[s..]) {
                    continue;
                }
                if !emit(s, pi) {
                    return false;
                }
            }
            true
        };
        match &self.engine {
            Engine::One(f) => {
                for hit in f.find_iter(data) {
                    if !check(hit, 0) {
                        return false;
                    }
                }
            }
            Engine::Many(ac) => {
                for m in ac.find_overlapping_iter(data) {
                    if !check(m.start(), m.pattern().as_usize()) {
                        return false;
                    }
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::search::pattern::ValueType;

    fn find_all(m: &Matcher, data: &[u8], chunk: usize) -> Vec<(usize, usize)> {
        // Simulate the walker's carry over an in-memory buffer.
        let keep = m.max_len - 1;
        let mut out = Vec::new();
        let mut pos = 0;
        let mut carried = 0;
        while pos < data.len() {
            let n = chunk.min(data.len() - pos);
            let start = pos - carried;
            let piece = &data[start..pos + n];
            m.find(piece, carried, start as u64, u64::MAX, &mut |p, pi| {
                out.push((start + p, pi));
                true
            });
            pos += n;
            carried = keep.min(pos);
        }
        out
    }

    #[test]
    fn boundary_matches_found_once() {
        let m = Matcher::new(vec![Pattern::text("needle!").unwrap()]).unwrap();
        let mut data = vec![0u8; 100];
        for at in [0, 13, 29, 93] {
            data[at..at + 7].copy_from_slice(b"needle!");
        }
        for chunk in [1, 2, 7, 8, 16, 100] {
            let got: Vec<usize> = find_all(&m, &data, chunk)
                .into_iter()
                .map(|x| x.0)
                .collect();
            assert_eq!(got, [0, 13, 29, 93], "chunk {chunk}");
        }
    }

    #[test]
    fn several_patterns_with_wildcards_and_alignment() {
        let m = Matcher::new(vec![
            Pattern::hex("aa ?? cc").unwrap(),
            Pattern::text("ab").unwrap(),
            Pattern::value(ValueType::U16, "0xbbaa", false, true).unwrap(),
        ])
        .unwrap();
        let data = b"x\xaaX\xcc_ab_\xaa\xbb\xaa\xbb";
        let mut got = find_all(&m, data, 3);
        got.sort();
        assert_eq!(got, [(1, 0), (5, 1), (8, 2), (10, 2)]);
    }
}
