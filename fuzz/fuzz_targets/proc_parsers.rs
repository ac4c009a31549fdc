//! Feeds arbitrary bytes to the pure /proc parsers and the classifier: they must return a value
//! or an error, never panic, and a parsed maps line must describe a non-empty-or-empty range
//! whose end is not below its start. The smaps parser's fixed-layout shortcut must give exactly
//! what the general parser gives, values and errors alike, and so must the maps parser's
//! buffer form and its line form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use memlink::region::classify::{classify_all, Classifier, ThreadStacks};
use memlink::proc::{maps, smaps, stat, status, task};

fuzz_target!(|data: &[u8]| {
    if let Ok(lines) = maps::parse(data) {
        for l in &lines {
            assert!(l.end >= l.start);
        }
        let regions = classify_all(&Classifier::new(ThreadStacks::new(vec![(0x7000, 1)], 1)), &lines);
        assert_eq!(regions.len(), lines.len());
    }
    // The buffer form of the maps parser agrees with the line form on the first line.
    if let Some(i) = data.iter().position(|&c| c == b'\n') {
        let by_line = maps::parse_line(&data[..i], 1).ok().map(|l| (l, i + 1));
        assert_eq!(maps::parse_prefix(data), by_line);
    }
    let fixed = smaps::parse(data);
    if let Ok(entries) = &fixed {
        for e in entries {
            assert!(e.end >= e.start);
        }
    }
    let general = smaps::parse_with(smaps::SmapsParser::general_only(), data);
    assert_eq!(
        fixed.map_err(|e| e.to_string()),
        general.map_err(|e| e.to_string())
    );
    let _ = smaps::parse_rollup(data);
    let _ = stat::parse(data);
    let _ = status::parse(data);
    let _ = task::parse_syscall(data);
});
