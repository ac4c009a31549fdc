//! Reading the output of `memlink watch --format jsonl` for growth pictures.
//!
//! The format is one JSON object per line: `{"type":"sample",...}` for every sample, then one
//! `{"type":"verdict",...}` with the leak verdict and each component's fitted slope. Lines of
//! other types are skipped so that newer writers stay readable. Parsing is pure: bytes in; the
//! records are [`crate::overtime::watch`]'s own types.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use crate::overtime::watch::{Component, Grew, Sample, Verdict};

/// A whole watch: samples in order, then the verdict (absent when the watch was interrupted
/// before it printed one).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WatchLog {
    /// The samples.
    pub samples: Vec<Sample>,
    /// The verdict.
    pub verdict: Option<Verdict>,
}

impl WatchLog {
    /// Parses JSON lines; `what` names the input in errors.
    ///
    /// # Errors
    /// [`Error::Parse`] naming the line for a line that is not JSON or lacks a field;
    /// [`Error::InvalidArgument`] when there is no sample at all.
    pub fn parse(bytes: &[u8], what: &str) -> Result<WatchLog> {
        #[derive(Deserialize)]
        struct Tag {
            #[serde(rename = "type")]
            ty: Option<String>,
        }
        let mut log = WatchLog::default();
        for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let perr = |e: serde_json::Error| Error::Parse {
                what: format!("watch log {what}"),
                line: i + 1,
                message: e.to_string(),
                text: String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned(),
            };
            let tag: Tag = serde_json::from_slice(line).map_err(perr)?;
            match tag.ty.as_deref() {
                Some("sample") => log
                    .samples
                    .push(serde_json::from_slice(line).map_err(perr)?),
                Some("verdict") => log.verdict = Some(serde_json::from_slice(line).map_err(perr)?),
                _ => {}
            }
        }
        if log.samples.is_empty() {
            return Err(Error::InvalidArgument(format!(
                "{what} holds no samples (expected the output of memlink watch --format jsonl)"
            )));
        }
        Ok(log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"{"type":"sample","seq":0,"t":0.0,"time":1700000000.5,"pid":7,"rss":100,"pss":90,"uss":80,"swap":0,"anon":50,"file":40,"shmem":10,"stacks":null,"mappings":12}
{"type":"sample","seq":1,"t":1.0,"time":1700000001.5,"pid":7,"rss":200,"pss":190,"uss":180,"swap":0,"anon":150,"file":40,"shmem":10,"stacks":8192,"mappings":13}
{"type":"something-new"}
{"type":"verdict","leak_suspected":true,"components":[{"name":"anon","slope_per_min":6000.0,"r2":1.0,"growth":100.0,"span_s":1.0,"suspected":true,"reason":"steady growth"}],"grew":[{"what":"anon","delta":100}],"suggestion":"look at the heap"}
"#;

    #[test]
    fn parses_samples_and_verdict() {
        let log = WatchLog::parse(LOG.as_bytes(), "w.jsonl").unwrap();
        assert_eq!(log.samples.len(), 2);
        assert_eq!(log.samples[0].stacks, None);
        assert_eq!(log.samples[1].stacks, Some(8192));
        assert_eq!(log.samples[1].anon, 150);
        let v = log.verdict.unwrap();
        assert!(v.leak_suspected);
        assert_eq!(v.components[0].fit.slope_per_min, 6000.0);
        assert_eq!(v.grew[0].delta, 100);
    }

    #[test]
    fn bad_lines_name_the_line() {
        let e = WatchLog::parse(b"{\"type\":\"sample\"}\n", "w.jsonl").unwrap_err();
        let s = e.to_string();
        assert!(s.contains("w.jsonl") && s.contains('1'), "{s}");
        let e = WatchLog::parse(b"\n\nnot json\n", "w.jsonl").unwrap_err();
        assert!(e.to_string().contains('3'), "{e}");
        let e = WatchLog::parse(b"", "w.jsonl").unwrap_err();
        assert!(e.to_string().contains("no samples"), "{e}");
    }
}
