//! A thread blocked outside the runtime: the implicit system call.
//!
//! Lesson idea: "G1 opens a file... the scheduler detaches M and G1 and
//! brings a new M2 to run the rest of the queue on P". Go does that only for
//! the system calls it knows of (`entersyscall` in `proc.go`); every
//! blocking call of a Go program goes through one. Here a goroutine can
//! block its thread in any std call: a `std::sync::Mutex`, a `LazyLock`
//! whose initializer sleeps, a `std::sync::mpsc` receive, a nested
//! `block_on`, `std::thread::sleep`. Without help its P would stall with it:
//! on GOMAXPROCS=1 the whole program waits, or hangs for good when the
//! goroutine that would unblock it sits in that P's queue.
//!
//! So sysmon treats such a goroutine as if it had entered a syscall. When a
//! P has run the same goroutine for a whole time slice (the same `schedtick`
//! on two looks 10 ms apart, as Go's `retake` judges preemption), sysmon
//! asks the kernel whether that M's thread is blocked
//! (`/proc/self/task/TID/stat` on Linux: `os::thread_state`), and, since a
//! state letter is a snapshot, whether the thread's CPU time has stood
//! still for 5 ms over two looks (`os::thread_cpu_ns`). If it is, and
//! the goroutine runs its own code (not the runtime's), sysmon turns the run
//! into a syscall on the goroutine's behalf (G and P to `Syscall`, as
//! `entersyscall` would) and hands the P off (`sysmon::retake_p`). When the
//! goroutine next reaches the runtime, it finds its P gone and reacquires
//! one exactly as a returning syscall does (`exitsyscall`, `syscall.rs`).
//! sysmon then prints, once per program, which goroutine it was and how to
//! avoid the hand-off.
//!
//! # Runtime sections
//!
//! sysmon must never take the P of an M that is inside the runtime: in the
//! scheduler, holding a runtime lock, mid-switch, or halfway through
//! `runqput` on its P. The goroutine marks those stretches: every runtime
//! entry point (channel operations, `select!`, the semaphores under
//! `runtime::sync` and `WaitGroup`, `time::sleep`, `go`, `gosched`,
//! `syscall`, each preemption point such as `print!`) opens a [`Section`]
//! before it takes any lock, and closing the outermost one returns the
//! goroutine to its own code (`G::in_user`). The scheduler itself runs
//! only between a goroutine's switch away (always from inside a section)
//! and its resumption (back inside that section), so it is covered too. A
//! G starts in its own code (`gostart`) and re-enters the runtime when its
//! function returns or panics.
//!
//! # The handshake, and why its fast side is plain loads and stores
//!
//! Entering a section must stay cheap: it happens on every channel
//! operation (a ping-pong round trip is ~840 instructions). The goroutine
//! stores `in_user = false`, and then loads `handoff` to see whether sysmon
//! is taking its P; in the common case that is one store, one load and one
//! branch, with only a *compiler* fence between the two (no `mfence`, no
//! locked instruction). sysmon does the expensive half, an asymmetric
//! Dekker handshake:
//!
//! 1. CAS `handoff` NONE -> LOOKING;
//! 2. `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` ([`crate::os::process_barrier`]):
//!    the kernel runs a full barrier on every CPU currently running one of
//!    our threads, which turns the goroutine's compiler fence into a real
//!    fence at whatever point it is;
//! 3. re-read `in_user`, that the goroutine still runs on this P, and the
//!    thread's state. If the goroutine is not in its own code or no longer
//!    blocked, undo (LOOKING -> NONE) and leave.
//!
//! Why it is correct: the goroutine's store of `in_user = false` either
//! precedes the barrier (sysmon's re-read in step 3 sees it and backs off)
//! or follows it (then the goroutine's load of `handoff` comes after the
//! barrier, so it sees LOOKING or later). Both may see each other; a CAS
//! settles that rare case: the goroutine cancels (LOOKING -> NONE) and
//! keeps its P, or sysmon claims (LOOKING -> CONVERTING) first. Once sysmon
//! holds CONVERTING, the goroutine cannot have entered a section (it would
//! have had to win that CAS first), and at its next entry it waits for
//! TAKEN, then reacquires a P. So sysmon never touches the P of a goroutine
//! inside a section, and the goroutine never uses a P sysmon took.
//!
//! Closing the outermost section stores `in_user = true` with Release:
//! whatever the section did to the P happens-before sysmon's handoff of it
//! (sysmon reads `in_user` with Acquire).
//!
//! Where `membarrier` is missing (macOS, kernels before 4.14, seccomp
//! filters, `qemu-user`) sysmon never takes a P this way: the program then
//! behaves as on Go, where an unknown blocking call keeps its P. The loom
//! model `grader/tests/loom_implicit_syscall.rs` checks the handshake with a
//! SeqCst fence standing in for the barrier on both sides (which is what the
//! barrier does to the goroutine's compiler fence).
//!
//! Where we differ from Go: Go needs none of this, because it knows every
//! blocking call (cgo calls are its one analogue, and they hand off like
//! syscalls). Go 1.14+ would also preempt a goroutine that spins in user
//! code by a signal; we only hand off when the kernel says the thread is
//! blocked: a spinning one keeps its P (see `sysmon.rs`).

use std::sync::atomic::compiler_fence;

use crate::g::GRef;
use crate::p::{PStatus, P};
use crate::sync_facade::Ordering;

/// `G::handoff`: sysmon is not looking at this goroutine.
const NONE: u8 = 0;
/// sysmon has raised its flag and is checking, after its barrier, that the
/// goroutine runs its own code and its thread is blocked.
const LOOKING: u8 = 1;
/// sysmon won: it is turning the goroutine's run into a syscall.
const CONVERTING: u8 = 2;
/// Done: the goroutine is in `Syscall` status, its P is being handed off.
/// It must reacquire a P at its next runtime entry.
const TAKEN: u8 = 3;

/// Seeded bug for the loom suite: sysmon skips re-reading the goroutine's
/// `in_user` after its barrier, trusting what it saw before raising its
/// flag. A goroutine that entered the runtime in between then uses a P that
/// sysmon hands to another M: two owners.
const RECHECK_AFTER_BARRIER: bool = !cfg!(loom_seeded_bugs = "implicit_no_recheck");

/// An open runtime section of the running goroutine (see the module
/// header): while one is open, sysmon leaves the goroutine's P alone.
/// Dropping the outermost one returns the goroutine to its own code.
#[must_use = "a section lasts as long as its value: bind it to `_rt`"]
pub(crate) struct Section {
    /// The running goroutine (`None` on a plain thread), so that the
    /// section's code need not look it up again.
    g: Option<GRef>,
    /// The goroutine, if this is its outermost section.
    outermost: Option<GRef>,
}

impl Section {
    const NONE: Section = Section {
        g: None,
        outermost: None,
    };

    /// The running goroutine, `None` on a plain thread (and under loom).
    #[inline]
    pub(crate) fn g(&self) -> Option<GRef> {
        self.g
    }
}

impl Drop for Section {
    #[inline]
    fn drop(&mut self) {
        if let Some(g) = self.outermost {
            // Release: what the section did to the P happens-before sysmon
            // takes it (it reads `in_user` with Acquire).
            g.in_user.store(true, Ordering::Release);
        }
    }
}

/// Open a runtime section for the running goroutine, if any; first, if
/// sysmon took its P while it ran its own code, reacquire one (Go's
/// `exitsyscall`). Call it before taking any runtime lock.
#[inline]
pub(crate) fn enter() -> Section {
    match crate::m::current_g() {
        Some(g) => enter_as(g),
        None => Section::NONE,
    }
}

/// [`enter`], and be a preemption point: yield if sysmon asked the
/// goroutine to (Go's stack-guard check in function prologues, made
/// explicit). What the runtime entry points that take locks do first.
/// (A bare preemption point, `print!`'s, opens a section only when it
/// yields: it does not touch the P otherwise.)
///
/// Always inlined, with the yield itself out of line: the switch saves
/// every callee-saved register, which the channel operations that inline
/// this already do, and a separate function would again.
#[inline(always)]
pub(crate) fn enter_and_preempt() -> Section {
    match crate::m::current_g() {
        Some(g) => {
            let section = enter_as(g);
            if g.preempt.load(Ordering::Relaxed) {
                preempt_now(g);
            }
            section
        }
        None => Section::NONE,
    }
}

/// The yield of [`enter_and_preempt`], out of line (its section is open).
#[cold]
#[inline(never)]
fn preempt_now(g: GRef) {
    if let Some(hooks) = HOOKS.get() {
        (hooks.preempt)(g);
    }
}

/// What this file needs from the layers above it: the scheduler's switch
/// and its `exitsyscall`. Installed by `proc` at start-up (injected, like
/// `fatal.rs`'s exit hooks, so that this file imports nothing above it).
/// Under loom none is installed: the models play the M themselves.
pub(crate) struct Hooks {
    /// Yield if sysmon asked `g` to (`proc::preempt_g`).
    pub(crate) preempt: fn(GRef),
    /// Leave a syscall from this old P (`syscall::exitsyscall`).
    pub(crate) exitsyscall: fn(&'static P),
}

static HOOKS: std::sync::OnceLock<Hooks> = std::sync::OnceLock::new();

/// Install the hooks (once, at start-up).
pub(crate) fn install(hooks: Hooks) {
    let _ = HOOKS.set(hooks);
}

/// [`enter`] for `g`, the running goroutine.
#[inline(always)]
pub(crate) fn enter_as(g: GRef) -> Section {
    enter_then(g, reacquire_p)
}

/// [`enter_as`], with what to do if sysmon took the P: the runtime
/// reacquires one ([`reacquire_p`]); a loom model, which plays the M
/// itself, records it and goes through `exitsyscall` on its own.
#[inline(always)]
pub(crate) fn enter_then(g: GRef, on_taken: impl FnOnce(GRef)) -> Section {
    if !g.in_user.load(Ordering::Relaxed) {
        // Nested, or the scheduler's own stretch: nothing to do.
        return Section {
            g: Some(g),
            outermost: None,
        };
    }
    g.in_user.store(false, Ordering::Relaxed);
    // The cheap half of the handshake: keep the compiler from moving the
    // load below above the store; sysmon's `membarrier` makes it a real
    // fence (see the module header). Loom cannot model that, so the model
    // uses the fence it stands for.
    #[cfg(not(loom))]
    compiler_fence(std::sync::atomic::Ordering::SeqCst);
    #[cfg(loom)]
    crate::sync_facade::fence(Ordering::SeqCst);
    if g.handoff.load(Ordering::Relaxed) != NONE {
        settle(g, on_taken);
    }
    Section {
        g: Some(g),
        outermost: Some(g),
    }
}

/// Debug builds: the runtime is about to use the running goroutine's P
/// (park, ready, switch): it must be inside a section, or sysmon could
/// take the P meanwhile. Catches an entry point that forgot to open one.
#[inline]
pub(crate) fn assert_in_section(g: GRef) {
    debug_assert!(
        !g.in_user.load(Ordering::Relaxed),
        "goroutine {} uses its P outside a runtime section (implicit_syscall.rs)",
        g.goid()
    );
}

/// `gostart`'s hook: a goroutine whose function ended found `handoff` set
/// (`gostart` spells out the fast side itself): settle it.
pub(crate) fn settle_at_return(g: GRef) {
    settle(g, reacquire_p);
}

/// sysmon is looking at `g` or took its P: settle it (the slow side of the
/// handshake); `on_taken` if sysmon took the P.
#[cold]
#[inline(never)]
fn settle(g: GRef, on_taken: impl FnOnce(GRef)) {
    loop {
        match g.handoff.load(Ordering::Acquire) {
            NONE => return,
            // Both saw each other: cancel sysmon's claim and keep the P.
            LOOKING => {
                if g.handoff
                    .compare_exchange(LOOKING, NONE, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return;
                }
            }
            // sysmon is a few stores away from TAKEN.
            CONVERTING => crate::sync_facade::thread::yield_now(),
            _ => {
                g.handoff.store(NONE, Ordering::Relaxed);
                on_taken(g);
                return;
            }
        }
    }
}

/// sysmon took our P while we ran our own code: we are in a syscall as far
/// as the scheduler knows. Leave it as a syscall does (Go's `exitsyscall`):
/// our old P if nobody took it yet, else an idle one, else the global queue.
#[cfg(not(loom))]
fn reacquire_p(g: GRef) {
    let m = crate::m::current_m().expect("implicit syscall outside an M");
    debug_assert!(m.curg().is_some_and(|c| std::ptr::eq(c, g)));
    let hooks = HOOKS.get().expect("implicit syscall before start-up");
    (hooks.exitsyscall)(let_go_of_p(m));
}

/// Under loom the model plays the M (see [`enter_then`]).
#[cfg(loom)]
fn reacquire_p(_: GRef) {
    unreachable!("loom model: pass what the M does to `enter_then`");
}

/// The first step of getting a P back: `m` still names the P sysmon took
/// (sysmon does not touch Ms); let go of it, as `entersyscall` would have,
/// and return it for `exitsyscall`'s fast path.
pub(crate) fn let_go_of_p(m: &crate::m::M) -> &'static P {
    let oldp = m.p().expect("implicit syscall: the M had no P");
    m.set_p(None);
    oldp
}

/// sysmon's side: if `g`, running on `p`, is frozen in its own code while
/// `still_blocked` says its thread waits in the kernel, turn its run into a
/// syscall (G and P to `Syscall`, as Go's `entersyscall`) and return true:
/// the caller then hands `p` off (`sysmon::retake_p`). `barrier` is the
/// process-wide barrier (`membarrier`); false means it failed, and nothing
/// is taken.
pub(crate) fn claim(
    g: GRef,
    p: &P,
    barrier: impl FnOnce() -> bool,
    still_blocked: impl FnOnce() -> bool,
) -> bool {
    let seen_in_user = g.in_user.load(Ordering::Acquire);
    if !seen_in_user
        || g.handoff
            .compare_exchange(NONE, LOOKING, Ordering::SeqCst, Ordering::Relaxed)
            .is_err()
    {
        return false;
    }
    let frozen = barrier()
        && (!RECHECK_AFTER_BARRIER || g.in_user.load(Ordering::Acquire))
        && p.curg
            .load(Ordering::Acquire)
            .is_some_and(|c| std::ptr::eq(c, g))
        && p.status() == PStatus::Running
        && still_blocked();
    if !frozen
        || g.handoff
            .compare_exchange(LOOKING, CONVERTING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
    {
        // Not ours to take, or the goroutine cancelled first.
        let _ = g
            .handoff
            .compare_exchange(LOOKING, NONE, Ordering::AcqRel, Ordering::Relaxed);
        return false;
    }
    // The goroutine is frozen in its own code: until it sees TAKEN it
    // touches neither its P nor its status, so these are ours to change.
    if !p.cas_status(PStatus::Running, PStatus::Syscall) {
        g.handoff.store(NONE, Ordering::Release);
        return false;
    }
    g.set_status(crate::g::Status::Running, crate::g::Status::Syscall);
    p.syscalltick.fetch_add(1, Ordering::Relaxed);
    g.handoff.store(TAKEN, Ordering::Release);
    true
}

#[cfg(not(loom))]
pub(crate) use sysmon_side::{init, retake_blocked};

/// What only sysmon's thread runs: reading the clock and the kernel's
/// thread states, `membarrier`, the note. Not built under loom.
#[cfg(not(loom))]
mod sysmon_side {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

    use crate::g::GRef;
    use crate::os::{process_barrier, thread_cpu_ns, thread_state, OsThread};
    use crate::p::{PStatus, P};
    use crate::sched::Sched;
    use crate::sync_facade::Ordering;

    /// Whether sysmon hands off the Ps of blocked goroutines: `membarrier`
    /// registered, and not switched off by `RUNTIME_IMPLICIT_HANDOFF=0`
    /// (what the test that proves the hand-off matters sets).
    static ENABLED: AtomicBool = AtomicBool::new(false);

    /// Decide, once at start-up, whether the hand-off is on.
    pub(crate) fn init() {
        let wanted = std::env::var("RUNTIME_IMPLICIT_HANDOFF").map_or(true, |v| v != "0");
        ENABLED.store(wanted && crate::os::process_barrier_available(), Relaxed);
    }

    /// `p` has run the same goroutine for a whole time slice: if that
    /// goroutine's thread is blocked in the kernel outside the runtime,
    /// take the P as from a syscall and hand it off (`sysmon::retake_p`).
    /// Returns true if it did. sysmon calls it through the hook `proc`
    /// installs (`sysmon::set_retake_blocked`).
    pub(crate) fn retake_blocked(sched: &'static Sched, p: &'static P) -> bool {
        // Nor while the program ends: `fatal::exit` waits, blocked, for
        // the thread that ends the process, in the goroutine that called it.
        if !ENABLED.load(Relaxed) || crate::fatal::exiting() {
            return false;
        }
        let Some(g) = p.curg.load(Ordering::Acquire) else {
            return false;
        };
        // Cheap filters first: the goroutine runs its own code, and its
        // thread is blocked (a system call: only for a P past its slice).
        let raw = p.thread.load(Relaxed);
        if !g.in_user.load(Ordering::Relaxed) || raw == 0 {
            return false;
        }
        let thread = OsThread::from_raw(raw);
        let blocked = || thread_state(thread).is_blocked();
        if !blocked() || !cpu_stood_still(p, thread) {
            return false;
        }
        if !super::claim(g, p, process_barrier, blocked) {
            return false;
        }
        // The note first: written after the hand-off it could lose the
        // race against a program that then runs to its end at once.
        note_once(g);
        crate::sysmon::retake_p(sched, p, PStatus::Syscall);
        true
    }

    /// How long a thread's CPU time must have stood still, over looks at
    /// the same run of the same goroutine, before sysmon believes the
    /// kernel's "blocked".
    const STILL_FOR_NS: u64 = 5_000_000;

    /// What sysmon saw at its last look at each P's thread: which run (the
    /// thread and the P's `schedtick`), its CPU time, and when it first saw
    /// that CPU time. Only sysmon's thread reads and writes these.
    struct Look {
        run: AtomicU64,
        cpu_ns: AtomicU64,
        since: AtomicU64,
    }

    static LOOKS: [Look; crate::p::MAX_GOMAXPROCS] = [const {
        Look {
            run: AtomicU64::new(0),
            cpu_ns: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }; crate::p::MAX_GOMAXPROCS];

    /// Whether the thread running `p`'s goroutine has used no CPU time for
    /// at least [`STILL_FOR_NS`], by looks at this same run. The kernel's
    /// state letter is a snapshot: a thread that waits for a moment in the
    /// middle of running (on a page fault in state `D`, or, under
    /// `qemu-user`, on the emulator's own locks while it runs our program)
    /// reads as blocked too, and taking its P would be wrong. A thread
    /// really stuck in the kernel uses no CPU at all; one that runs does,
    /// however often it waits. So the first look at a run only notes the
    /// CPU time, and a later one, if it has not moved, confirms. Where
    /// the platform will not say, the state letter decides alone.
    fn cpu_stood_still(p: &P, thread: OsThread) -> bool {
        let Some(cpu_ns) = thread_cpu_ns(thread) else {
            return true;
        };
        let run = (thread.to_raw() << 32) | u64::from(p.schedtick.load(Ordering::Relaxed));
        LOOKS[p.id].still(run, cpu_ns, crate::timers::nanotime())
    }

    impl Look {
        /// This look at `run` read `cpu_ns` at `now`: true if an earlier
        /// look at the same run read the same CPU time at least
        /// [`STILL_FOR_NS`] ago; otherwise remember this reading.
        fn still(&self, run: u64, cpu_ns: u64, now: u64) -> bool {
            if self.run.load(Relaxed) != run || self.cpu_ns.load(Relaxed) != cpu_ns {
                self.run.store(run, Relaxed);
                self.cpu_ns.store(cpu_ns, Relaxed);
                self.since.store(now, Relaxed);
                return false;
            }
            now.saturating_sub(self.since.load(Relaxed)) >= STILL_FOR_NS
        }
    }

    /// Tell the programmer, once per program, which goroutine blocked its
    /// thread, where it was created, and how to avoid the hand-off. Written
    /// with `write(2)`, not through std's stderr lock, which the blocked
    /// goroutine may hold; and before the hand-off, so a program that then
    /// runs to its end at once does not lose it. It names the `go`
    /// statement's line, not its function as a traceback's `created by`
    /// does: symbolizing takes hundreds of milliseconds the first time (the
    /// debug info is parsed), and sysmon must not stall that long.
    fn note_once(g: GRef) {
        static NOTED: AtomicBool = AtomicBool::new(false);
        if NOTED.swap(true, Relaxed) {
            return;
        }
        let created = match g.created() {
            (Some(at), parent) if parent != 0 => format!(
                " (created at {}:{} by goroutine {parent})",
                at.file(),
                at.line()
            ),
            _ => String::new(),
        };
        let text = format!(
            "runtime: goroutine {}{created} blocked its thread outside the runtime for a \
             whole time slice; its P went to another thread. Use runtime::sync instead of \
             std::sync, or wrap the blocking call in runtime::syscall.\n",
            g.goid()
        );
        crate::fatal::write_stderr_raw(&text);
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_thread_counts_as_still_only_after_two_looks_at_one_run_without_cpu_time() {
            const MS: u64 = 1_000_000;
            let look = Look {
                run: AtomicU64::new(0),
                cpu_ns: AtomicU64::new(0),
                since: AtomicU64::new(0),
            };
            // The first look at a run only notes its CPU time.
            assert!(!look.still(7, 100, 10 * MS));
            assert!(!look.still(7, 100, 14 * MS));
            assert!(look.still(7, 100, 15 * MS));
            // The thread ran meanwhile: start over from this reading.
            assert!(!look.still(7, 101, 30 * MS));
            assert!(!look.still(7, 101, 34 * MS));
            assert!(look.still(7, 101, 35 * MS));
            // Another run (the P's schedtick moved, or another thread).
            assert!(!look.still(8, 101, 50 * MS));
            assert!(look.still(8, 101, 55 * MS));
        }
    }
}
