//! The runtime's file table ("the runtime in one page") is written twice: at
//! the top of `runtime/src/lib.rs` (what `cargo doc` shows) and in the
//! README. This test keeps them one table: the same rows in both, and a row
//! for every source file under `runtime/src`, so a new file cannot be left
//! out and a moved concept cannot leave a stale description behind.

use std::collections::BTreeSet;
use std::path::Path;

const README: &str = include_str!("../../README.md");
const LIB_RS: &str = include_str!("../src/lib.rs");

/// The rows of the first `| file | concept |` table in `text` (with `prefix`
/// stripped from each line first).
fn file_table(text: &str, prefix: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(|l| l.strip_prefix(prefix).unwrap_or(l).trim_end())
        .collect();
    let start = lines
        .iter()
        .position(|l| *l == "| file | concept |")
        .expect("no `| file | concept |` table");
    lines[start..]
        .iter()
        .take_while(|l| l.starts_with('|'))
        .map(|l| l.to_string())
        .collect()
}

/// The files a row names: the backquoted `*.rs` paths of its first cell.
fn files_of(row: &str) -> Vec<String> {
    let first = row.split('|').nth(1).unwrap_or("");
    first
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|f| f.ends_with(".rs"))
        .map(str::to_string)
        .collect()
}

fn source_files(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read runtime/src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            source_files(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).expect("under src");
            out.insert(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn readme_and_lib_rs_have_the_same_file_table() {
    let readme = file_table(README, "");
    let lib = file_table(LIB_RS, "//! ");
    assert_eq!(
        readme, lib,
        "README.md's \"runtime in one page\" table and lib.rs's differ: copy one onto the other"
    );
}

#[test]
fn the_file_table_lists_every_source_file_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut on_disk = BTreeSet::new();
    source_files(&root, &root, &mut on_disk);

    let mut listed = BTreeSet::new();
    for row in file_table(LIB_RS, "//! ").iter().skip(2) {
        for f in files_of(row) {
            assert!(listed.insert(f.clone()), "{f} is listed twice");
        }
    }
    let missing: Vec<_> = on_disk.difference(&listed).collect();
    let stale: Vec<_> = listed.difference(&on_disk).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "file table out of date: not listed {missing:?}, no such file {stale:?}"
    );
}
