//! Parking and waking: how a blocked goroutine gets off its M and back on.
//!
//! Lesson idea: a blocking call is "an opportunity for the scheduler to make a
//! decision". A goroutine that must wait (WaitGroup, channel) puts a [`Waiter`]
//! for itself on the wait queue of the thing it waits for, then parks: it
//! switches to the scheduler, which runs another goroutine on the same M. The
//! M never blocks. Whoever makes the condition true takes the waiter off the
//! queue and wakes it, into `runnext` of the waker's P (Go's `gopark` and
//! `goready`).
//!
//! The wait queue's lock is released *after* the switch (the `unlock` closure
//! of [`park`]), exactly like Go's `gopark(unlockf, ...)`: a waker that takes
//! the lock is guaranteed to find the goroutine fully parked.
//!
//! Code outside any goroutine (a plain thread, the caller of `block_on`, and
//! every thread of a loom model) parks its OS thread instead, with the same
//! interface, so WaitGroup and channels are written once.

use std::panic::Location;

use crate::g::{GRef, WaitReason};
use crate::sync_facade::{thread, Arc, AtomicBool, MutexGuard, Ordering};

// The goroutine half of parking is the scheduler's (`proc.rs`: Go's
// `gopark`, `goready`). Under loom no goroutine runs: a model's waiters are
// its loom threads, which are no M, so `current_g()` is `None` and a
// `Waiter::G` is never made. This is the one seam of this file.
#[cfg(not(loom))]
use crate::proc::{gopark, goready, preempt_point as goroutine_preempt_point};
#[cfg(loom)]
use no_goroutines::{gopark, goready, goroutine_preempt_point};

/// Seeded bug for the loom suite: the waker unparks a thread waiter *before*
/// raising its wake flag. The waiter can consume the unpark, see the flag
/// still down, park again, and never be woken: a lost wakeup.
///
/// (Why not seed a Relaxed load of the flag instead? Loom makes `unpark`
/// synchronize at once and gives no scheduling point between the flag's
/// store and the `unpark` right after it, so loom cannot observe that bug,
/// real as it is on weak hardware; a seeded bug loom cannot catch proves
/// nothing.)
const FLAG_BEFORE_UNPARK: bool = !cfg!(loom_seeded_bugs = "waiter_unpark_first");

/// Something blocked that can be woken: a goroutine or an OS thread.
#[derive(Clone)]
pub enum Waiter {
    /// A parked goroutine.
    G(GRef),
    /// A parked OS thread.
    Thread(Arc<ThreadWaiter>),
}

/// A parked OS thread and its wake flag.
pub struct ThreadWaiter {
    thread: thread::Thread,
    woken: AtomicBool,
}

impl Waiter {
    /// A waiter for the caller: its goroutine, or its OS thread.
    ///
    /// A goroutine that is unwinding from a panic (a `Drop` that waits on a
    /// channel or a lock) waits as its *thread* instead, inside a
    /// `runtime::syscall` so that its P goes on running the others: std
    /// counts panics per thread (`std::thread::panicking`, and the count
    /// that `catch_unwind` decrements), so a goroutine that resumed on
    /// another M in the middle of unwinding would leave one thread
    /// "panicking" forever and underflow the other's count. Such a waiter
    /// shows as in a syscall, not parked, so the deadlock detector does not
    /// see it (where Go would report a deadlock inside a deferred call, we
    /// wait).
    pub fn current() -> Waiter {
        Waiter::of(crate::m::current_g())
    }

    /// [`Waiter::current`] for the running goroutine `g` (`None`: a plain
    /// thread), already looked up by the caller's runtime section.
    #[inline]
    pub(crate) fn of(g: Option<GRef>) -> Waiter {
        if let Some(g) = g {
            if !std::thread::panicking() {
                return Waiter::G(g);
            }
        }
        Waiter::Thread(Arc::new(ThreadWaiter {
            thread: thread::current(),
            woken: AtomicBool::new(false),
        }))
    }

    /// Is this the waiter of the calling goroutine or thread?
    pub fn is_current(&self) -> bool {
        match self {
            Waiter::G(g) => crate::m::current_g().is_some_and(|c| std::ptr::eq(c, *g)),
            Waiter::Thread(t) => t.thread.id() == thread::current().id(),
        }
    }

    /// Make the waiter runnable again (Go's `goready`). Call it after taking
    /// the waiter off its wait queue, once.
    pub fn wake(self) {
        match self {
            Waiter::G(g) => goready(g),
            Waiter::Thread(t) if FLAG_BEFORE_UNPARK => {
                t.woken.store(true, Ordering::Release);
                t.thread.unpark();
            }
            Waiter::Thread(t) => {
                t.thread.unpark();
                t.woken.store(true, Ordering::Release);
            }
        }
    }
}

/// Block the caller, whose waiter `me` was just put on a wait queue guarded
/// by `guard`; the guard is released once the caller is parked (Go's
/// `goparkunlock`). Returns when someone calls [`Waiter::wake`] on `me`.
#[track_caller]
pub fn park<T>(me: &Waiter, guard: MutexGuard<'_, T>, reason: WaitReason) {
    park_unlock(me, move || drop(guard), reason);
}

/// Like [`park`], with any unlock action: `select!` releases the locks of
/// all its channels once parked (Go's `gopark(selparkcommit, ...)`).
#[track_caller]
pub fn park_unlock<U: FnOnce()>(me: &Waiter, unlock: U, reason: WaitReason) {
    let at = Location::caller();
    match me {
        // The waiter of a parking goroutine is the running goroutine.
        Waiter::G(g) => gopark(g, unlock, reason, at),
        Waiter::Thread(t) => {
            let _ = (reason, at);
            unlock();
            park_thread(t);
        }
    }
}

/// Sleep until woken, as a thread. Out of line: goroutines that park take
/// the other branch, and this one must not bloat `park_unlock`, which is
/// inlined into every channel operation.
#[inline(never)]
fn park_thread(t: &ThreadWaiter) {
    let wait = || {
        while !t.woken.load(Ordering::Acquire) {
            thread::park();
        }
    };
    // A goroutine waiting as its thread (see `Waiter::current`) lends its
    // P out meanwhile, as in a system call; a plain thread just waits.
    #[cfg(not(loom))]
    crate::syscall::syscall(wait);
    #[cfg(loom)]
    wait();
}

/// A preemption point (see `proc.rs`). Under loom every goroutine is its own
/// thread, so there is no scheduler to yield to.
#[inline]
pub(crate) fn preempt_point() {
    goroutine_preempt_point();
}

/// Under loom: no goroutines, so nothing to park, ready or preempt.
#[cfg(loom)]
mod no_goroutines {
    use std::panic::Location;

    use crate::g::{GRef, WaitReason};

    pub(super) fn gopark<U: FnOnce()>(_: GRef, _: U, _: WaitReason, _: &Location<'_>) {
        unreachable!("loom model: no goroutine runs, so none parks");
    }

    pub(super) fn goready(_: GRef) {
        unreachable!("loom model: no goroutine runs, so none is readied");
    }

    #[inline]
    pub(super) fn goroutine_preempt_point() {}
}
