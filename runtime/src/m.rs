//! M: an OS thread ("machine") that runs goroutines while it holds a P.
//!
//! Lesson idea: "every P is assigned an OS thread, M. The OS schedules the
//! thread on a core; Go schedules goroutines on the thread." An M's life is a
//! loop (Go's `mstart` → `schedule`): find a runnable G, switch to its stack,
//! and when the G gives the thread back (it yielded, blocked or finished)
//! decide what happens to it and find the next one.
//!
//! Switching between goroutines is a user-space stack switch (corosensei,
//! a few nanoseconds); the kernel never sees it. From the OS's point of view
//! this thread "never goes to sleep" while there is work.
//!
//! A G can resume on a *different* M than the one it parked on. Thread-locals
//! therefore belong to the M, not to the G: runtime code re-reads the current
//! M after every switch through [`current_m`], which is never inlined (LLVM
//! may otherwise cache a thread-local's address across the switch,
//! llvm#98479). User code must not hold a `!Send` guard (a `RefCell` borrow of
//! a thread-local, a `MutexGuard`) across a runtime call.

use std::cell::Cell;

use crate::g::GRef;
use crate::p::P;
use crate::sync_facade::{AtomicBool, AtomicRef, Note, Ordering};
use crate::G;

/// An OS thread that runs goroutines (Go's `type m struct`).
pub struct M {
    /// Thread number, for traces and the deadlock dump.
    pub id: u64,
    /// Where this M sleeps when idle (Go's `m.park`).
    pub(crate) note: Note,
    /// The P handed over by whoever woke us (Go's `m.nextp`).
    nextp: AtomicRef<P>,
    /// Looking for work without having found any (Go's `m.spinning`).
    spinning: AtomicBool,
    /// The P we hold, if any (Go's `m.p`).
    p: AtomicRef<P>,
    /// The G running on this M, if any (Go's `m.curg`).
    curg: AtomicRef<G>,
    /// This M's OS thread ([`crate::os::OsThread::to_raw`]; 0 until it
    /// runs), copied into each P it acquires so that sysmon can ask the
    /// kernel whether the thread is blocked (see `implicit_syscall.rs`).
    os_thread: std::sync::atomic::AtomicU64,
    /// Random state for the stealing order. Only this M touches it, so it is
    /// not part of the modelled synchronization.
    rand: std::sync::atomic::AtomicU32,
}

impl M {
    /// A new M record.
    pub fn new(id: u64) -> M {
        M {
            id,
            note: Note::new(),
            nextp: AtomicRef::none(),
            spinning: AtomicBool::new(false),
            p: AtomicRef::none(),
            curg: AtomicRef::none(),
            os_thread: std::sync::atomic::AtomicU64::new(0),
            rand: std::sync::atomic::AtomicU32::new((id as u32).wrapping_mul(0x9E37_79B9) | 1),
        }
    }

    /// The P this M holds.
    pub fn p(&self) -> Option<&'static P> {
        self.p.load(Ordering::Acquire)
    }

    pub(crate) fn set_p(&self, p: Option<&'static P>) {
        self.p.store(p, Ordering::Release);
    }

    pub(crate) fn set_nextp(&self, p: &'static P) {
        self.nextp.store(Some(p), Ordering::Release);
    }

    pub(crate) fn take_nextp(&self) -> Option<&'static P> {
        self.nextp.swap(None, Ordering::AcqRel)
    }

    /// Is this M spinning?
    pub fn spinning(&self) -> bool {
        self.spinning.load(Ordering::Relaxed)
    }

    pub(crate) fn set_spinning(&self, v: bool) {
        self.spinning.store(v, Ordering::Relaxed);
    }

    /// The goroutine running on this M.
    pub fn curg(&self) -> Option<GRef> {
        self.curg.load(Ordering::Acquire)
    }

    pub(crate) fn set_curg(&self, g: Option<GRef>) {
        self.curg.store(g, Ordering::Release);
    }

    /// This M's OS thread as a number (0: not known), see
    /// [`crate::os::OsThread::to_raw`].
    pub(crate) fn os_thread(&self) -> u64 {
        self.os_thread.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Record the calling OS thread as this M's (at its start).
    #[cfg(not(loom))]
    fn set_os_thread(&self) {
        self.os_thread.store(
            crate::os::current_thread().to_raw(),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// xorshift32 (Go's `fastrand`, simplified).
    pub(crate) fn fastrand(&self) -> u32 {
        let mut x = self.rand.load(std::sync::atomic::Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rand.store(x, std::sync::atomic::Ordering::Relaxed);
        x
    }
}

thread_local! {
    /// The M running on this OS thread (Go keeps it in `g0.m`).
    static CURRENT_M: Cell<*const M> = const { Cell::new(std::ptr::null()) };
}

/// The M of the calling OS thread, if it is one. Never inlined, so each
/// call re-reads the thread-local: a goroutine may have moved to another
/// thread since the last call.
#[inline(never)]
pub fn current_m() -> Option<&'static M> {
    this_m()
}

/// The thread-local read itself, inlined into the three never-inlined
/// accessors, so that `current_g` and `current_p` (called several times
/// per channel operation) are one call, not two.
#[inline(always)]
fn this_m() -> Option<&'static M> {
    let m = CURRENT_M.with(|c| c.get());
    // SAFETY: CURRENT_M is null or points to a leaked M.
    unsafe { m.as_ref() }
}

/// The goroutine running on the calling thread, if any. Never inlined,
/// like [`current_m`].
#[inline(never)]
pub fn current_g() -> Option<GRef> {
    this_m()?.curg()
}

/// The P held by the calling thread's M, if any. Never inlined, like
/// [`current_m`].
#[inline(never)]
pub fn current_p() -> Option<&'static P> {
    this_m()?.p()
}

#[cfg(not(loom))]
pub(crate) use thread::{become_m, newm, schedule};

/// Under loom, Ms are the model's own threads, created up front: a model that
/// needs one more M than it made is a bug in the model.
#[cfg(loom)]
pub(crate) fn newm(_: &'static crate::sched::Sched, _: &'static P, _: bool) {
    panic!("loom model: no idle M left; create every M before running the model");
}

/// The M's OS thread and its loop. Not built under loom, which cannot follow
/// a goroutine's stack switch: the models spell the loop out themselves.
#[cfg(not(loom))]
mod thread {
    use corosensei::CoroutineResult;

    use super::{CURRENT_M, M};
    use crate::g::{gostart, GRef, Status, Yield};
    use crate::p::{stackalloc, stackfree, P};
    use crate::sched::Sched;
    use crate::sync_facade::Ordering;

    /// Start an OS thread for a new M that will run on `p` (Go's `newm`).
    pub(crate) fn newm(sched: &'static Sched, p: &'static P, spinning: bool) {
        let id = sched.mnext.fetch_add(1, Ordering::Relaxed);
        let m: &'static M = Box::leak(Box::new(M::new(id)));
        m.set_nextp(p);
        m.set_spinning(spinning);
        std::thread::Builder::new()
            .name(format!("M{id}"))
            .spawn(move || mstart(sched, m))
            .unwrap_or_else(|e| {
                crate::fatal::throw(&format!("newm: cannot create OS thread: {e}"))
            });
    }

    /// Make the calling OS thread an M (used for M0, the main thread).
    pub(crate) fn become_m(sched: &'static Sched) -> &'static M {
        let id = sched.mnext.fetch_add(1, Ordering::Relaxed);
        let m: &'static M = Box::leak(Box::new(M::new(id)));
        sched.lock().mcount += 1;
        m.set_os_thread();
        CURRENT_M.with(|c| c.set(m));
        crate::signal::on_new_m();
        crate::sigquit::on_new_m();
        m
    }

    /// Body of an M's OS thread (Go's `mstart`).
    fn mstart(sched: &'static Sched, m: &'static M) -> ! {
        m.set_os_thread();
        CURRENT_M.with(|c| c.set(m));
        crate::signal::on_new_m();
        crate::sigquit::on_new_m();
        let p = m.take_nextp().expect("mstart: no P");
        sched.acquirep(m, p);
        crate::trace::m_started(m);
        schedule(sched, m)
    }

    /// One round of the scheduler, forever (Go's `schedule`).
    pub(crate) fn schedule(sched: &'static Sched, m: &'static M) -> ! {
        loop {
            let (g, inherit) = sched
                .schedule_one(m)
                .expect("only a loom model shuts the scheduler down");
            execute(sched, m, g, inherit);
        }
    }

    /// Run `g` on `m` until it yields, parks or returns (Go's `execute` and
    /// the `mcall` continuations `gosched_m`, `park_m`, `goexit0`).
    fn execute(sched: &'static Sched, m: &'static M, g: GRef, inherit_time: bool) {
        let p = m.p().expect("execute: no P");
        g.set_status(Status::Runnable, Status::Running);
        m.set_curg(Some(g));
        p.curg.store(Some(g), Ordering::Release);
        // A stale request (sysmon flagged this G just as it parked) must not
        // cut its next run short: Go's `execute` clears it every time.
        g.preempt.store(false, Ordering::Relaxed);
        if !inherit_time {
            // A new time slice starts: sysmon measures 10 ms from here.
            p.schedtick.fetch_add(1, Ordering::Relaxed);
        }
        crate::trace::run(g, m, inherit_time);

        // SAFETY: we took `g` from a run queue, so we own it until we hand it
        // to a queue or a wait list again below.
        let exec = unsafe { g.exec.get() };
        if exec.coro.is_none() {
            // SAFETY: this M holds `p`.
            gostart(g, exec, stackalloc(&mut unsafe { p.owned() }));
        } else {
            // A stack compacted while the G was parked goes back in place
            // (compact.rs); one load when it was not. After the stores of
            // the status and `curg` above: the compactor's handshake.
            g.stack_slot.ensure_live();
        }
        let result = exec
            .coro
            .as_mut()
            .expect("started G has its coroutine")
            .resume(());

        m.set_curg(None);
        // The P's `curg` is cleared in each arm (from `m.p()`: our P may
        // have changed while the G was in a syscall). A parking G stays its
        // P's `curg` until the unlock closure, which reads its stack, has
        // run: the stack compactor leaves such a G alone.
        let clear_curg = || {
            if let Some(p) = m.p() {
                p.curg.store(None, Ordering::Release);
            }
        };
        match result {
            CoroutineResult::Yield(why @ (Yield::Gosched | Yield::Preempted)) => {
                clear_curg();
                g.set_status(Status::Running, Status::Runnable);
                let mut locked = sched.lock();
                sched.globrunqput(&mut locked, g);
                crate::trace::event(crate::trace::Event::yielded(g, m, &why));
            }
            CoroutineResult::Yield(Yield::Park(unlock)) => {
                g.set_status(Status::Running, Status::Waiting);
                crate::trace::park(g, m);
                // SAFETY: `unlock` points to a closure on the parked G's
                // stack; that stack is intact until the G is resumed, which
                // cannot happen before this call releases the wait-queue lock.
                unsafe { (*unlock)() };
                clear_curg();
            }
            CoroutineResult::Yield(Yield::ExitSyscallNoP) => {
                clear_curg();
                // This M goes idle until it is handed a P (`schedule_one`
                // stops an M without a P).
                sched.exitsyscall0(m, g);
            }
            CoroutineResult::Return(()) => {
                clear_curg();
                crate::trace::event(crate::trace::Event::Exit { g, m });
                g.set_status(Status::Running, Status::Free);
                sched.ngoroutines.fetch_sub(1, Ordering::Relaxed);
                let coro = exec.coro.take().expect("finished G has its coroutine");
                let p = m.p().expect("goexit: no P");
                // SAFETY: this M holds `p`.
                let mut p = unsafe { p.owned() };
                stackfree(&mut p, coro.into_stack());
                sched.gfput(&mut p, g);
            }
        }
    }
}
