//! The report as a pprof profile (gzipped `profile.proto`, read by `go tool pprof`, Pyroscope
//! and Grafana) and as a flame graph SVG (drawn by `inferno` from the folded stacks).
//!
//! The profile has three sample types: `inuse_space` (bytes) and `inuse_objects` (count), the
//! outstanding bytes and allocations of each site, and `alloc_space` (bytes) allocated there
//! during the watch. Locations carry the address in the object's file address space (the
//! offset the text report prints); each mapping starts at 0 with file offset 0, so
//! `address` is what a symbolizer of that file expects. Every location already names its
//! function, so no symbolization is needed to read it.

use std::collections::HashMap;
use std::io::Write as _;

use prost::Message;

use super::objects::Frame;
use super::report::Report;

/// The messages of `profile.proto` (github.com/google/pprof, `proto/profile.proto`) that
/// memlink writes, declared with prost's derive (no protoc at build time).
pub mod proto {
    /// The profile.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        /// What each sample's values are.
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        /// The samples.
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        /// The objects.
        #[prost(message, repeated, tag = "3")]
        pub mapping: Vec<Mapping>,
        /// The code addresses.
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        /// The functions.
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        /// Strings, referred to by index; the first is "".
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        /// When the watch began (Unix nanoseconds).
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        /// How long it lasted.
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        /// Comments, as string indexes.
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
        /// The sample type shown first, as a string index.
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }

    /// A value's type and unit, as string indexes.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        /// For example `inuse_space`.
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        /// For example `bytes`.
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    /// One stack and its values.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        /// Locations, innermost first.
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        /// One value per sample type.
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
    }

    /// An object.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Mapping {
        /// From 1.
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// First address.
        #[prost(uint64, tag = "2")]
        pub memory_start: u64,
        /// One past the last.
        #[prost(uint64, tag = "3")]
        pub memory_limit: u64,
        /// File offset of `memory_start`.
        #[prost(uint64, tag = "4")]
        pub file_offset: u64,
        /// The object's path, as a string index.
        #[prost(int64, tag = "5")]
        pub filename: i64,
        /// Whether its locations name their functions.
        #[prost(bool, tag = "7")]
        pub has_functions: bool,
    }

    /// A code address.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        /// From 1.
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// Its mapping (0: none).
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        /// The address.
        #[prost(uint64, tag = "3")]
        pub address: u64,
        /// The function there.
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }

    /// A function at a location.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        /// The function.
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        /// Its source line (0: unknown).
        #[prost(int64, tag = "2")]
        pub line: i64,
    }

    /// A function.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        /// From 1.
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// Its name, as a string index.
        #[prost(int64, tag = "2")]
        pub name: i64,
        /// Its symbol name, as a string index.
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        /// Its object's path, as a string index.
        #[prost(int64, tag = "4")]
        pub filename: i64,
    }
}

#[derive(Default)]
struct Builder {
    p: proto::Profile,
    strings: HashMap<String, i64>,
    mappings: HashMap<String, u64>,
    functions: HashMap<String, u64>,
    locations: HashMap<(Option<String>, u64, String), u64>,
}

impl Builder {
    fn string(&mut self, s: &str) -> i64 {
        if let Some(i) = self.strings.get(s) {
            return *i;
        }
        let i = self.p.string_table.len() as i64;
        self.p.string_table.push(s.to_string());
        self.strings.insert(s.to_string(), i);
        i
    }

    fn mapping(&mut self, module: &str) -> u64 {
        if let Some(id) = self.mappings.get(module) {
            return *id;
        }
        let id = self.p.mapping.len() as u64 + 1;
        let filename = self.string(module);
        self.p.mapping.push(proto::Mapping {
            id,
            memory_start: 0,
            memory_limit: u64::MAX,
            file_offset: 0,
            filename,
            has_functions: true,
        });
        self.mappings.insert(module.to_string(), id);
        id
    }

    fn function(&mut self, name: &str, module: &str) -> u64 {
        let key = format!("{module}\0{name}");
        if let Some(id) = self.functions.get(&key) {
            return *id;
        }
        let id = self.p.function.len() as u64 + 1;
        let (name, filename) = (self.string(name), self.string(module));
        self.p.function.push(proto::Function {
            id,
            name,
            system_name: name,
            filename,
        });
        self.functions.insert(key, id);
        id
    }

    fn location(&mut self, f: &Frame) -> u64 {
        let label = f.label();
        let key = (f.module.clone(), f.offset, label.clone());
        if let Some(id) = self.locations.get(&key) {
            return *id;
        }
        let module = f.module.as_deref().unwrap_or("");
        let mapping_id = if module.is_empty() {
            0
        } else {
            self.mapping(module)
        };
        let function_id = self.function(&label, module);
        let id = self.p.location.len() as u64 + 1;
        self.p.location.push(proto::Location {
            id,
            mapping_id,
            address: f.offset,
            line: vec![proto::Line {
                function_id,
                line: 0,
            }],
        });
        self.locations.insert(key, id);
        id
    }
}

/// The profile of `report`, not yet encoded.
pub fn profile(report: &Report) -> proto::Profile {
    let mut b = Builder::default();
    b.string("");
    let types = [
        ("inuse_space", "bytes"),
        ("inuse_objects", "count"),
        ("alloc_space", "bytes"),
    ];
    for (t, u) in types {
        let (r#type, unit) = (b.string(t), b.string(u));
        b.p.sample_type.push(proto::ValueType { r#type, unit });
    }
    b.p.default_sample_type = b.string("inuse_space");
    for site in &report.sites {
        let location_id = site.frames.iter().map(|f| b.location(f)).collect();
        b.p.sample.push(proto::Sample {
            location_id,
            value: vec![
                site.bytes as i64,
                site.count as i64,
                site.alloc_bytes as i64,
            ],
        });
    }
    let comment = format!(
        "memlink leaks, process {}, {} mode, {} sites of {}",
        report.pid,
        report.mode,
        report.sites.len(),
        report.sites.len() + report.sites_omitted
    );
    let c = b.string(&comment);
    b.p.comment.push(c);
    b.p.duration_nanos = (report.duration_s * 1e9) as i64;
    b.p.time_nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64 - b.p.duration_nanos)
        .unwrap_or(0);
    b.p
}

/// The gzipped, encoded profile of `report`.
///
/// # Errors
/// The compressor's I/O error (it writes to memory: none is expected).
pub fn pprof(report: &Report) -> std::io::Result<Vec<u8>> {
    let raw = profile(report).encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw)?;
    gz.finish()
}

/// A flame graph of the outstanding bytes per stack, as SVG.
///
/// # Errors
/// inferno's error when it cannot draw the stacks.
pub fn svg(report: &Report) -> std::io::Result<Vec<u8>> {
    let folded = report.folded();
    let mut opts = inferno::flamegraph::Options::default();
    opts.title = format!(
        "memlink leaks: process {}, outstanding bytes ({} mode)",
        report.pid, report.mode
    );
    opts.count_name = "bytes".to_string();
    let mut out = Vec::new();
    if folded.is_empty() {
        // inferno refuses an empty input: an empty graph says there was nothing.
        opts.title.push_str(": nothing outstanding");
        inferno::flamegraph::from_lines(&mut opts, ["(nothing_outstanding) 1"], &mut out)
    } else {
        inferno::flamegraph::from_lines(&mut opts, folded.lines(), &mut out)
    }?;
    Ok(out)
}
