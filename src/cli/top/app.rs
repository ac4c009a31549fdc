//! The interface's state: what is shown, the selection, sort, search and filter, grouping, the
//! process view's region table, and the status line. Pure data: the views draw it, the keys
//! change it, nothing here reads `/proc`.

use std::path::PathBuf;
use std::time::Duration;

use memlink::overtime::ps::{self, GroupBy, SortKey};

use super::data::{Detail, Frame, Row};

/// Which screen is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Every process.
    Processes,
    /// One process (Enter).
    Process,
    /// The terminal map of the process (`m` in the process view).
    Map,
    /// The keys (`?`).
    Help,
}

/// What a line of text being typed is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    /// `/` or F3: jump to the next match.
    Search,
    /// `\` or F4: show only matches.
    Filter,
    /// `f` in the process view: regions whose type, permissions or path match.
    RegionFilter,
}

/// Grouping of the processes view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Grouping {
    /// One line per process.
    #[default]
    None,
    /// Per user.
    User,
    /// Per memory cgroup.
    Cgroup,
    /// Per container (the cgroup path when none is recognised).
    Container,
}

/// Sort keys of the processes view: `--sort`'s.
pub use crate::cli::args::TopSort as Sort;

impl Sort {
    /// The next key of the `>` / F6 cycle.
    pub fn next(self) -> Sort {
        match self {
            Sort::Pss => Sort::Uss,
            Sort::Uss => Sort::Rss,
            Sort::Rss => Sort::Swap,
            Sort::Swap => Sort::Growth,
            Sort::Growth => Sort::Pid,
            Sort::Pid => Sort::Pss,
        }
    }

    /// The key groups are sorted by: groups have no growth of their own, so they keep PSS order.
    pub fn for_groups(self) -> SortKey {
        match self {
            Sort::Pss | Sort::Growth => SortKey::Pss,
            Sort::Uss => SortKey::Uss,
            Sort::Rss => SortKey::Rss,
            Sort::Swap => SortKey::Swap,
            Sort::Pid => SortKey::Pid,
        }
    }
}

/// Sort keys of the region table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegionSort {
    /// By address.
    #[default]
    Address,
    /// Largest RSS first.
    Rss,
    /// Largest PSS first.
    Pss,
    /// Largest size first.
    Size,
}

/// One line of the grouped processes view.
#[derive(Debug, Clone)]
pub struct GroupLine {
    /// The group key shown.
    pub key: String,
    /// The library's sums.
    pub group: ps::Group,
}

/// The whole state.
#[derive(Debug)]
pub struct App {
    /// The screen shown.
    pub screen: Screen,
    /// The screen to go back to from help or the map.
    pub back: Screen,
    /// The last refresh.
    pub frame: Frame,
    /// Refreshes received so far.
    pub frames: u64,
    /// The refresh interval.
    pub delay: Duration,
    /// The PSS/USS interval.
    pub pss_every: Duration,
    /// Sort key.
    pub sort: Sort,
    /// Grouping.
    pub grouping: Grouping,
    /// The filter (case-insensitive substring of PID, user, name or command).
    pub filter: String,
    /// The last search.
    pub search: String,
    /// The text being typed, and what for.
    pub prompt: Option<(Prompt, String)>,
    /// Selected line of the processes view.
    pub selected: usize,
    /// The process of the process view (PID, start time).
    pub focus: Option<(u32, Option<u64>)>,
    /// Its data, once read.
    pub detail: Option<Detail>,
    /// Why its data could not be read.
    pub detail_error: Option<String>,
    /// The region table's sort.
    pub region_sort: RegionSort,
    /// The region table's filter.
    pub region_filter: String,
    /// First line of the region table or the map shown.
    pub scroll: usize,
    /// The status line.
    pub status: String,
    /// The progress of the background `memlink leaks`, shown after the status.
    pub background: Option<String>,
    /// Colours (off with `NO_COLOR`).
    pub color: bool,
    /// Where action files go.
    pub out_dir: PathBuf,
    /// The last snapshot written, per PID (for the diff action).
    pub last_snapshot: std::collections::HashMap<u32, PathBuf>,
    /// Set by `q`.
    pub quit: bool,
}

impl App {
    /// A new state.
    pub fn new(delay: Duration, pss_every: Duration, sort: Sort, grouping: Grouping) -> App {
        App {
            screen: Screen::Processes,
            back: Screen::Processes,
            frame: Frame::default(),
            frames: 0,
            delay,
            pss_every,
            sort,
            grouping,
            filter: String::new(),
            search: String::new(),
            prompt: None,
            selected: 0,
            focus: None,
            detail: None,
            detail_error: None,
            region_sort: RegionSort::default(),
            region_filter: String::new(),
            scroll: 0,
            status: String::from("? for help"),
            background: None,
            color: std::env::var_os("NO_COLOR").is_none(),
            out_dir: PathBuf::from("."),
            last_snapshot: Default::default(),
            quit: false,
        }
    }

    /// Takes a new refresh, keeping the selection on the same process when it is still there.
    pub fn set_frame(&mut self, frame: Frame) {
        let selected_pid = self.visible_rows().get(self.selected).map(|r| r.ps.pid);
        let was_gone = self.focus_gone();
        self.frame = frame;
        self.frames += 1;
        if let (false, true, Some((pid, _))) = (was_gone, self.focus_gone(), self.focus) {
            self.status = format!(
                "process {pid} exited{}; Esc goes back to the list",
                if self.detail.is_some() {
                    ": its last figures are shown"
                } else {
                    ""
                }
            );
        }
        if let Some(pid) = selected_pid {
            if let Some(i) = self.visible_rows().iter().position(|r| r.ps.pid == pid) {
                self.selected = i;
            }
        }
        self.clamp();
    }

    /// Does `row` match the filter `f` (lower case)?
    pub fn matches(row: &Row, f: &str) -> bool {
        if f.is_empty() {
            return true;
        }
        let r = &row.ps;
        r.pid.to_string() == f
            || r.name.to_lowercase().contains(f)
            || r.user.to_lowercase().contains(f)
            || r.command
                .as_deref()
                .is_some_and(|c| c.to_lowercase().contains(f))
    }

    /// The rows shown: filtered and sorted (unknown figures last, then stale ones).
    pub fn visible_rows(&self) -> Vec<&Row> {
        let f = self.filter.to_lowercase();
        let mut rows: Vec<&Row> = self
            .frame
            .rows
            .iter()
            .filter(|r| Self::matches(r, &f))
            .collect();
        let key = |r: &Row| match self.sort {
            Sort::Pss => r.ps.figures.pss,
            Sort::Uss => r.ps.figures.uss,
            Sort::Rss => r.ps.figures.rss,
            Sort::Swap => r.ps.figures.swap,
            Sort::Growth => None,
            Sort::Pid => Some(u64::from(u32::MAX - r.ps.pid)),
        };
        // A growth over too short a history is unknown, and sorts last like any unknown figure.
        let growth = |r: &Row| r.growth.filter(|g| g.is_finite());
        let unknown = |r: &Row| match self.sort {
            Sort::Growth => growth(r).is_none(),
            _ => key(r).is_none(),
        };
        let stale = |r: &Row| {
            matches!(self.sort, Sort::Pss | Sort::Uss)
                && r.pss_age.is_some_and(|a| a > self.pss_every * 2)
        };
        let by_key = |a: &Row, b: &Row| match self.sort {
            Sort::Growth => growth(b)
                .unwrap_or(0.0)
                .total_cmp(&growth(a).unwrap_or(0.0)),
            _ => key(b).cmp(&key(a)),
        };
        rows.sort_by(|a, b| {
            unknown(a)
                .cmp(&unknown(b))
                .then(stale(a).cmp(&stale(b)))
                .then(by_key(a, b))
                .then(b.ps.figures.rss.cmp(&a.ps.figures.rss))
                .then(a.ps.pid.cmp(&b.ps.pid))
        });
        rows
    }

    /// The grouped lines (with the library's sums), sorted by the sort key.
    pub fn groups(&self) -> Vec<GroupLine> {
        let f = self.filter.to_lowercase();
        let rows: Vec<ps::ProcessRow> = self
            .frame
            .rows
            .iter()
            .filter(|r| Self::matches(r, &f))
            .map(|r| {
                let mut p = r.ps.clone();
                if self.grouping == Grouping::Container {
                    // Group containers through the cgroup grouping, keyed by container name.
                    let key = p
                        .container
                        .as_ref()
                        .map(|c| c.short())
                        .or_else(|| p.cgroup.as_ref().map(|c| c.path.clone()));
                    if let (Some(cg), Some(key)) = (p.cgroup.as_mut(), key) {
                        cg.path = key;
                    }
                }
                p
            })
            .collect();
        let by = match self.grouping {
            Grouping::User => GroupBy::User,
            Grouping::None | Grouping::Cgroup | Grouping::Container => GroupBy::Cgroup,
        };
        let mut groups = ps::group(&rows, by);
        ps::sort_groups(&mut groups, self.sort.for_groups());
        groups
            .into_iter()
            .map(|g| GroupLine {
                key: g.key.clone(),
                group: g,
            })
            .collect()
    }

    /// Number of selectable lines of the processes view.
    pub fn line_count(&self) -> usize {
        match self.grouping {
            Grouping::None => self.visible_rows().len(),
            _ => self.groups().len(),
        }
    }

    /// Keeps the selection inside the list.
    pub fn clamp(&mut self) {
        let n = self.line_count();
        if self.selected >= n {
            self.selected = n.saturating_sub(1);
        }
    }

    /// The selected process (PID, start time), in the ungrouped view.
    pub fn selected_process(&self) -> Option<(u32, Option<u64>)> {
        if self.grouping != Grouping::None {
            return None;
        }
        self.visible_rows()
            .get(self.selected)
            .map(|r| (r.ps.pid, r.start))
    }

    /// The PID actions apply to: the process view's, else the selected one.
    pub fn target(&self) -> Option<u32> {
        match self.screen {
            Screen::Process | Screen::Map => self.focus.map(|f| f.0),
            _ => self.selected_process().map(|p| p.0),
        }
    }

    /// Moves the selection to the next line matching the search, after the current one.
    pub fn search_next(&mut self) {
        let s = self.search.to_lowercase();
        if s.is_empty() {
            return;
        }
        let rows = self.visible_rows();
        let n = rows.len();
        let found = (1..=n)
            .map(|k| (self.selected + k) % n.max(1))
            .find(|&i| rows.get(i).is_some_and(|r| Self::matches(r, &s)));
        match found {
            Some(i) => self.selected = i,
            None => self.status = format!("no process matches {:?}", self.search),
        }
    }

    /// Whether the process of the process view has exited or been replaced, as the last refresh
    /// says (an empty list too: with `--pid`, the last process may be the one that exited).
    pub fn focus_gone(&self) -> bool {
        let Some((pid, start)) = self.focus else {
            return false;
        };
        self.frames > 0
            && !self
                .frame
                .rows
                .iter()
                .any(|r| r.ps.pid == pid && r.start == start)
    }
}
