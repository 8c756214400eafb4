//! `just student-kit DIR`: the repository as students should get it.
//!
//! The runtime, the lessons with their notes, the exercise templates and
//! their hints, and the grader's sources so that `just check`, `just hint`
//! and `just progress` work; no reference solutions, no grader tests or
//! fixtures, no Gradescope scripts, no lesson tests with their expected
//! outputs (lesson 1's is exercise 4's answer), no benchmarks. The
//! workspace manifest, `Cargo.lock` and the `justfile` are cut down to
//! match.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `justfile` recipes a student uses.
const RECIPES: [&str; 7] = [
    "default", "lesson", "lessons", "check", "hint", "watch", "progress",
];

/// What is copied: (folder, names left out directly under it).
const TREES: [(&str, &[&str]); 3] = [
    ("runtime", &[]),
    ("lessons", &["solutions", "tests"]),
    ("grader", &["tests", "bench", "gradescope", "loom-bite.sh"]),
];

/// Write the student kit of the workspace at `root` into `out` (which must
/// not exist, or be empty). `cargo` trims `Cargo.lock`.
pub fn write(root: &Path, out: &Path, cargo: &Path) -> io::Result<Vec<PathBuf>> {
    if out.exists() && fs::read_dir(out)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not empty", out.display()),
        ));
    }
    fs::create_dir_all(out)?;
    let mut written = Vec::new();
    for (tree, hidden) in TREES {
        copy_tree(&root.join(tree), &out.join(tree), hidden, &mut written)?;
    }
    let manifest = fs::read_to_string(root.join("Cargo.toml"))?;
    let members = "members = [\"runtime\", \"lessons\", \"grader\"]";
    fs::write(
        out.join("Cargo.toml"),
        crate::workspace::replace_members(&manifest, members)?,
    )?;
    fs::copy(root.join("Cargo.lock"), out.join("Cargo.lock"))?;
    fs::write(
        out.join("justfile"),
        student_justfile(&fs::read_to_string(root.join("justfile"))?),
    )?;
    // `.cargo/config.toml`: frame pointers, so that a deadlock report
    // shows where every goroutine waits.
    if root.join(".cargo/config.toml").is_file() {
        fs::create_dir_all(out.join(".cargo"))?;
    }
    for file in [
        "README.md",
        "rust-toolchain.toml",
        "rust-toolchain",
        ".gitignore",
        ".cargo/config.toml",
    ] {
        if root.join(file).is_file() {
            fs::copy(root.join(file), out.join(file))?;
        }
    }
    let status = Command::new(cargo)
        .args(["update", "--offline", "--workspace", "--quiet"])
        .current_dir(out)
        .status()?;
    if !status.success() {
        return Err(io::Error::other(
            "cargo update --offline --workspace failed",
        ));
    }
    written.extend(
        ["Cargo.toml", "Cargo.lock", "justfile"]
            .iter()
            .map(|f| out.join(f)),
    );
    Ok(written)
}

fn copy_tree(
    from: &Path,
    to: &Path,
    hidden: &[&str],
    written: &mut Vec<PathBuf>,
) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == "target" || name_str.starts_with('.') || hidden.contains(&&*name_str) {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &to.join(&name), &[], written)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), to.join(&name))?;
            written.push(to.join(&name));
        }
    }
    Ok(())
}

/// The `justfile` with only the students' recipes: its settings, then each
/// kept recipe with the comment above it.
pub fn student_justfile(justfile: &str) -> String {
    let mut out = String::new();
    let mut pending_comment = String::new();
    let mut keeping = true;
    let mut in_header = true;
    for line in justfile.lines() {
        let is_recipe_head = !line.starts_with([' ', '\t', '#'])
            && !line.is_empty()
            && line.contains(':')
            && !line.contains(":=");
        if is_recipe_head {
            in_header = false;
            let name = line.split([' ', ':']).next().unwrap_or_default();
            keeping = RECIPES.contains(&name);
            if keeping {
                out.push_str(&pending_comment);
                out.push_str(line);
                out.push('\n');
            }
            pending_comment.clear();
        } else if (line.starts_with('#') || line.starts_with('[')) && !in_header {
            // A comment or an attribute (`[no-exit-message]`) belongs to
            // the recipe below it, and goes or stays with it.
            pending_comment.push_str(line);
            pending_comment.push('\n');
        } else if in_header || (keeping && !line.is_empty()) {
            out.push_str(line);
            out.push('\n');
        } else if line.is_empty() {
            if keeping && !out.ends_with("\n\n") {
                out.push('\n');
            }
            pending_comment.clear();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_students_justfile_keeps_only_their_recipes() {
        let j = "# top\n\nset shell := [\"bash\"]\n\n# List.\ndefault:\n    @just --list\n\n# Check.\ncheck N:\n    @cargo run -- check \"$1\"\n\n# Tests.\ntest:\n    cargo test\n\n# Loom.\nloom:\n    #!/usr/bin/env bash\n    echo x\n";
        let s = student_justfile(j);
        assert!(s.contains("set shell"));
        assert!(s.contains("# Check.\ncheck N:\n    @cargo run"));
        assert!(
            !s.contains("test:") && !s.contains("loom") && !s.contains("# Tests."),
            "{s}"
        );
    }

    #[test]
    fn attributes_go_with_their_recipe() {
        let j = "# top

# Check.
[no-exit-message]
check N:
    @check

# Grade.
[no-exit-message]
grade:
    @grade

# Progress.
[no-exit-message]
progress:
    @progress
";
        let s = student_justfile(j);
        assert_eq!(
            s,
            "# top\n\n# Check.\n[no-exit-message]\ncheck N:\n    @check\n\n# Progress.\n[no-exit-message]\nprogress:\n    @progress\n"
        );
    }
}
