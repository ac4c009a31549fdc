//! Pictures of a process's memory: the address space as a map of coloured cells (HTML, SVG or
//! a terminal), with overlays such as audit findings drawn on top.
//!
//! Everything is drawn from one JSON document, [`MapDocument`]: the snapshot's process, summary
//! and regions (the same region objects `list --detailed --format json` prints; when a process
//! has so many regions that small ones are aggregated, those are summarised per group to keep
//! the page small and fast), a list of [`Highlight`]s, and the [`Layout`] computed here in
//! Rust. The SVG and terminal renderers walk the layout directly;
//! the HTML page embeds the document in a `<script type="application/json">` block and its
//! inline script draws from it, so the page, the SVG and `memlink map --format json` cannot
//! disagree.

pub mod diffmap;
pub mod html;
pub mod layout;
pub mod svg;
pub mod term;
pub mod watch;

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::process::ProcessInfo;
use crate::region::stats::MemoryStats;
use crate::region::MemoryRegion;
use crate::snapshot::Snapshot;

pub use layout::{Cell, CellKind, Layout, LayoutOptions, Row};

/// The format tag of map documents.
pub const MAP_FORMAT: &str = "memlink-map";
/// The map document version.
pub const MAP_VERSION: u32 = 1;

/// An address range drawn over the map, such as an audit finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Highlight {
    /// First address.
    #[serde(with = "hex_u64")]
    pub start: u64,
    /// One past the last address (a single address when equal to `start`).
    #[serde(with = "hex_u64")]
    pub end: u64,
    /// `critical`, `high`, `medium`, `low` or `info`; picks the outline colour.
    pub severity: String,
    /// What to say about it (one line).
    pub label: String,
}

impl From<&crate::inspect::audit::Finding> for Highlight {
    /// An audit finding drawn over the map: its region, severity and reason.
    fn from(f: &crate::inspect::audit::Finding) -> Highlight {
        let mut label = format!("{}: {}", f.kind, f.reason);
        if let Some(j) = &f.jit {
            label.push_str(&format!(" (explained by {j})"));
        }
        Highlight {
            start: f.start,
            end: f.end,
            severity: f.severity.name().to_string(),
            label,
        }
    }
}

mod hex_u64 {
    //! Addresses as `0x` hex strings: JSON numbers above 2^53 lose precision in JavaScript.
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{v:#x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        crate::units::parse_address(&s).map_err(serde::de::Error::custom)
    }
}

/// What a map document shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MapKind {
    /// The address space of one snapshot.
    Regions,
    /// Memory by component over time, from `memlink watch --format jsonl`.
    Watch,
    /// The changes between two snapshots.
    Diff,
}

/// The one JSON document every renderer draws from (`memlink map --format json` prints it;
/// the HTML page embeds it).
#[derive(Debug, Clone, Serialize)]
pub struct MapDocument<'a> {
    /// Always [`MAP_FORMAT`].
    pub format: &'static str,
    /// [`MAP_VERSION`].
    pub version: u32,
    /// `memlink VERSION`.
    pub generator: String,
    /// What the document shows.
    pub kind: MapKind,
    /// A one-line title.
    pub title: String,
    /// The colour of each region type and of gaps, so that every renderer agrees.
    pub palette: palette::Palette,
    /// The process (regions kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<&'a ProcessInfo>,
    /// When the snapshot was taken, in seconds since the Unix epoch (regions kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<u64>,
    /// The summary by type and by file (regions kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<&'a MemoryStats>,
    /// The full objects (as `list --detailed --format json` prints them) of the regions drawn
    /// on their own: every region unless the layout aggregated small ones, whose cells carry a
    /// summary instead (regions kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regions: Option<Vec<&'a MemoryRegion>>,
    /// The drawable layout of the snapshot's regions (regions kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layout: Option<&'a Layout>,
    /// Ranges drawn over the map.
    pub highlights: &'a [Highlight],
    /// The samples and verdict (watch kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watch: Option<&'a watch::WatchLog>,
    /// The change of each region in `regions` (diff kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<Vec<diffmap::Change>>,
    /// The diff (diff kind).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<&'a crate::overtime::diff::SnapshotDiff>,
}

impl<'a> MapDocument<'a> {
    /// A map of a snapshot's address space.
    pub fn regions(
        snapshot: &'a Snapshot,
        layout: &'a Layout,
        highlights: &'a [Highlight],
    ) -> Self {
        MapDocument {
            format: MAP_FORMAT,
            version: MAP_VERSION,
            generator: generator(),
            kind: MapKind::Regions,
            title: format!(
                "memlink map: PID {} ({})",
                snapshot.process.pid, snapshot.process.name
            ),
            palette: palette::Palette::new(),
            process: Some(&snapshot.process),
            taken_at: Some(snapshot.taken_at),
            stats: Some(&snapshot.stats),
            regions: Some(layout.standalone(&snapshot.regions).collect()),
            layout: Some(layout),
            highlights,
            watch: None,
            changes: None,
            diff: None,
        }
    }

    /// A picture of the changes from snapshot `a` to snapshot `b`.
    pub fn diff(a: &'a Snapshot, b: &'a Snapshot, picture: &'a diffmap::DiffPicture) -> Self {
        MapDocument {
            format: MAP_FORMAT,
            version: MAP_VERSION,
            generator: generator(),
            kind: MapKind::Diff,
            title: if a.process.pid == b.process.pid {
                format!("memlink diff: PID {} ({})", b.process.pid, b.process.name)
            } else {
                format!(
                    "memlink diff: PID {} ({}) to PID {} ({})",
                    a.process.pid, a.process.name, b.process.pid, b.process.name
                )
            },
            palette: palette::Palette::new(),
            process: Some(&b.process),
            taken_at: Some(b.taken_at),
            stats: Some(&b.stats),
            regions: Some(picture.layout.standalone(&picture.regions).collect()),
            layout: Some(&picture.layout),
            highlights: &[],
            watch: None,
            changes: Some(picture.standalone_changes()),
            diff: Some(&picture.diff),
        }
    }

    /// A picture of memory growth over time.
    pub fn watch(log: &'a watch::WatchLog) -> Self {
        MapDocument {
            format: MAP_FORMAT,
            version: MAP_VERSION,
            generator: generator(),
            kind: MapKind::Watch,
            title: match log.samples.first() {
                Some(s) => format!("memlink watch: PID {}", s.pid),
                None => "memlink watch".to_string(),
            },
            palette: palette::Palette::new(),
            process: None,
            taken_at: None,
            stats: None,
            regions: None,
            layout: None,
            highlights: &[],
            watch: Some(log),
            changes: None,
            diff: None,
        }
    }

    /// Writes the document as compact JSON.
    pub fn write_json<W: Write + ?Sized>(&self, out: &mut W) -> io::Result<()> {
        serde_json::to_writer(out, self).map_err(io::Error::from)
    }
}

fn generator() -> String {
    format!("memlink {}", env!("CARGO_PKG_VERSION"))
}

pub mod palette {
    //! The colours of the map: one hue per region type, shaded by permissions.

    use serde::Serialize;

    use crate::region::{Perms, RegionType};

    /// Fill of unmapped gaps.
    pub const GAP: &str = "#eceff3";

    /// The base colour of a type.
    pub fn base(t: RegionType) -> &'static str {
        match t {
            RegionType::Heap => "#e45756",
            RegionType::Stack => "#f58518",
            RegionType::ThreadStack => "#eeca3b",
            RegionType::Code => "#4c78a8",
            RegionType::MappedFile => "#72b7b2",
            RegionType::SharedMemory => "#b279a2",
            RegionType::Private => "#54a24b",
            RegionType::Kernel => "#9d755d",
            RegionType::Guard => "#79706e",
            RegionType::Reserved => "#bab0ac",
        }
    }

    /// How much white is mixed into a type's colour for these permissions: executable regions
    /// are darkest, writable ones full colour, read-only ones lighter, inaccessible ones
    /// palest. Negative values darken.
    pub fn lightening(p: Perms) -> f64 {
        if p.is_none() {
            0.6
        } else if p.contains(Perms::EXEC) {
            -0.2
        } else if p.contains(Perms::WRITE) {
            0.0
        } else {
            0.4
        }
    }

    /// The fill of a region: its type's colour shaded by its permissions.
    pub fn shade(t: RegionType, p: Perms) -> String {
        mix(base(t), lightening(p))
    }

    /// Mixes `#rrggbb` with white (`amount` > 0) or black (`amount` < 0).
    pub fn mix(color: &str, amount: f64) -> String {
        let c = u32::from_str_radix(color.trim_start_matches('#'), 16).unwrap_or(0x808080);
        let ch = |shift: u32| {
            let v = ((c >> shift) & 0xff) as f64;
            let t = if amount >= 0.0 { 255.0 } else { 0.0 };
            (v + (t - v) * amount.abs()).round().clamp(0.0, 255.0) as u32
        };
        format!("#{:02x}{:02x}{:02x}", ch(16), ch(8), ch(0))
    }

    /// The outline colour of a highlight of this severity.
    pub fn severity(s: &str) -> &'static str {
        match s.to_ascii_lowercase().as_str() {
            "critical" | "high" | "error" => "#c00000",
            "medium" | "warning" => "#e07b00",
            _ => "#1f5fbf",
        }
    }

    /// The colours of every type, in [`RegionType::ALL`] order.
    #[derive(Debug, Clone, Serialize)]
    pub struct Palette {
        /// `(type, base colour)`.
        pub types: Vec<(RegionType, &'static str)>,
        /// Gap fill.
        pub gap: &'static str,
        /// The shades, as `(permissions, lightening)` examples for a legend.
        pub shades: Vec<(&'static str, f64)>,
    }

    impl Palette {
        /// The palette.
        pub fn new() -> Palette {
            Palette {
                types: RegionType::ALL.iter().map(|&t| (t, base(t))).collect(),
                gap: GAP,
                shades: ["r-xp", "rw-p", "r--p", "---p"]
                    .into_iter()
                    .map(|p| {
                        (
                            p,
                            lightening(Perms::parse(p.as_bytes()).unwrap_or_default()),
                        )
                    })
                    .collect(),
            }
        }
    }

    impl Default for Palette {
        fn default() -> Self {
            Palette::new()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn shading() {
            assert_eq!(mix("#000000", 0.5), "#808080");
            assert_eq!(mix("#ffffff", -1.0), "#000000");
            assert_eq!(
                shade(RegionType::Heap, Perms::READ | Perms::WRITE),
                "#e45756"
            );
            assert_ne!(
                shade(RegionType::Code, Perms::READ | Perms::EXEC),
                shade(RegionType::Code, Perms::READ)
            );
        }
    }
}

/// Wraps a writer so that JSON can sit inside an HTML `<script>` element: every `<` becomes
/// `\u003c`, so no `</script>` or `<!--` can appear (in JSON a `<` only occurs inside strings,
/// where the escape means the same character).
pub struct ScriptSafe<W: Write>(pub W);

impl<W: Write> Write for ScriptSafe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut rest = buf;
        while let Some(i) = memchr::memchr(b'<', rest) {
            self.0.write_all(&rest[..i])?;
            self.0.write_all(b"\\u003c")?;
            rest = &rest[i + 1..];
        }
        self.0.write_all(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_safe_json() {
        let mut out = Vec::new();
        serde_json::to_writer(ScriptSafe(&mut out), &"</script><!--").unwrap();
        let s = String::from_utf8(out).unwrap();
        assert_eq!(s, r#""\u003c/script>\u003c!--""#);
        let back: String = serde_json::from_str(&s).unwrap();
        assert_eq!(back, "</script><!--");
    }

    #[test]
    fn highlight_json_round_trip() {
        let h = Highlight {
            start: 0xffff_ffff_ff60_0000,
            end: 0xffff_ffff_ff60_1000,
            severity: "high".into(),
            label: "x".into(),
        };
        let s = serde_json::to_string(&h).unwrap();
        assert!(s.contains("\"0xffffffffff600000\""), "{s}");
        assert_eq!(serde_json::from_str::<Highlight>(&s).unwrap(), h);
    }
}
