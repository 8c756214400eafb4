//! System calls: a goroutine that blocks its thread in the kernel lends its
//! P to another thread (Go's `entersyscall`, `exitsyscall`, `exitsyscall0` in
//! `runtime/proc.go`).
//!
//! Lesson idea: "G1 opens a file, which may take a while. The scheduler
//! detaches M and G1 and brings a new M2 to run the rest of the queue on P;
//! when the call returns, G1 goes back in a run queue and M is put aside."
//!
//! The protocol:
//! - `entersyscall`: the goroutine is marked `Syscall`, its P too, and the M
//!   lets go of the P without giving it away: if the call is quick, nobody
//!   notices and the same M carries on with the same P (no hand-off at all).
//! - sysmon (`retake` in `sysmon.rs`) sees a P stuck in `Syscall` for two of
//!   its looks and takes it (compare-and-swap `Syscall` -> `Idle`), handing it
//!   to an idle or new M (`Sched::handoffp`). If goroutines are queued behind
//!   the P and sysmon is napping long, `entersyscall` wakes it first, so the
//!   hand-off comes after ~20-40 us rather than up to 10 ms (Go 1.19 waits).
//! - `exitsyscall`: try to take the old P back (CAS `Syscall` -> `Running`);
//!   it fails if sysmon won. Then try any idle P. Failing that, there is no P
//!   to run on: the goroutine goes to the global run queue and its M parks
//!   (`Yield::ExitSyscallNoP`, handled by the M's loop in `m.rs`).
//!
//! While in a syscall the goroutine counts as able to wake others, and its M
//! as not idle, so the deadlock detector stays quiet.
//!
//! The protocol (the three steps below, as `Sched` methods taking the M and
//! the G) is built under loom too; the loom models `loom_syscall.rs` and
//! `loom_gomaxprocs.rs` race it against sysmon's `retake_p`. Only
//! [`syscall`] itself, which runs on a goroutine's stack, is not.

use crate::g::{GRef, Status};
use crate::m::M;
use crate::p::{PStatus, P};
use crate::sched::Sched;
use crate::sync_facade::Ordering;

/// Seeded bug for the loom suite: `exitsyscall`'s fast path reads its old
/// P's status and then writes `Running`, instead of one compare-and-swap.
/// sysmon can retake the P between the two and hand it to another M: two Ms
/// own one P.
const EXIT_FAST_CAS: bool = !cfg!(loom_seeded_bugs = "exitsyscall_no_cas");

#[cfg(not(loom))]
pub(crate) use on_goroutine::exitsyscall;
#[cfg(not(loom))]
pub use on_goroutine::syscall;

/// `runtime::syscall` itself, which runs on a goroutine's stack (and may
/// switch off it): not built under loom.
#[cfg(not(loom))]
mod on_goroutine {
    use crate::g::{switch_to_scheduler, Status, Yield};
    use crate::m::{current_g, current_m};
    use crate::p::P;
    use crate::sync_facade::Ordering;

    /// Run `f`, a call that may block the OS thread (a file read, a blocking
    /// socket, a sleep in the kernel), letting the scheduler run other
    /// goroutines on this goroutine's P meanwhile (Go does this around every
    /// blocking system call).
    ///
    /// `f` runs on the current thread. If it takes more than about 20 us and
    /// there is other work, sysmon hands the P to another M (thread); when `f`
    /// returns, the goroutine gets a P back, or waits in the global run queue.
    ///
    /// `f` must not call back into the runtime in a way that blocks (channel
    /// operations that park, `WaitGroup::wait`): the goroutine has no P.
    /// Outside a goroutine, just calls `f`.
    ///
    /// ```
    /// let text = runtime::block_on(|| {
    ///     runtime::syscall(|| std::fs::read_to_string("Cargo.toml")).unwrap()
    /// });
    /// assert!(text.contains("[package]"));
    /// ```
    #[doc(alias = "entersyscall")]
    pub fn syscall<R>(f: impl FnOnce() -> R) -> R {
        // A runtime section for the whole call: `f` runs in `Syscall`
        // status, which sysmon hands off on its own terms, never as an
        // implicit syscall (`implicit_syscall.rs`).
        let _rt = crate::implicit_syscall::enter_and_preempt();
        let Some(g) = current_g() else {
            return f();
        };
        if g.status() == Status::Syscall {
            // Nested: we are in a syscall already.
            return f();
        }
        let m = current_m().expect("entersyscall outside an M");
        let oldp = crate::sched::Sched::global().entersyscall(m, g);
        // `exitsyscall` runs when this guard drops: after `f` returns, and
        // also when `f` panics, so the goroutine has its P again before the
        // panic unwinds into runtime code that needs one (a `Drop` that sends
        // on a channel, `block_on`'s catch, the end of the goroutine).
        let exit = ExitSyscallOnDrop(oldp);
        let r = f();
        drop(exit);
        r
    }

    /// Calls [`exitsyscall`] when dropped, whether `f` returned or panicked.
    struct ExitSyscallOnDrop(&'static P);

    impl Drop for ExitSyscallOnDrop {
        fn drop(&mut self) {
            exitsyscall(self.0);
        }
    }

    /// The syscall returned: get a P to go on running (`Sched::exitsyscall`),
    /// or queue the goroutine and park the M (Go's `exitsyscall`). Also how
    /// a goroutine whose thread blocked outside the runtime gets a P back
    /// (`implicit_syscall.rs`).
    pub(crate) fn exitsyscall(oldp: &'static P) {
        // Re-read the M: the goroutine has not moved (it was running `f` on
        // this thread), but keep to the rule of never caching it across a
        // call.
        let m = current_m().expect("exitsyscall outside an M");
        let g = m.curg().expect("exitsyscall without a goroutine");
        let sched = crate::sched::Sched::global();
        if sched.exitsyscall(m, g, oldp) {
            return;
        }
        if std::thread::panicking() {
            // Unwinding (a panic inside `f`, or a `Drop` that waits while its
            // goroutine panics): the goroutine must not move to another
            // thread before `catch_unwind` ends the panic, because std counts
            // panics per *thread* (see `park.rs`). So wait on this thread for
            // a P to come free instead of queueing the goroutine; Go has no
            // such case.
            let p = loop {
                if let Some(p) = sched.pidleget(&mut sched.lock()) {
                    break p;
                }
                std::thread::sleep(std::time::Duration::from_micros(50));
            };
            sched.acquirep(m, p);
            p.curg.store(Some(g), Ordering::Release);
            g.set_status(Status::Syscall, Status::Running);
            crate::trace::event(crate::trace::Event::SyscallExit { g, m });
            return;
        }
        // No P free: the goroutine waits in the global queue, this M parks
        // (`exitsyscall0`, run by the M's loop once we are off this stack).
        switch_to_scheduler(g, Yield::ExitSyscallNoP);
        // Resumed by some M that holds a P, which set us `Running`.
    }
}

impl Sched {
    /// Mark `g`, running on `m`, and its P as in a syscall; the M keeps no P
    /// (Go's `entersyscall`). Returns the P, for `exitsyscall` to try to
    /// take back.
    pub(crate) fn entersyscall(&self, m: &'static M, g: GRef) -> &'static P {
        let p = m.p().expect("entersyscall without a P");
        g.set_status(Status::Running, Status::Syscall);
        p.syscalltick.fetch_add(1, Ordering::Relaxed);
        m.set_p(None);
        // From here on sysmon may take `p` (`sysmon::retake_p`).
        p.set_status(PStatus::Syscall);
        crate::trace::event(crate::trace::Event::SyscallEnter { g, m, p });
        crate::sysmon::kick_for_syscall(self, p);
        p
    }

    /// The syscall of `g` on `m` returned: get a P to go on running, `oldp`
    /// if sysmon did not take it, else any idle one (Go's `exitsyscall`, its
    /// fast paths `exitsyscallfast` and `exitsyscallfast_pidle`). Returns
    /// false if there is none: the caller gets off `g`'s stack and calls
    /// [`exitsyscall0`](Self::exitsyscall0).
    pub(crate) fn exitsyscall(&self, m: &'static M, g: GRef, oldp: &'static P) -> bool {
        // Fast path: our P was not retaken. One compare-and-swap against
        // sysmon's (`retake_p`): exactly one of us gets the P.
        let kept = if EXIT_FAST_CAS {
            oldp.cas_status(PStatus::Syscall, PStatus::Running)
        } else if oldp.status() == PStatus::Syscall {
            oldp.set_status(PStatus::Running);
            true
        } else {
            false
        };
        if kept {
            oldp.thread
                .store(m.os_thread(), std::sync::atomic::Ordering::Relaxed);
            m.set_p(Some(oldp));
            oldp.curg.store(Some(g), Ordering::Release);
            g.set_status(Status::Syscall, Status::Running);
            crate::trace::event(crate::trace::Event::SyscallExit { g, m });
            return true;
        }
        // Sysmon gave our P away. Any idle P will do.
        let mut locked = self.lock();
        if let Some(p) = self.pidleget(&mut locked) {
            drop(locked);
            self.acquirep(m, p);
            p.curg.store(Some(g), Ordering::Release);
            g.set_status(Status::Syscall, Status::Running);
            crate::trace::event(crate::trace::Event::SyscallExit { g, m });
            return true;
        }
        false
    }

    /// No P for `g`, back from its syscall: it waits in the global queue for
    /// an M with a P (Go's `exitsyscall0`, run on `m`'s own stack). The
    /// caller then stops `m` (`stopm`) until it is handed a P.
    pub(crate) fn exitsyscall0(&'static self, m: &'static M, g: GRef) {
        debug_assert!(m.p().is_none(), "exitsyscall0: M holds a P");
        g.set_status(Status::Syscall, Status::Runnable);
        let mut locked = self.lock();
        self.globrunqput(&mut locked, g);
        crate::trace::event(crate::trace::Event::SyscallExit { g, m });
        drop(locked);
        self.wakep();
    }
}
