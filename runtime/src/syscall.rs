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

use crate::g::{switch_to_scheduler, Status, Yield};
use crate::m::{current_g, current_m};
use crate::p::PStatus;
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
    crate::proc::preempt_point();
    let Some(g) = current_g() else {
        return f();
    };
    if g.status() == Status::Syscall {
        // Nested: we are in a syscall already.
        return f();
    }
    let oldp = entersyscall();
    // `exitsyscall` runs when this guard drops: after `f` returns, and also
    // when `f` panics, so the goroutine has its P again before the panic
    // unwinds into runtime code that needs one (a `Drop` that sends on a
    // channel, `block_on`'s catch, the end of the goroutine).
    let exit = ExitSyscallOnDrop(oldp);
    let r = f();
    drop(exit);
    r
}

/// Calls [`exitsyscall`] when dropped, whether `f` returned or panicked.
struct ExitSyscallOnDrop(&'static crate::p::P);

impl Drop for ExitSyscallOnDrop {
    fn drop(&mut self) {
        exitsyscall(self.0);
    }
}

/// Mark the goroutine and its P as in a syscall; the M keeps no P (Go's
/// `entersyscall`). Returns the P, for `exitsyscall` to try to take back.
fn entersyscall() -> &'static crate::p::P {
    let m = current_m().expect("entersyscall outside an M");
    let g = m.curg().expect("entersyscall without a goroutine");
    let p = m.p().expect("entersyscall without a P");
    g.set_status(Status::Running, Status::Syscall);
    p.syscalltick.fetch_add(1, Ordering::Relaxed);
    m.set_p(None);
    // From here on sysmon may take `p`.
    p.set_status(PStatus::Syscall);
    crate::trace::event(crate::trace::Event::SyscallEnter { g, m, p });
    crate::sysmon::kick_for_syscall(crate::proc::sched_unchecked(), p);
    p
}

/// The syscall returned: get a P to go on running, or queue the goroutine
/// and park the M (Go's `exitsyscall`).
fn exitsyscall(oldp: &'static crate::p::P) {
    // Re-read the M: the goroutine has not moved (it was running `f` on this
    // thread), but keep to the rule of never caching it across a call.
    let m = current_m().expect("exitsyscall outside an M");
    let g = m.curg().expect("exitsyscall without a goroutine");
    let sched = crate::proc::sched();

    // Fast path: our P was not retaken (Go's `exitsyscallfast`).
    if oldp.cas_status(PStatus::Syscall, PStatus::Running) {
        m.set_p(Some(oldp));
        oldp.curg.store(Some(g), Ordering::Release);
        g.set_status(Status::Syscall, Status::Running);
        crate::trace::event(crate::trace::Event::SyscallExit { g, m });
        return;
    }
    // Sysmon gave our P away. Any idle P will do (`exitsyscallfast_pidle`).
    let mut locked = sched.lock();
    if let Some(p) = sched.pidleget(&mut locked) {
        drop(locked);
        sched.acquirep(m, p);
        p.curg.store(Some(g), Ordering::Release);
        g.set_status(Status::Syscall, Status::Running);
        crate::trace::event(crate::trace::Event::SyscallExit { g, m });
        return;
    }
    drop(locked);
    if std::thread::panicking() {
        // Unwinding (a panic inside `f`, or a `Drop` that waits while its
        // goroutine panics): the goroutine must not move to another thread
        // before `catch_unwind` ends the panic, because std counts panics
        // per *thread* (see `park.rs`). So wait on this thread for a P to
        // come free instead of queueing the goroutine; Go has no such case.
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
