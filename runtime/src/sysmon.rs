//! sysmon: the system monitor thread that makes a cooperative scheduler feel
//! preemptive (Go's `sysmon`, `retake`, `preemptone` in `proc.go`).
//!
//! Lesson idea: "the Go scheduler looks and feels preemptive even though it is
//! a cooperating scheduler". sysmon is one OS thread that runs without a P.
//! It naps 20 us while a system call may need its P handed off, backing off
//! to 10 ms when there is nothing to do (Go starts with 20 us naps; we start
//! backed off, see `run`), and looks at every P: if the same goroutine has been running on a P for
//! 10 ms (`forcePreemptNS`), it asks that goroutine to yield. It also fires
//! timers that are late because every M is busy.
//!
//! And it unsticks Ps from system calls: an M blocked in the kernel inside
//! `runtime::syscall` still owns its P (status `Syscall`). If sysmon sees the
//! same syscall on two looks (20 us or more) and there is other work, it
//! takes the P away and hands it to another M (`handoffp`): the lesson's
//! "M2" picture. The syscall, when it returns, must find a P again. A
//! goroutine entering a syscall with work queued behind it wakes sysmon from
//! a long nap (`kick_for_syscall`), which Go does not do.
//!
//! A goroutine can also block its thread without telling the runtime (a
//! `std::sync::Mutex`, `std::thread::sleep`): when a P runs the same
//! goroutine for a whole time slice and the kernel says its thread is
//! blocked, sysmon hands that P off as from a syscall
//! (`implicit_syscall.rs`; Go only hands off the syscalls it knows of).
//!
//! *Asks*: our preemption is cooperative, like Go before 1.14. The goroutine
//! sees the request at its next preemption point, i.e. its next call into the
//! runtime (`print!`, `println!`, `go`, WaitGroup, channels, `gosched`). A loop
//! that never calls the runtime is never preempted; on GOMAXPROCS=1 it keeps
//! the whole program waiting. Go 1.14+ can also interrupt such a loop with a
//! signal; we do not. Insert `runtime::gosched()` in such loops.

use std::time::{Duration, Instant};

use crate::p::{PStatus, P};
use crate::sched::{Sched, TIMER_GRACE};
use crate::sync_facade::Ordering;

/// How long a goroutine may run before it is asked to yield (Go's
/// `forcePreemptNS`).
pub const FORCE_PREEMPT: Duration = Duration::from_millis(10);
/// Shortest sleep between two looks (Go: 20 us).
const MIN_DELAY: Duration = Duration::from_micros(20);
/// Longest sleep between two looks (Go: 10 ms).
const MAX_DELAY: Duration = Duration::from_millis(10);
/// How long a syscall keeps its P when there is nothing else for it to do
/// (Go: 10 ms in `retake`).
const SYSCALL_KEEP_P: Duration = Duration::from_millis(10);

/// sysmon naps longer than this only when nothing needs it; a goroutine that
/// enters a system call with work queued behind it cuts such a nap short.
const KICKABLE_DELAY: Duration = Duration::from_micros(500);

/// A goroutine entered a system call while other goroutines wait for its P:
/// if sysmon is in a long nap, wake it, so the P is handed off within tens
/// of microseconds rather than after up to 10 ms.
///
/// Go 1.19 does not do this (its hand-off waits for sysmon's next look,
/// which may be 10 ms away); it costs two loads on the syscall path, and a
/// wake-up only when a hand-off is likely needed.
pub(crate) fn kick_for_syscall(sched: &Sched, p: &P) {
    let nap = &sched.sysmon_nap;
    if nap.long.load(Ordering::Relaxed)
        && (!p.runq_is_empty() || sched.runqsize.load(Ordering::Relaxed) > 0)
        && nap.long.swap(false, Ordering::Relaxed)
    {
        nap.note.wakeup();
    }
}

/// Take `p` from its M, which is stuck outside the scheduler with the P in
/// status `from` (`Syscall`: inside `runtime::syscall`), and give it to
/// whoever can use it: the step of Go's `retake` that acts, once sysmon's
/// look ([`retake`]) decided the M has been stuck long enough. Returns false
/// if the M came back first.
///
/// The returning M races us for the P (`exitsyscall`'s compare-and-swap
/// `Syscall` -> `Running`); one compare-and-swap wins, so the P is never
/// owned twice. Won, the P goes to `handoffp` (another M, or the idle list),
/// or, beyond GOMAXPROCS (shrunk while its M was stuck), is destroyed, its
/// queued goroutines moved to the global queue (Go's `procresize` destroys
/// such a P at once; ours waits for its owner, and we are the owner now).
///
/// The loom models (`grader/tests/loom_syscall.rs`, `loom_gomaxprocs.rs`)
/// call this step as sysmon does; sysmon's thread and its looks are not
/// built under loom (they read the clock, and `run` has a thread of its own).
pub(crate) fn retake_p(sched: &'static Sched, p: &'static P, from: PStatus) -> bool {
    if !p.cas_status(from, PStatus::Idle) {
        return false;
    }
    // The goroutine that ran on it is not running on it any more (see
    // `P::curg`): a new owner starts with none.
    p.curg.store(None, Ordering::Release);
    p.syscalltick.fetch_add(1, Ordering::Relaxed);
    crate::trace::event(crate::trace::Event::HandOff { p });
    if p.id >= sched.gomaxprocs() {
        sched.destroy_p(p);
    } else {
        sched.handoffp(p);
    }
    true
}

/// sysmon's side of the implicit hand-off: given a P past its time slice,
/// take it if its goroutine's thread is blocked outside the runtime
/// (`implicit_syscall::retake_blocked`, which calls back [`retake_p`]).
/// Installed by `proc` at start-up: injected, so that sysmon imports
/// nothing of the goroutine-side code (its runtime sections) that the rest
/// of the runtime builds on.
type RetakeBlocked = fn(&'static Sched, &'static P) -> bool;

#[cfg(not(loom))]
static RETAKE_BLOCKED: std::sync::OnceLock<RetakeBlocked> = std::sync::OnceLock::new();

/// Install sysmon's implicit hand-off (once, at start-up).
#[cfg(not(loom))]
pub(crate) fn set_retake_blocked(f: RetakeBlocked) {
    let _ = RETAKE_BLOCKED.set(f);
}

#[cfg(not(loom))]
fn retake_blocked(sched: &'static Sched, p: &'static P) -> bool {
    RETAKE_BLOCKED.get().is_some_and(|f| f(sched, p))
}

/// What sysmon last saw of a P (Go's `sysmontick`).
#[derive(Clone, Copy)]
struct Seen {
    schedtick: u32,
    schedwhen: Instant,
    syscalltick: u32,
    syscallwhen: Instant,
}

/// Start the sysmon thread.
#[cfg(not(loom))]
pub(crate) fn start(sched: &'static Sched) {
    std::thread::Builder::new()
        .name("sysmon".into())
        .spawn(move || run(sched))
        .unwrap_or_else(|e| crate::fatal::throw(&format!("cannot start sysmon: {e}")));
}

#[cfg(not(loom))]
fn run(sched: &'static Sched) -> ! {
    let start = Instant::now();
    let mut seen = vec![
        Seen {
            schedtick: 0,
            schedwhen: start,
            syscalltick: 0,
            syscallwhen: start,
        };
        crate::p::MAX_GOMAXPROCS
    ];
    // Go starts at 20 us naps and backs off after 1 ms with nothing to
    // retake. We start backed off: the quick naps exist to hand off the P of
    // a goroutine stuck in a syscall, and such a syscall kicks us awake
    // (`kick_for_syscall`), after which we nap 20 us again. Starting with 50
    // naps of 20 us would cost a short program ~60 context switches in its
    // first milliseconds, and as many preemptions of a busy M when the
    // kernel puts us on its core; time slices are judged at 10 ms anyway.
    let mut idle = 51u32;
    let mut delay = MAX_DELAY;
    loop {
        // Go: sleep 20 us for the first 1 ms of idleness, then double, up to 10 ms.
        if idle == 0 {
            delay = MIN_DELAY;
        } else if idle > 50 {
            delay = (delay * 2).min(MAX_DELAY);
        }
        delay = crate::schedtrace::sysmon_tick(sched, delay);
        let nap = &sched.sysmon_nap;
        nap.long.store(delay > KICKABLE_DELAY, Ordering::Relaxed);
        let now = crate::timers::nanotime();
        let until = late_timer_look(sched, now).map_or(now + delay.as_nanos() as u64, |t| {
            t.min(now + delay.as_nanos() as u64)
        });
        nap.until.store(until, Ordering::Relaxed);
        let woken = nap.note.sleep_until(until);
        // `kick_for_timer` zeroes `until` before it wakes us.
        let for_timer = nap.until.swap(0, Ordering::Relaxed) == 0;
        if woken && !for_timer {
            // Kicked: a syscall may need its P handed off. Look often again.
            idle = 0;
            delay = MIN_DELAY;
        }
        nap.long.store(false, Ordering::Relaxed);
        crate::g::set_park_clock(crate::timers::nanotime());
        // Ctrl-\ was pressed: the signal handler can only raise a flag, we
        // print the goroutines (and exit).
        if let Some((pc, m, code)) = crate::sigquit::quit_requested() {
            crate::traceback::sigquit(pc, m, code);
        }
        stamp_waits(sched);
        let now = Instant::now();
        run_late_timers(sched);
        if retake(sched, now, &mut seen) > 0 {
            idle = 0;
        } else {
            idle += 1;
        }
        // Stacks of long-parked goroutines (compactor.rs); while it finds
        // some, nap briefly: a burst of parked goroutines is compacted
        // while it waits, not 10 ms later.
        if crate::compactor::sysmon_tick(sched, crate::timers::nanotime()) {
            idle = 0;
        }
    }
}

/// Ask long-running goroutines to yield, and take the P away from an M
/// blocked in a system call (Go's `retake`). Returns the number of Ps
/// retaken from syscalls.
fn retake(sched: &'static Sched, now: Instant, seen: &mut [Seen]) -> u32 {
    let mut n = 0;
    let procs = sched.gomaxprocs();
    // All Ps, not just the live ones: a P that GOMAXPROCS shrank away while
    // its M was in a syscall must still be taken back and destroyed, or the
    // Gs queued on it would wait for the syscall to return (Go's
    // `procresize` destroys such a P at once).
    for p in sched.allps() {
        let pd = &mut seen[p.id];
        if p.id >= procs {
            if retake_p(sched, p, PStatus::Syscall) {
                n += 1;
            }
            continue;
        }
        match p.status() {
            PStatus::Running => {
                let t = p.schedtick.load(Ordering::Relaxed);
                if pd.schedtick != t {
                    pd.schedtick = t;
                    pd.schedwhen = now;
                } else if pd.schedwhen + FORCE_PREEMPT <= now {
                    preemptone(p);
                    // A whole time slice without reaching the runtime: if
                    // the goroutine's thread is blocked in the kernel (a std
                    // lock, a std channel, `std::thread::sleep`), hand its P
                    // off as from a syscall (`implicit_syscall.rs`).
                    #[cfg(not(loom))]
                    if retake_blocked(sched, p) {
                        n += 1;
                    }
                }
            }
            PStatus::Syscall => {
                // A syscall we see for the first time may be about to
                // return: retake only on the next look, at least one sysmon
                // tick (20 us) later.
                let t = p.syscalltick.load(Ordering::Relaxed);
                if pd.syscalltick != t {
                    pd.syscalltick = t;
                    pd.syscallwhen = now;
                    continue;
                }
                // Nothing for the P to do, and spinning or idle Ps to pick
                // up new work: let the syscall keep its P for up to 10 ms.
                if p.runq_is_empty()
                    && sched.nmspinning.load(Ordering::SeqCst) + sched.npidle.load(Ordering::SeqCst)
                        > 0
                    && pd.syscallwhen + SYSCALL_KEEP_P > now
                {
                    continue;
                }
                // The returning syscall races us for the P: one CAS wins.
                if retake_p(sched, p, PStatus::Syscall) {
                    n += 1;
                }
            }
            PStatus::Idle | PStatus::Dead => {}
        }
    }
    n
}

/// Ask the goroutine running on `p` to yield at its next preemption point
/// (Go's `preemptone`).
fn preemptone(p: &crate::p::P) {
    if let Some(g) = p.curg.load(Ordering::Acquire) {
        g.preempt.store(true, Ordering::Release);
    }
}

/// When sysmon should look at the timers again, if sooner than its nap:
/// when the earliest timer will be [`TIMER_GRACE`] late, if every P is busy
/// (then only sysmon can notice a timer that is late; with an idle P the
/// timer M sleeps until it, see `Sched::timer_role`). Go's sysmon naps its
/// usual 20 us to 10 ms regardless, and a timer due in the middle of a
/// 10 ms nap is noticed only at its end.
fn late_timer_look(sched: &Sched, now: u64) -> Option<u64> {
    if sched.npidle.load(Ordering::Relaxed) > 0 {
        return None;
    }
    let grace = TIMER_GRACE.as_nanos() as u64;
    let at = sched.next_timer()? + grace;
    // Already late: `run_late_timers` asked its goroutine to yield. Look
    // again a grace later, not in a tight loop: a goroutine that makes no
    // runtime call keeps them late until `FORCE_PREEMPT`.
    Some(if at > now { at } else { now + grace })
}

/// Timers more than [`TIMER_GRACE`] late (Go: sysmon only starts an M for
/// them, when a P is idle; the timers of a P are run by its own M when it
/// schedules).
///
/// A P whose M is running a goroutine fires its timers only at its next
/// scheduling point: we ask that goroutine to yield (as if its time slice
/// were over), so the M fires them into its own P, ahead of its queue (see
/// `Sched::ready_woken`). Firing them here instead would put their
/// goroutines in the global queue, where the P looks only once its local
/// queue is empty. Only if the goroutine does not yield (it makes no
/// runtime call) for [`FORCE_PREEMPT`] do we fire them ourselves, to the
/// head of the global queue, for any other P to run. Timers of a P that no
/// M is running (idle, in a syscall, retired) are fired at once.
fn run_late_timers(sched: &'static Sched) {
    let now = crate::timers::nanotime();
    let grace = TIMER_GRACE.as_nanos() as u64;
    let force = FORCE_PREEMPT.as_nanos() as u64;
    for p in sched.allps() {
        let Some(next) = p.timers.next() else {
            continue;
        };
        if next + grace > now {
            continue;
        }
        if p.status() == PStatus::Running && next + force > now {
            preemptone(p);
        } else {
            sched.run_timers(p, None, now);
        }
    }
}

// ---------------------------------------------------------------------------
// Wait times (for the `[chan receive, 2 minutes]` of a traceback)
// ---------------------------------------------------------------------------

/// Gs looked at per sysmon visit, and how often sysmon visits.
const STAMP_BATCH: usize = 1024;
const STAMP_EVERY_NS: u64 = 10_000_000;

/// Sysmon's part of wait times. Parking stamps the wait with sysmon's last
/// clock reading (`g::set_park_clock`, at every tick); a goroutine that
/// parked before sysmon's first tick has no stamp, and gets one here: sysmon
/// looks at 1024 Gs every 10 ms and stamps the parked ones not stamped yet
/// (Go stamps `waitsince` lazily, when its garbage collector first finds the
/// goroutine blocked), so every goroutine of a million is seen within 10 s,
/// an error a count of minutes does not show.
fn stamp_waits(sched: &Sched) {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static CURSOR: AtomicUsize = AtomicUsize::new(0);
    let now = crate::timers::nanotime();
    if now < NEXT.load(Relaxed) {
        return;
    }
    NEXT.store(now + STAMP_EVERY_NS, Relaxed);
    let allgs = crate::sync_facade::lock(&sched.allgs);
    let start = CURSOR.load(Relaxed).min(allgs.len());
    let end = (start + STAMP_BATCH).min(allgs.len());
    for g in &allgs[start..end] {
        if g.status() == crate::g::Status::Waiting {
            g.stamp_waitsince(now);
        }
    }
    CURSOR.store(if end >= allgs.len() { 0 } else { end }, Relaxed);
}
