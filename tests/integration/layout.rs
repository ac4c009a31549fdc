//! The source tree keeps its shape: features reach the operating system only through the
//! platform API, and no two library modules import each other, directly or around a circle.
//!
//! Both checks read the `use crate::` (and inline `crate::`) paths of every library file; doc
//! comments, line comments and `#[cfg(test)] mod tests` blocks are left out, since a test may
//! reach anywhere. A module is a file (`src/a/b.rs` is `a::b`, `src/a/mod.rs` is `a`); a path
//! names the deepest module it reaches, and a file's paths into its own ancestors do not count
//! (a child using its area's shared items is the area's own structure, not a circle).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn library_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "cli") {
                continue; // the binary's own tree, which imports the library as `memlink::`
            }
            library_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "main.rs")
        {
            out.push(path);
        }
    }
}

/// The module path of a library file, relative to `src/`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file without comments and without its unit-test module.
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if line.trim_start().starts_with("#[cfg(test)]") {
            // Skip the attribute's item: a `mod tests { ... }` block up to its closing brace at
            // column 0, or a single line.
            let Some(next) = lines.next() else { break };
            if next.trim_end().ends_with('{') {
                for l in lines.by_ref() {
                    if l == "}" {
                        break;
                    }
                }
            }
            continue;
        }
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        out.push_str(code);
        out.push('\n');
    }
    out
}

/// Every `crate::a::b::...` path in `code`, as its segments.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let mut segs = Vec::new();
        let mut tail = rest;
        loop {
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .unwrap_or(tail.len());
            if end == 0 {
                break;
            }
            segs.push(tail[..end].to_string());
            match tail[end..].strip_prefix("::") {
                Some(t) => tail = t,
                None => break,
            }
        }
        if !segs.is_empty() {
            out.push(segs);
        }
    }
    out
}

struct Tree {
    /// Module path -> (file, code).
    modules: BTreeMap<String, (PathBuf, String)>,
}

impl Tree {
    fn read() -> Tree {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        library_files(&src, &mut files);
        let modules = files
            .into_iter()
            .map(|f| {
                let code = code_of(&std::fs::read_to_string(&f).unwrap());
                (module_of(&src, &f), (f, code))
            })
            .collect();
        Tree { modules }
    }

    /// Module -> the modules its paths reach.
    fn edges(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (module, (_, code)) in &self.modules {
            let set = edges.entry(module.as_str()).or_default();
            for segs in crate_paths(code) {
                let target = (1..=segs.len())
                    .rev()
                    .map(|k| segs[..k].join("::"))
                    .find_map(|t| self.modules.get_key_value(&t).map(|(k, _)| k.as_str()));
                let Some(target) = target else { continue };
                let ancestor = target.is_empty()
                    || module == target
                    || module.starts_with(&format!("{target}::"));
                if !ancestor {
                    set.insert(target);
                }
            }
        }
        edges
    }
}

/// The strongly connected components of more than one module (Tarjan's algorithm).
fn circles<'a>(edges: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Vec<Vec<&'a str>> {
    struct State<'a, 'e> {
        edges: &'e BTreeMap<&'a str, BTreeSet<&'a str>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(s: &mut State<'a, '_>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in s.edges.get(v).into_iter().flatten() {
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            loop {
                let w = s.stack.pop().unwrap();
                s.on_stack.remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for &v in edges.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_module_outside_the_platform_names_its_linux_backend() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    library_files(&src, &mut files);
    // The CLI too: it is a feature like any other.
    library_files_all(&src.join("cli"), &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|f| !f.starts_with(src.join("platform")))
        .filter(|f| {
            std::fs::read_to_string(f)
                .unwrap()
                .contains("platform::linux")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        offenders.is_empty(),
        "outside src/platform/, these name platform::linux: {offenders:?}"
    );
}

fn library_files_all(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            library_files_all(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_circle_between_library_modules() {
    let tree = Tree::read();
    let edges = tree.edges();
    // The check sees real edges: the analyzer reaches the platform, the platform the parsers.
    assert!(edges["analyzer"].contains("platform"), "{edges:?}");
    assert!(edges["platform"].iter().any(|m| m.starts_with("proc")));
    let found = circles(&edges);
    assert!(
        found.is_empty(),
        "modules that import each other around a circle: {found:?}"
    );
}

#[test]
fn circle_finder_finds_a_planted_circle() {
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    edges.entry("a").or_default().insert("b");
    edges.entry("b").or_default().insert("c");
    edges.entry("c").or_default().insert("a");
    edges.entry("d").or_default().insert("a");
    assert_eq!(circles(&edges), vec![vec!["a", "b", "c"]]);
    let paths = crate_paths("use crate::link::request::{A, B};\nlet x = crate::platform::f();");
    assert_eq!(
        paths,
        vec![
            vec!["link".to_string(), "request".into()],
            vec!["platform".to_string(), "f".into()]
        ]
    );
}
