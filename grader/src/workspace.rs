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
//!
//! The copy is [`Pristine`]: only what a student should see (no solutions,
//! no grader, no hints), and before every submission it is made exactly
//! that again, whatever a previous submission did: files that differ are
//! rewritten, files that should not be there are removed. The copy belongs
//! to the grader and is read-only to submitted code; the target directory
//! belongs to the worker's build uid; binaries are copied to `bin/` (the
//! grader's) before anything runs; each run gets an empty scratch folder.

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

/// Largest exercise file the grader accepts.
pub const MAX_FILE: u64 = 256 << 10;

/// One student's exercise files, by file name (`exercise1.rs`).
#[derive(Debug, Clone, Default)]
pub struct Submission {
    /// The submission's folder name (the student).
    pub name: String,
    /// The exercise files it holds.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Exercise files that were there but refused, with the reason (a
    /// symbolic link, a folder, too big, unreadable).
    pub refused: BTreeMap<String, String>,
    /// Files that look like a misnamed exercise file:
    /// `found Exercise1.rs — the grader looks for exercise1.rs`, by the
    /// file name they were probably meant as.
    pub misnamed: BTreeMap<String, String>,
}

impl Submission {
    /// Read the exercise files of the submission in `dir`: from
    /// `dir/lessons/exercises/`, else `dir/exercises/`, else `dir` itself
    /// (Gradescope hands over the uploaded files as they are). Only regular
    /// files are taken, never through a symbolic link; anything odd is
    /// recorded in `refused` or `misnamed`, never an error.
    pub fn read(dir: &Path) -> Submission {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| dir.display().to_string());
        let mut sub = Submission {
            name: crate::report::sanitize(&name, 120),
            ..Submission::default()
        };
        // A real folder, not a link to somewhere else (the solutions).
        let real_dir = |d: &Path| fs::symlink_metadata(d).is_ok_and(|m| m.is_dir());
        let from = if real_dir(&dir.join("lessons")) && real_dir(&dir.join("lessons/exercises")) {
            dir.join("lessons/exercises")
        } else if real_dir(&dir.join("exercises")) {
            dir.join("exercises")
        } else {
            dir.to_path_buf()
        };
        for ex in EXERCISES {
            let file = ex.file_name();
            match read_regular(&from.join(&file)) {
                Ok(Some(bytes)) => {
                    sub.files.insert(file, bytes);
                }
                Ok(None) => {}
                Err(why) => {
                    sub.refused.insert(file, why);
                }
            }
        }
        // Misnamed files: the same name once case and punctuation are
        // ignored (`Exercise1.rs`, `exercise_1.rs`, `EXERCISE1.RS`).
        let squash = |s: &str| -> String {
            s.to_lowercase()
                .trim_end_matches(".rs")
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .collect()
        };
        if let Ok(entries) = fs::read_dir(&from) {
            let mut found: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            found.sort();
            for f in found {
                for ex in EXERCISES {
                    let want = ex.file_name();
                    if f != want && squash(&f) == squash(&want) && f.to_lowercase().ends_with(".rs")
                    {
                        sub.misnamed.entry(want.clone()).or_insert_with(|| {
                            format!(
                                "found {} — the grader looks for {want}",
                                crate::report::sanitize(&f, 80)
                            )
                        });
                    }
                }
            }
        }
        sub
    }

    /// Why exercise file `file` is not graded (`None` when it is here).
    pub fn missing_reason(&self, file: &str) -> Option<String> {
        if self.files.contains_key(file) {
            return None;
        }
        if let Some(why) = self.refused.get(file) {
            return Some(why.clone());
        }
        Some(match self.misnamed.get(file) {
            Some(hint) => format!("{file} was not submitted ({hint})"),
            None => format!("{file} was not submitted"),
        })
    }
}

/// The content of `path` when it is a regular file; `Ok(None)` when there
/// is nothing there; `Err(reason)` for anything else.
fn read_regular(path: &Path) -> Result<Option<Vec<u8>>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{file} cannot be read: {e}")),
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        return Err(format!("{file} is a symbolic link; submit the file itself"));
    }
    if kind.is_dir() {
        return Err(format!("{file} is a folder, not a file"));
    }
    if !kind.is_file() {
        return Err(format!("{file} is not a regular file"));
    }
    if meta.len() > MAX_FILE {
        return Err(format!(
            "{file} is {} KiB; the grader takes files up to {} KiB",
            meta.len() >> 10,
            MAX_FILE >> 10
        ));
    }
    // O_NOFOLLOW: a file swapped for a link after the check is refused too.
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("{file} cannot be read: {e}"))?;
    let mut bytes = Vec::new();
    (&mut f)
        .take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{file} cannot be read: {e}"))?;
    if !f.metadata().is_ok_and(|m| m.is_file()) || bytes.len() as u64 > MAX_FILE {
        return Err(format!(
            "{file} is not a regular file of at most {} KiB",
            MAX_FILE >> 10
        ));
    }
    Ok(Some(bytes))
}

/// The pristine workspace a submission is built in: what a student should
/// see and nothing more. The runtime, the lesson crate (its sources and
/// notes) and the exercise templates; no solutions, no lesson tests and
/// their expected outputs, no hints, no grader. The workspace manifest is
/// cut down to the two packages.
#[derive(Debug, Clone)]
pub struct Pristine {
    /// Every file, by path relative to the copy's root.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

/// Folders of `lessons/` a submission's build never sees.
const LESSONS_HIDDEN: [&str; 3] = ["solutions", "tests", "exercises"];

impl Pristine {
    /// Read it from the workspace at `root`. `cargo` (the grader's, run
    /// here with the grader's rights on these trusted files only) cuts
    /// `Cargo.lock` down to the two packages in a scratch copy under
    /// `scratch`, so that builds never need to write it (the copy is
    /// read-only to them) and keep every version the workspace locked.
    pub fn of(root: &Path, cargo: &Path, scratch: &Path) -> io::Result<Pristine> {
        let mut files = BTreeMap::new();
        let manifest = fs::read_to_string(root.join("Cargo.toml"))?;
        files.insert(
            PathBuf::from("Cargo.toml"),
            trim_members(&manifest)?.into_bytes(),
        );
        files.insert(
            PathBuf::from("Cargo.lock"),
            fs::read(root.join("Cargo.lock"))?,
        );
        // Frame pointers (`[build] rustflags`): without them a report
        // shows no frames of the goroutines that were parked.
        let config = Path::new(".cargo/config.toml");
        if root.join(config).is_file() {
            files.insert(config.to_path_buf(), fs::read(root.join(config))?);
        }
        collect(root, Path::new("runtime"), &[], &mut files)?;
        collect(root, Path::new("lessons"), &LESSONS_HIDDEN, &mut files)?;
        for ex in EXERCISES {
            let rel = Path::new("lessons/exercises").join(ex.file_name());
            files.insert(rel.clone(), fs::read(root.join(&rel))?);
        }
        let mut pristine = Pristine { files };
        let _ = fs::remove_dir_all(scratch);
        for (rel, bytes) in &pristine.files {
            let path = scratch.join(rel);
            fs::create_dir_all(path.parent().unwrap_or(scratch))?;
            fs::write(path, bytes)?;
        }
        let out = std::process::Command::new(cargo)
            .args(["update", "--offline", "--workspace", "--quiet"])
            .current_dir(scratch)
            .env("CARGO_TERM_COLOR", "never")
            .output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "cargo update --offline --workspace in {}: {}",
                scratch.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        pristine.files.insert(
            PathBuf::from("Cargo.lock"),
            fs::read(scratch.join("Cargo.lock"))?,
        );
        let _ = fs::remove_dir_all(scratch);
        Ok(pristine)
    }
}

/// The workspace manifest with `members` cut to the runtime and the
/// lessons (the grader and the benchmarks are not in the copy).
fn trim_members(manifest: &str) -> io::Result<String> {
    replace_members(manifest, "members = [\"runtime\", \"lessons\"]")
}

/// The workspace manifest with its `members = [...]` line replaced by
/// `members` (one line).
pub fn replace_members(manifest: &str, members: &str) -> io::Result<String> {
    let mut out = String::new();
    let mut found = false;
    for line in manifest.lines() {
        if line.trim_start().starts_with("members") && !found {
            found = true;
            out.push_str(members);
            out.push('\n');
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !found {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the workspace Cargo.toml has no `members = [...]` line",
        ));
    }
    Ok(out)
}

/// Every regular file under `root/rel`, skipping build output, hidden
/// files and the folders in `hidden` (names directly under `rel`).
fn collect(
    root: &Path,
    rel: &Path,
    hidden: &[&str],
    files: &mut BTreeMap<PathBuf, Vec<u8>>,
) -> io::Result<()> {
    for entry in fs::read_dir(root.join(rel))? {
        let entry = entry?;
        let name = entry.file_name();
        let name_str = name.to_string_lossy();
        if name_str == "target" || name_str.starts_with('.') || hidden.contains(&&*name_str) {
            continue;
        }
        let kind = entry.file_type()?;
        let rel = rel.join(&name);
        if kind.is_dir() {
            collect(root, &rel, &[], files)?;
        } else if kind.is_file() {
            files.insert(rel, fs::read(entry.path())?);
        }
    }
    Ok(())
}

/// A worker folder, locked for as long as this value lives.
#[derive(Debug)]
pub struct Worker {
    /// The worker's folder.
    pub dir: PathBuf,
    /// Its number.
    pub index: usize,
    /// The machine-wide pair of sandbox uids it uses.
    pub slot: crate::sandbox::Slot,
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
        Ok(Worker {
            dir,
            index,
            slot: crate::sandbox::Slot::acquire()?,
            _lock: lock,
        })
    }

    /// The worker's copy of the workspace.
    pub fn root(&self) -> PathBuf {
        self.dir.join("ws")
    }

    /// The worker's cargo target directory.
    pub fn target(&self) -> PathBuf {
        self.dir.join("target")
    }

    /// Where built binaries are copied before anything runs (the grader's
    /// own, read-only to the programs).
    pub fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// The scratch folder of one run.
    pub fn scratch(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// `CARGO_HOME` of builds without bwrap.
    pub fn cargo_home(&self) -> PathBuf {
        self.dir.join("cargo-home")
    }

    /// Make the worker's copy exactly `pristine` with the submission's
    /// exercise files over the templates: files that differ are rewritten,
    /// anything else found in the copy (a file a program left, a link, a
    /// folder in a file's place) is removed. Unchanged files keep their
    /// time, so cargo rebuilds only what changed.
    pub fn prepare(&self, pristine: &Pristine, submission: &Submission) -> io::Result<()> {
        let mut want = pristine.files.clone();
        for (file, bytes) in &submission.files {
            want.insert(Path::new("lessons/exercises").join(file), bytes.clone());
        }
        let ws = self.root();
        make_dir(&ws)?;
        prune(&ws, Path::new(""), &want)?;
        for (rel, bytes) in &want {
            let path = ws.join(rel);
            if let Some(parent) = path.parent() {
                make_dir(parent)?;
            }
            write_if_changed(&path, bytes)?;
        }
        Ok(())
    }
}

/// Create `dir` (and parents) owned by us, mode 0755, replacing anything
/// that is not a folder.
fn make_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            fs::remove_file(dir)?;
            fs::create_dir_all(dir)?;
        }
        Err(_) => fs::create_dir_all(dir)?,
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755))
}

/// Remove everything under `ws/rel` that is not a folder on the way to a
/// wanted file or a wanted regular file.
fn prune(ws: &Path, rel: &Path, want: &BTreeMap<PathBuf, Vec<u8>>) -> io::Result<()> {
    for entry in fs::read_dir(ws.join(rel))? {
        let entry = entry?;
        let rel = rel.join(entry.file_name());
        let kind = entry.file_type()?;
        let wanted_file = want.contains_key(&rel);
        let wanted_dir = !wanted_file && want.keys().any(|k| k.starts_with(&rel));
        if kind.is_dir() && wanted_dir {
            prune(ws, &rel, want)?;
        } else if kind.is_file() && wanted_file {
        } else if kind.is_dir() {
            fs::remove_dir_all(entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Write `bytes` to `path` unless it already holds exactly them: an
/// unchanged file keeps its modification time, so cargo does not rebuild.
/// The file ends up ours, mode 0644, whatever it was.
fn write_if_changed(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let same = fs::symlink_metadata(path)
        .is_ok_and(|m| m.is_file() && m.mode() & 0o7777 == 0o644 && m.nlink() == 1)
        && fs::read(path).is_ok_and(|old| old == bytes);
    if same {
        return Ok(());
    }
    let _ = fs::remove_file(path);
    fs::write(path, bytes)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
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

        let alice = Submission::read(&tmp.join("alice"));
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.files.keys().collect::<Vec<_>>(), ["exercise2.rs"]);
        let bob = Submission::read(&flat);
        assert_eq!(bob.files.keys().collect::<Vec<_>>(), ["exercise4.rs"]);
        fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn every_submission_starts_from_the_pristine_copy() {
        let tmp = std::env::temp_dir().join(format!("grader-pristine-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        let pristine = Pristine {
            files: [
                (PathBuf::from("Cargo.toml"), b"[workspace]\n".to_vec()),
                (PathBuf::from("lessons/src/lib.rs"), b"// lib\n".to_vec()),
                (
                    PathBuf::from("lessons/exercises/exercise1.rs"),
                    b"template".to_vec(),
                ),
            ]
            .into(),
        };
        let worker = Worker::open(&tmp, 0).unwrap();
        let mut alice = Submission::default();
        alice.files.insert("exercise1.rs".into(), b"alice".to_vec());
        worker.prepare(&pristine, &alice).unwrap();
        let ws = worker.root();
        assert_eq!(
            fs::read(ws.join("lessons/exercises/exercise1.rs")).unwrap(),
            b"alice"
        );
        // What a previous submission could have left: a build script, a
        // changed source, a link, a folder where a file belongs.
        fs::write(ws.join("lessons/build.rs"), "fn main() {}").unwrap();
        fs::write(ws.join("lessons/src/lib.rs"), "// evil").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", ws.join("lessons/src/extra.rs")).unwrap();
        fs::remove_file(ws.join("Cargo.toml")).unwrap();
        fs::create_dir_all(ws.join("Cargo.toml/inner")).unwrap();
        worker.prepare(&pristine, &Submission::default()).unwrap();
        assert!(!ws.join("lessons/build.rs").exists());
        assert!(fs::symlink_metadata(ws.join("lessons/src/extra.rs")).is_err());
        assert_eq!(
            fs::read(ws.join("lessons/src/lib.rs")).unwrap(),
            b"// lib\n"
        );
        assert_eq!(fs::read(ws.join("Cargo.toml")).unwrap(), b"[workspace]\n");
        // Bob submitted nothing: the template, not Alice's file.
        assert_eq!(
            fs::read(ws.join("lessons/exercises/exercise1.rs")).unwrap(),
            b"template"
        );
        drop(worker);
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
