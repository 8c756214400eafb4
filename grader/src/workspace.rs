//! Where grading happens: the student's own workspace, or a private copy of
//! it with a submission's exercise files laid over it.
//!
//! Copies live in *worker* folders (`w0`, `w1`, ...) under a work directory
//! that survives between runs (by default `target/grader-work`). A worker
//! keeps its copy and its own cargo target directory, so grading the next
//! submission recompiles only the exercise files that changed; files are
//! rewritten only when their content differs, which keeps cargo's
//! freshness checks meaningful. A worker folder is locked (`flock`) while in
//! use, so two graders never share one.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use crate::catalog::EXERCISES;

/// The workspace containing `start` (or one of its parents): the folder
/// with `Cargo.toml` and `lessons/exercises/`.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    let start = fs::canonicalize(start).ok()?;
    start
        .ancestors()
        .find(|d| d.join("Cargo.toml").is_file() && d.join("lessons/exercises").is_dir())
        .map(Path::to_path_buf)
}

/// The workspace the grader was run in: from the current directory up, or
/// else the one the grader was built from.
pub fn default_root() -> Option<PathBuf> {
    std::env::current_dir()
        .ok()
        .and_then(|d| find_root(&d))
        .or_else(|| find_root(Path::new(env!("CARGO_MANIFEST_DIR"))))
}

/// Cargo's target directory for the workspace at `root`.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// One student's exercise files, by file name (`exercise1.rs`).
#[derive(Debug, Clone)]
pub struct Submission {
    /// The submission's folder name (the student).
    pub name: String,
    /// The exercise files it holds.
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Submission {
    /// Read the exercise files of the submission in `dir`: from
    /// `dir/lessons/exercises/`, else `dir/exercises/`, else `dir` itself
    /// (Gradescope hands over the uploaded files as they are).
    pub fn read(dir: &Path) -> io::Result<Submission> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let from = [dir.join("lessons/exercises"), dir.join("exercises")]
            .into_iter()
            .find(|d| d.is_dir())
            .unwrap_or_else(|| dir.to_path_buf());
        let mut files = BTreeMap::new();
        for ex in EXERCISES {
            let file = ex.file_name();
            match fs::read(from.join(&file)) {
                Ok(bytes) => {
                    files.insert(file, bytes);
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Submission { name, files })
    }
}

/// A worker folder, locked for as long as this value lives.
#[derive(Debug)]
pub struct Worker {
    /// The worker's folder.
    pub dir: PathBuf,
    _lock: File,
}

impl Worker {
    /// Open (creating it if needed) worker `index` under `work_dir` and lock
    /// it, waiting for another grader that holds it.
    pub fn open(work_dir: &Path, index: usize) -> io::Result<Worker> {
        let dir = work_dir.join(format!("w{index}"));
        fs::create_dir_all(&dir)?;
        let lock = File::create(dir.join(".lock"))?;
        // SAFETY: flock on a file descriptor we own; released when `lock`
        // is closed.
        if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Worker { dir, _lock: lock })
    }

    /// The worker's copy of the workspace.
    pub fn root(&self) -> PathBuf {
        self.dir.join("ws")
    }

    /// The worker's cargo target directory.
    pub fn target(&self) -> PathBuf {
        self.dir.join("target")
    }

    /// Make the worker's copy equal to the workspace at `root` with the
    /// submission's exercise files laid over `lessons/exercises/`.
    pub fn prepare(&self, root: &Path, submission: &Submission) -> io::Result<()> {
        let ws = self.root();
        fs::create_dir_all(&ws)?;
        for file in ["Cargo.toml", "Cargo.lock"] {
            if root.join(file).exists() {
                sync_file(&root.join(file), &ws.join(file))?;
            }
        }
        // The submission's files replace the workspace's in one pass, so a
        // file that is the same as the last submission's is not touched.
        let exercises = ws.join("lessons/exercises");
        let overlay: BTreeMap<PathBuf, &[u8]> = submission
            .files
            .iter()
            .map(|(file, bytes)| (exercises.join(file), bytes.as_slice()))
            .collect();
        for dir in ["runtime", "lessons", "grader"] {
            sync_dir(&root.join(dir), &ws.join(dir), &overlay)?;
        }
        for (path, bytes) in &overlay {
            write_if_changed(path, bytes)?;
        }
        Ok(())
    }
}

/// Copy `src` into `dst` recursively, skipping build output, hidden files
/// and the files that `overlay` replaces.
fn sync_dir(src: &Path, dst: &Path, overlay: &BTreeMap<PathBuf, &[u8]>) -> io::Result<()> {
    fs::create_dir_all(dst)?;
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == "target" || name_str.starts_with('.') {
            continue;
        }
        let (from, to) = (entry.path(), dst.join(&name));
        if entry.file_type()?.is_dir() {
            sync_dir(&from, &to, overlay)?;
        } else if !overlay.contains_key(&to) {
            sync_file(&from, &to)?;
        }
    }
    Ok(())
}

fn sync_file(src: &Path, dst: &Path) -> io::Result<()> {
    write_if_changed(dst, &fs::read(src)?)
}

/// Write `bytes` to `path` unless it already holds exactly them: an
/// unchanged file keeps its modification time, so cargo does not rebuild.
fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    fs::write(path, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submissions_are_found_in_the_usual_places() {
        let tmp = std::env::temp_dir().join(format!("grader-sub-{}", std::process::id()));
        let nested = tmp.join("alice/lessons/exercises");
        fs::create_dir_all(&nested).unwrap();
        fs::write(nested.join("exercise2.rs"), "fn main() {}").unwrap();
        fs::write(nested.join("notes.txt"), "ignored").unwrap();
        let flat = tmp.join("bob");
        fs::create_dir_all(&flat).unwrap();
        fs::write(flat.join("exercise4.rs"), "x").unwrap();

        let alice = Submission::read(&tmp.join("alice")).unwrap();
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.files.keys().collect::<Vec<_>>(), ["exercise2.rs"]);
        let bob = Submission::read(&flat).unwrap();
        assert_eq!(bob.files.keys().collect::<Vec<_>>(), ["exercise4.rs"]);
        fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn unchanged_files_keep_their_time() {
        let tmp = std::env::temp_dir().join(format!("grader-mtime-{}", std::process::id()));
        fs::create_dir_all(&tmp).unwrap();
        let f = tmp.join("a.rs");
        write_if_changed(&f, b"one").unwrap();
        let before = fs::metadata(&f).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_if_changed(&f, b"one").unwrap();
        assert_eq!(fs::metadata(&f).unwrap().modified().unwrap(), before);
        write_if_changed(&f, b"two").unwrap();
        assert_ne!(fs::metadata(&f).unwrap().modified().unwrap(), before);
        fs::remove_dir_all(&tmp).unwrap();
    }
}
