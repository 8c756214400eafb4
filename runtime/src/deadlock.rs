//! Deadlock detection: "all goroutines are asleep - deadlock!"
//!
//! Lesson idea: "when the runtime determines that all the goroutines can no
//! longer move forward, it panics". Go checks this whenever an M goes idle
//! (`checkdead` in `proc.go`): if no M is running goroutine code and no
//! goroutine is runnable, in a syscall or waiting on a timer, nothing can
//! ever wake the sleepers up. That is a proof, not a guess: only a running
//! goroutine, a returning syscall or a firing timer can make a goroutine
//! runnable. (Goroutines are woken by goroutines; a plain OS thread that is
//! not an M could also wake one, which is why the detector only counts Ms.)
//!
//! One kind of plain thread does count: one that called `block_on` and went
//! back to its own work (`BlockOnCaller`). It plays the part of Go's running
//! `main`: a goroutine it left blocked is not a deadlock while it runs, as a
//! goroutine leaked by a running Go program is not. While it waits inside
//! `block_on` it does not count, so a `block_on` whose goroutines all block
//! still gets the report.

#[cfg(loom)]
use std::fmt::Write;

use crate::g::Status;
use crate::sched::{Locked, Sched};
use crate::sync_facade::{lock, Ordering};

/// What the detector found: the text of Go's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlockReport {
    /// The full text, starting with `fatal error: ...`.
    pub text: String,
}

/// Seeded bug for the loom suite: ignore pending timers and syscalls.
const COUNT_PENDING_WAKEUPS: bool = !cfg!(loom_seeded_bugs = "deadlock_ignores_timers");

/// Seeded bug for the loom suite: the M going idle does not count itself (as
/// if `check_dead` ran before `mput`), so the detector never fires.
const UNCOUNTED_SELF: u32 = if cfg!(loom_seeded_bugs = "checkdead_misses_self") {
    1
} else {
    0
};

/// Called with the scheduler lock held by an M that is about to sleep (Go's
/// `checkdead`), after it joined the idle list. Returns the report when the
/// program is deadlocked.
pub(crate) fn check_dead(sched: &Sched, locked: &Locked) -> Option<DeadlockReport> {
    // Some M is still running (or in a syscall): it may wake someone.
    let idle = locked.midle.len() as u32 - UNCOUNTED_SELF;
    if locked.mcount > idle {
        return None;
    }
    // A thread that used `block_on` is running its own code: it may still
    // wake a goroutine, as Go's `main` may.
    #[cfg(not(loom))]
    if BLOCK_ON_CALLERS_RUNNING.load(Ordering::SeqCst) > 0 {
        return None;
    }
    // A timer will fire or a syscall will return.
    if COUNT_PENDING_WAKEUPS && sched.pending_wakeups.load(Ordering::SeqCst) > 0 {
        return None;
    }
    let allgs = lock(&sched.allgs);
    let mut waiting = 0;
    for g in allgs.iter() {
        match g.status() {
            Status::Free => {}
            Status::Waiting => waiting += 1,
            // Go throws "checkdead: runnable g" here: someone queued a G
            // without waking an M. We stay quiet rather than kill a program
            // that will still make progress when some M wakes up.
            Status::Runnable | Status::Running | Status::Syscall => return None,
        }
    }
    if waiting == 0 {
        // No goroutines at all: an idle runtime (e.g. between `block_on`
        // calls), not a deadlock.
        return None;
    }
    Some(DeadlockReport {
        text: format_report(&allgs),
    })
}

/// Go's report: the fatal line, a blank line, then every live goroutine
/// with its wait reason and its frames (`traceback.rs`), and where it was
/// created (Go's `fatal` → `tracebackothers`). `GOTRACEBACK=none` keeps
/// only the fatal line.
#[cfg(not(loom))]
fn format_report(allgs: &[crate::g::GRef]) -> String {
    use crate::traceback::{settings, Goroutine, Printer};
    let mut out = String::from("fatal error: all goroutines are asleep - deadlock!\n");
    let settings = settings();
    if settings.level == 0 {
        return out;
    }
    let now = crate::timers::nanotime();
    let mut live: Vec<Goroutine> = allgs
        .iter()
        .filter(|g| g.status() != Status::Free)
        .map(|g| Goroutine::of(g, now))
        .collect();
    live.sort_by_key(|g| g.goid);
    let mut printer = Printer::new(settings);
    for g in &live {
        out.push('\n');
        printer.goroutine(&mut out, g, false);
    }
    out
}

/// Under loom there are no stacks to walk: the header and where each
/// goroutine blocked, which is what the models check.
#[cfg(loom)]
fn format_report(allgs: &[crate::g::GRef]) -> String {
    let mut out = String::from("fatal error: all goroutines are asleep - deadlock!\n");
    let mut live: Vec<_> = allgs
        .iter()
        .filter(|g| g.status() != Status::Free)
        .collect();
    live.sort_by_key(|g| g.goid());
    for g in live {
        let _ = write!(
            out,
            "\ngoroutine {} [{}]:\n",
            g.goid(),
            g.wait_reason().as_str()
        );
        if let Some(at) = g.wait_location() {
            let _ = writeln!(out, "\t{}:{}", at.file(), at.line());
        }
    }
    out
}

/// Threads that returned from `block_on` and run their own code now.
#[cfg(not(loom))]
static BLOCK_ON_CALLERS_RUNNING: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

#[cfg(not(loom))]
thread_local! {
    /// Whether this thread is counted in [`BLOCK_ON_CALLERS_RUNNING`]; the
    /// count drops when the thread ends.
    static COUNTED: Counted = const { Counted(std::cell::Cell::new(false)) };
}

#[cfg(not(loom))]
struct Counted(std::cell::Cell<bool>);

#[cfg(not(loom))]
impl Drop for Counted {
    fn drop(&mut self) {
        if self.0.get() {
            BLOCK_ON_CALLERS_RUNNING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// A plain thread waiting inside `block_on`: not counted while it waits,
/// counted as running from the moment its goroutine hands back the result
/// (until the thread ends). A goroutine calling `block_on` is not a plain
/// thread and is never counted.
#[cfg(not(loom))]
pub(crate) struct BlockOnCaller {
    plain: bool,
}

/// Sent to `block_on`'s goroutine: counts the caller as running again.
#[cfg(not(loom))]
pub(crate) struct Returning {
    plain: bool,
}

#[cfg(not(loom))]
impl BlockOnCaller {
    pub(crate) fn enter() -> BlockOnCaller {
        let plain = crate::m::current_m().is_none();
        if plain {
            let _ = COUNTED.try_with(|c| {
                if c.0.replace(false) {
                    BLOCK_ON_CALLERS_RUNNING.fetch_sub(1, Ordering::SeqCst);
                }
            });
        }
        BlockOnCaller { plain }
    }

    pub(crate) fn returning(&self) -> Returning {
        Returning { plain: self.plain }
    }
}

#[cfg(not(loom))]
impl Returning {
    /// Called by the goroutine just before it hands back the result.
    pub(crate) fn count(self) {
        if self.plain {
            BLOCK_ON_CALLERS_RUNNING.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[cfg(not(loom))]
impl Drop for BlockOnCaller {
    fn drop(&mut self) {
        // Already counted by `Returning::count`; remember to uncount when
        // the thread ends (or waits in `block_on` again).
        if self.plain && COUNTED.try_with(|c| c.0.set(true)).is_err() {
            BLOCK_ON_CALLERS_RUNNING.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
