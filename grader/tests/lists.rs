//! One source of truth for lists: the catalog (`grader/src/catalog.rs`)
//! holds the exercises once; the `[[bin]]`s of `lessons/Cargo.toml`, the
//! README's exercise table and its count of checks and points must agree
//! with it. When they differ, the message says what to write.

use std::fs;
use std::path::{Path, PathBuf};

use grader::catalog::{self, CHECKS, EXERCISES};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn read(rel: &str) -> String {
    fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The first two cells of each row of the first table after `heading`.
fn table_keys(markdown: &str, heading: &str) -> Vec<(String, String)> {
    let section = markdown
        .split_once(heading)
        .unwrap_or_else(|| panic!("README has no {heading:?}"))
        .1;
    section
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|row| {
            let cells: Vec<&str> = row.split('|').map(str::trim).collect();
            (cells[1].to_string(), cells[2].trim_matches('`').to_string())
        })
        .collect()
}

#[test]
fn the_lessons_manifest_builds_exactly_the_catalogs_exercises() {
    let manifest = read("lessons/Cargo.toml");
    let bins = catalog::cargo_bins();
    assert!(
        manifest.ends_with(&bins),
        "lessons/Cargo.toml must end with the exercises' [[bin]]s, in catalog order:\n{bins}"
    );
    let head = &manifest[..manifest.len() - bins.len()];
    assert!(
        !head.contains("[[bin]]"),
        "lessons/Cargo.toml has a [[bin]] the catalog does not know; the lessons' binaries are found in src/bin/"
    );
}

#[test]
fn the_readme_lists_the_catalogs_exercises() {
    let readme = read("README.md");
    let rows = table_keys(&readme, "## For students: the exercises");
    let want: Vec<(String, String)> = EXERCISES
        .iter()
        .map(|e| (e.key.to_string(), e.file_name()))
        .collect();
    assert_eq!(
        rows, want,
        "README's exercise table: one row per exercise, in catalog order"
    );
    let count = format!(
        "({} checks, {} points)",
        CHECKS.len(),
        catalog::max_points()
    );
    assert!(readme.contains(&count), "README says {count}");
}

#[test]
fn every_exercise_has_a_template_a_hint_and_a_solution() {
    for ex in EXERCISES {
        for file in [
            format!("lessons/exercises/{}", ex.file_name()),
            format!("lessons/exercises/{}", ex.hint_name()),
            format!("lessons/solutions/{}", ex.file_name()),
        ] {
            assert!(root().join(&file).is_file(), "{file} is missing");
        }
    }
    // And nothing else sits there that the catalog does not know.
    for dir in ["lessons/exercises", "lessons/solutions"] {
        for entry in fs::read_dir(root().join(dir)).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let stem = name.split('.').next().unwrap_or_default();
            assert!(
                EXERCISES.iter().any(|e| e.bin == stem),
                "{dir}/{name} belongs to no exercise of the catalog"
            );
        }
    }
}

#[test]
fn the_lessons_an_exercise_runs_exist() {
    for ex in EXERCISES {
        for bin in ex.lessons {
            assert!(
                lessons::LESSONS.iter().any(|l| l.name == *bin),
                "exercise {} runs {bin}, which is no lesson",
                ex.key
            );
        }
    }
}

#[test]
fn students_recipes_leave_the_failure_to_the_grader() {
    // `just check N` failing is the grader's answer, not an error of just's:
    // no `error: Recipe failed` after it (the exit status stays non-zero).
    let justfile = read("justfile");
    for recipe in ["check N:", "hint N:", "progress:", "watch *N:"] {
        let at = justfile
            .lines()
            .position(|l| l == recipe)
            .unwrap_or_else(|| panic!("justfile has no `{recipe}` recipe"));
        assert_eq!(
            justfile.lines().nth(at - 1),
            Some("[no-exit-message]"),
            "`{recipe}` is marked [no-exit-message]"
        );
    }
}
