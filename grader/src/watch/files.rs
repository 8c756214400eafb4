//! Noticing saves: the OS's file events (`notify`: inotify, FSEvents,
//! kqueue), or polling where those do not reach us.
//!
//! File events are instant but do not always come: on WSL an edit made by a
//! Windows editor under `/mnt/c` raises no inotify event, and neither does
//! an edit on another machine of an NFS or SMB mount (rustlings#417, #444).
//! Polling works everywhere: every half second it reads the exercise files
//! (a few KiB) and compares their bytes, which is also immune to coarse or
//! skewed modification times. `Auto` polls on the filesystems known to
//! lose events and when the OS watcher cannot start; `GRADER_WATCH=poll`
//! (or `--poll`) forces polling, and the `c` key re-checks by hand anyway.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};

/// How to notice saves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// File events, unless the folder is on a filesystem that loses them.
    Auto,
    /// File events only.
    Notify,
    /// Poll the files' contents.
    Poll,
}

impl Mode {
    /// From `GRADER_WATCH` (`poll`, `notify`, `auto`), `Auto` when unset.
    pub fn from_env() -> Result<Mode, String> {
        match std::env::var("GRADER_WATCH").as_deref() {
            Err(_) | Ok("" | "auto") => Ok(Mode::Auto),
            Ok("poll") => Ok(Mode::Poll),
            Ok("notify") => Ok(Mode::Notify),
            Ok(other) => Err(format!("GRADER_WATCH={other:?}: use poll, notify or auto")),
        }
    }
}

/// How often polling looks.
pub const POLL_EVERY: Duration = Duration::from_millis(500);

/// A running watch; it stops when dropped.
pub struct Watching {
    /// Says how saves are noticed, for the status line.
    pub how: String,
    _watcher: Option<notify::RecommendedWatcher>,
    stop: Arc<AtomicBool>,
}

impl Drop for Watching {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Watch the files in `dir`, calling `changed` with the path of each file
/// that may have changed (the caller compares contents; one save may call
/// it several times).
pub fn watch(
    dir: &Path,
    mode: Mode,
    changed: impl Fn(PathBuf) + Send + Clone + 'static,
) -> Watching {
    let stop = Arc::new(AtomicBool::new(false));
    let why_poll = match mode {
        Mode::Poll => Some("as asked".to_string()),
        Mode::Auto => loses_events(dir),
        Mode::Notify => None,
    };
    if why_poll.is_none() {
        match os_watcher(dir, changed.clone()) {
            Ok(w) => {
                return Watching {
                    how: "file events".into(),
                    _watcher: Some(w),
                    stop,
                }
            }
            Err(e) if mode == Mode::Notify => {
                return Watching {
                    how: format!("not watching: {e}; press c to check"),
                    _watcher: None,
                    stop,
                }
            }
            Err(e) => return poll(dir, changed, stop, &format!("as file events failed: {e}")),
        }
    }
    poll(dir, changed, stop, &why_poll.unwrap_or_default())
}

fn os_watcher(
    dir: &Path,
    changed: impl Fn(PathBuf) + Send + 'static,
) -> notify::Result<notify::RecommendedWatcher> {
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let Ok(event) = res else { return };
        // Reads (open, close without writing) are no saves.
        let save = match event.kind {
            EventKind::Access(notify::event::AccessKind::Close(
                notify::event::AccessMode::Write,
            )) => true,
            EventKind::Access(_) => false,
            _ => true,
        };
        if save {
            for path in event.paths {
                changed(path);
            }
        }
    })?;
    // The folder, not the files: editors save by writing a new file and
    // renaming it over the old one, which a watch on the old file misses.
    w.watch(dir, RecursiveMode::NonRecursive)?;
    Ok(w)
}

fn poll(
    dir: &Path,
    changed: impl Fn(PathBuf) + Send + 'static,
    stop: Arc<AtomicBool>,
    why: &str,
) -> Watching {
    let dir = dir.to_path_buf();
    let flag = stop.clone();
    // The first look now, so a save right after `watch` returns is seen.
    let mut seen = snapshot(&dir);
    thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            thread::sleep(POLL_EVERY);
            let now = snapshot(&dir);
            for (path, bytes) in &now {
                if seen.get(path) != Some(bytes) {
                    changed(path.clone());
                }
            }
            seen = now;
        }
    });
    Watching {
        how: format!("polling every {:.1} s, {why}", POLL_EVERY.as_secs_f64()),
        _watcher: None,
        stop,
    }
}

/// The bytes of every `.rs` file in `dir`.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect()
}

/// Why file events would miss saves in `dir`, if they would: a network or
/// FUSE filesystem, or Windows' drives seen from WSL.
fn loses_events(dir: &Path) -> Option<String> {
    // From statfs(2) and linux/magic.h.
    const KINDS: &[(i64, &str)] = &[
        (0x6969, "NFS"),
        (0x517B, "SMB"),
        (0xFF53_4D42, "CIFS"),
        (0xFE53_4D42, "SMB2"),
        (0x0102_1997, "9p (WSL2's Windows drives)"),
        (0x6573_5546, "FUSE"),
    ];
    let c_path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: `statfs` fills the zeroed struct we own; the path is a valid
    // NUL-terminated string that outlives the call.
    let kind = unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        if libc::statfs(c_path.as_ptr(), &mut st) != 0 {
            return None;
        }
        #[allow(clippy::unnecessary_cast)] // the field's type differs by target
        {
            st.f_type as i64
        }
    };
    if let Some((_, name)) = KINDS.iter().find(|(k, _)| *k == kind) {
        return Some(format!("as {name} filesystems lose file events"));
    }
    let wsl = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .is_ok_and(|r| r.to_ascii_lowercase().contains("microsoft"));
    if wsl && dir.starts_with("/mnt/") {
        return Some("as WSL loses the file events of Windows drives".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Instant;

    fn wait_for(rx: &mpsc::Receiver<PathBuf>, file: &Path) -> bool {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match rx.recv_timeout(left) {
                Ok(p) if p.file_name() == file.file_name() => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    }

    #[test]
    fn both_ways_see_a_save() {
        for mode in [Mode::Notify, Mode::Poll] {
            let dir =
                std::env::temp_dir().join(format!("grader-watch-{}-{mode:?}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join("exercise9.rs");
            std::fs::write(&file, "fn main() {}\n").unwrap();
            let (tx, rx) = mpsc::channel();
            let w = watch(&dir, mode, move |p| {
                let _ = tx.send(p);
            });
            assert_eq!(
                w.how.starts_with("polling"),
                mode == Mode::Poll,
                "{}",
                w.how
            );
            std::fs::write(&file, "fn main() { println!(); }\n").unwrap();
            assert!(wait_for(&rx, &file), "{mode:?} saw the save");
            drop(w);
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}
