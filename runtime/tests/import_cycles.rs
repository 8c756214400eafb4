//! The runtime's files must stay readable one at a time: a student who opens
//! `p.rs` should not need `sched.rs` to follow it. Files that import each
//! other in a cycle can only be understood together, so this test keeps the
//! largest such group small: at most [`MAX_CYCLE`] files (today `deadlock`,
//! `idle`, `m`, `sched`, `sigquit`, `trace`: the scheduler's core, which
//! really is one idea), and the low files (the G, its stack, the run queue,
//! the P) in no cycle at all.
//!
//! A file imports another when it names a path into it (`use
//! crate::sched::Sched`, `crate::m::current_g()`, `super::Event`), comments
//! excluded: the rule of the project's `import-cycles` tool. When this test
//! fails, break the new edge the way the runtime already does (a hook the
//! higher file registers at start-up, as `fatal`'s exit hooks and
//! `g::set_on_panic`; or move the function to the file whose data it uses).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The most files allowed to import each other in one cycle.
const MAX_CYCLE: usize = 6;

/// Files that must be in no cycle: everything above them imports them, so
/// they must not import anything above them.
const LOW_FILES: &[&str] = &[
    "stack",
    "runq",
    "funcval",
    "fatal",
    "g",
    "p",
    "g::locals",
    "timers",
];

/// Module path (`g::locals`) -> source text, for every `.rs` under `dir`.
fn crate_files(dir: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).expect("read runtime/src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(root).unwrap().with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if matches!(
                    parts.last().map(String::as_str),
                    Some("mod" | "lib" | "main")
                ) {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).expect("read source");
                out.insert(parts.join("::"), text);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// `text` without `/* */` and `//` comments (doc comments included).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i..].find("*/").map_or("", |j| &rest[i + j + 2..]);
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `a::b::c` path that starts at byte `at` of `text`.
fn path_at(text: &str, at: usize) -> &str {
    let rest = &text[at..];
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(rest.len());
    rest[..end].trim_end_matches(':')
}

/// The longest prefix of `path` that is a file of the crate.
fn resolve<'a>(files: &'a BTreeMap<String, String>, path: &str) -> Option<&'a str> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    (1..=parts.len())
        .rev()
        .map(|k| parts[..k].join("::"))
        .find_map(|m| files.get_key_value(&m).map(|(k, _)| k.as_str()))
}

/// Who imports whom.
fn import_graph(files: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges = BTreeMap::new();
    for (m, text) in files {
        let text = strip_comments(text);
        let parent = m.rsplit_once("::").map_or("", |(p, _)| p);
        let mut to = BTreeSet::new();
        for (i, _) in text.match_indices("crate::") {
            let after = i + "crate::".len();
            if text[after..].starts_with('{') {
                // `use crate::{a, b::c}`: one level of braces.
                let group = &text[after + 1..];
                let group = &group[..group.find('}').unwrap_or(group.len())];
                for item in group.split(',') {
                    let item = item.split(" as ").next().unwrap_or("").trim();
                    let item = item.replace("self", "");
                    if let Some(t) = resolve(files, item.trim_matches(':')) {
                        to.insert(t.to_string());
                    }
                }
            } else if let Some(t) = resolve(files, path_at(&text, after)) {
                to.insert(t.to_string());
            }
        }
        for (i, _) in text.match_indices("super::") {
            if i > 0 && text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let path = path_at(&text, i + "super::".len());
            let full = if parent.is_empty() {
                path.to_string()
            } else {
                format!("{parent}::{path}")
            };
            let t = resolve(files, &full)
                .or_else(|| files.get_key_value(parent).map(|(k, _)| k.as_str()));
            if let Some(t) = t {
                to.insert(t.to_string());
            }
        }
        to.remove(m);
        edges.insert(m.clone(), to);
    }
    edges
}

/// The groups of files that import each other in a cycle (strongly connected
/// components of more than one file), largest first (Tarjan's algorithm).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    struct Tarjan<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<BTreeSet<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.edges.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut comp = BTreeSet::new();
                loop {
                    let w = self.stack.pop().unwrap();
                    self.on_stack.remove(w);
                    comp.insert(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    self.out.push(comp);
                }
            }
        }
    }
    let mut t = Tarjan {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out.sort_by_key(|c| std::cmp::Reverse(c.len()));
    t.out
}

/// What is wrong with these cycles, if anything.
fn problems(cycles: &[BTreeSet<String>]) -> Vec<String> {
    let mut out = Vec::new();
    for c in cycles {
        let names = c.iter().cloned().collect::<Vec<_>>().join(", ");
        if c.len() > MAX_CYCLE {
            out.push(format!(
                "{} files import each other in a cycle (at most {MAX_CYCLE}): {names}",
                c.len()
            ));
        }
        for low in LOW_FILES.iter().filter(|f| c.contains(**f)) {
            out.push(format!(
                "`{low}` must import nothing above it, but is in a cycle with: {names}"
            ));
        }
    }
    out
}

#[test]
fn the_runtime_has_no_large_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = crate_files(&src);
    assert!(files.contains_key("sched") && files.contains_key("g::locals"));
    let found = cycles(&import_graph(&files));
    let problems = problems(&found);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The check bites: one new edge from a low file up to the scheduler (the
/// kind of shortcut that grew the cycle back to 14 files once) fails it.
#[test]
fn an_edge_from_the_g_up_to_the_scheduler_fails_the_check() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = crate_files(&src);
    let g = files.get_mut("g").unwrap();
    g.push_str("\nfn shortcut() { crate::sched::Sched::global(); }\n");
    let found = cycles(&import_graph(&files));
    let problems = problems(&found);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`g` must import nothing above it")),
        "the seeded edge g -> sched went unnoticed: {problems:?}"
    );
}

#[test]
fn paths_braces_and_comments_are_read_as_the_tool_reads_them() {
    let mut files = BTreeMap::new();
    for m in ["a", "b", "c", "d", "d::e"] {
        files.insert(m.to_string(), String::new());
    }
    files.insert(
        "a".into(),
        "use crate::{b::X, c as C};\n// crate::d::Y\n".into(),
    );
    files.insert("d::e".into(), "use super::Z;\n".into());
    let g = import_graph(&files);
    assert_eq!(g["a"], ["b", "c"].iter().map(|s| s.to_string()).collect());
    assert_eq!(g["d::e"], ["d"].iter().map(|s| s.to_string()).collect());
    let seven: BTreeMap<String, BTreeSet<String>> = (0..7)
        .map(|i| {
            (
                format!("m{i}"),
                BTreeSet::from([format!("m{}", (i + 1) % 7)]),
            )
        })
        .collect();
    assert_eq!(problems(&cycles(&seven)).len(), 1);
}
