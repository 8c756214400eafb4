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

/// Go's report: the fatal line, a blank line, then every live goroutine with
/// its wait reason, where it blocked and where it was created. Go names the
/// creating *function* (`created by main.main`, plus `in goroutine N` since
/// Go 1.21); we know only the `go` call's source line and the creating
/// goroutine, so we print `created by goroutine N` and that line.
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
        let (created, parent) = g.created();
        if let (Some(at), true) = (created, parent != 0) {
            let _ = write!(
                out,
                "created by goroutine {parent}\n\t{}:{}\n",
                at.file(),
                at.line()
            );
        }
    }
    out
}
