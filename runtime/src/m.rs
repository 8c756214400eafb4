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

use std::cell::UnsafeCell;

use crate::g::GRef;
use crate::p::P;
use crate::sync_facade::{AtomicBool, AtomicPtr, Note, Ordering};
use crate::G;

/// An OS thread that runs goroutines (Go's `type m struct`).
pub struct M {
    /// Thread number, for traces and the deadlock dump.
    pub id: u64,
    /// Where this M sleeps when idle (Go's `m.park`).
    pub(crate) note: Note,
    /// The P handed over by whoever woke us (Go's `m.nextp`).
    nextp: AtomicPtr<P>,
    /// Looking for work without having found any (Go's `m.spinning`).
    spinning: AtomicBool,
    /// The P we hold, if any (Go's `m.p`).
    p: AtomicPtr<P>,
    /// The G running on this M, if any (Go's `m.curg`).
    curg: AtomicPtr<G>,
    /// Random state for the stealing order. Only this M touches it, so it is
    /// not part of the modelled synchronization.
    rand: std::sync::atomic::AtomicU32,
}

fn ptr_of<T>(r: Option<&'static T>) -> *mut T {
    r.map_or(std::ptr::null_mut(), |r| r as *const T as *mut T)
}

fn ref_of<T>(p: *mut T) -> Option<&'static T> {
    // SAFETY: M fields only ever hold null or pointers made from `&'static`
    // references to leaked, never-freed Ps and Gs.
    unsafe { p.cast_const().as_ref() }
}

impl M {
    /// A new M record.
    pub fn new(id: u64) -> M {
        M {
            id,
            note: Note::new(),
            nextp: AtomicPtr::new(std::ptr::null_mut()),
            spinning: AtomicBool::new(false),
            p: AtomicPtr::new(std::ptr::null_mut()),
            curg: AtomicPtr::new(std::ptr::null_mut()),
            rand: std::sync::atomic::AtomicU32::new((id as u32).wrapping_mul(0x9E37_79B9) | 1),
        }
    }

    /// The P this M holds.
    pub fn p(&self) -> Option<&'static P> {
        ref_of(self.p.load(Ordering::Acquire))
    }

    pub(crate) fn set_p(&self, p: Option<&'static P>) {
        self.p.store(ptr_of(p), Ordering::Release);
    }

    pub(crate) fn set_nextp(&self, p: &'static P) {
        self.nextp.store(ptr_of(Some(p)), Ordering::Release);
    }

    pub(crate) fn take_nextp(&self) -> Option<&'static P> {
        ref_of(self.nextp.swap(std::ptr::null_mut(), Ordering::AcqRel))
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
        ref_of(self.curg.load(Ordering::Acquire))
    }

    pub(crate) fn set_curg(&self, g: Option<GRef>) {
        self.curg.store(ptr_of(g), Ordering::Release);
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

/// State of a P that only its owner touches.
#[derive(Default)]
pub(crate) struct PLocal {
    /// Dead Gs kept for reuse (Go's `p.gFree`).
    pub(crate) gfree: Vec<GRef>,
    /// Free stacks, warmest last (Go's `p.mcache.stackcache`).
    #[cfg(not(loom))]
    pub(crate) stackcache: Vec<crate::stack::Stack>,
}

/// An `UnsafeCell` around [`PLocal`].
pub(crate) struct PLocalCell(UnsafeCell<PLocal>);

// SAFETY: a P's local state is only accessed by the M that currently holds
// the P (between `acquirep` and `releasep`); handing a P over goes through the
// scheduler lock or an atomic with Release/Acquire, which orders the accesses.
unsafe impl Sync for PLocalCell {}

impl PLocalCell {
    pub(crate) fn new() -> PLocalCell {
        PLocalCell(UnsafeCell::new(PLocal::default()))
    }

    /// # Safety
    /// The caller holds the P and does not keep the reference across a point
    /// where the P can be released.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn get(&self) -> &mut PLocal {
        // SAFETY: per this function's contract, we are the only accessor.
        unsafe { &mut *self.0.get() }
    }
}

#[cfg(not(loom))]
pub(crate) use exec::*;

/// Under loom, Ms are the model's own threads, created up front: a model that
/// needs one more M than it made is a bug in the model.
#[cfg(loom)]
pub(crate) fn newm(_: &'static P, _: bool) {
    panic!("loom model: no idle M left; create every M before running the model");
}

#[cfg(not(loom))]
mod exec {
    use std::cell::{Cell, UnsafeCell};

    use corosensei::{Coroutine, CoroutineResult, Yielder};

    use super::M;
    use crate::funcval::FuncVal;
    use crate::g::{GRef, Status};
    use crate::p::{PStatus, P};
    use crate::sched::Sched;
    use crate::stack::Stack;
    use crate::sync_facade::Ordering;

    /// Why a goroutine handed its M back to the scheduler.
    pub(crate) enum Yield {
        /// `gosched()`: go to the global queue, let others run.
        Gosched,
        /// Asked by sysmon after 10 ms: same as `Gosched`, as in Go.
        Preempted,
        /// Block. The closure runs *after* the switch, on the M's own stack
        /// (Go's `gopark` `unlockf`): it releases the lock that protects the
        /// wait queue the G just joined, so no waker can touch the G before
        /// it is fully parked.
        Park(*mut (dyn FnMut() + 'static)),
        /// Back from a system call, but the P was handed off and no other
        /// is idle: queue the G globally and park this M (Go's
        /// `exitsyscall0`).
        ExitSyscallNoP,
    }

    type Coro = Coroutine<(), Yield, (), Stack>;

    /// Stacks moved at once between a P's cache and the global pool.
    const STACK_BATCH: usize = 32;

    /// Gs moved at once from the global free list to a P's, or allocated at
    /// once when there are none.
    const G_BATCH: usize = 32;

    /// What a G runs: its closure until it starts, then its coroutine
    /// (which owns the stack) until it returns.
    pub(crate) struct Exec {
        /// The function of a G that has not started yet (Go's `g.startpc`).
        start: FuncVal,
        /// The running or suspended goroutine, stack included.
        coro: Option<Coro>,
    }

    /// The executor state of a G, owned by whichever M runs or created it.
    pub(crate) struct ExecCell {
        exec: UnsafeCell<Exec>,
        /// The coroutine's yielder, set when the coroutine starts; read by the
        /// G's own code to switch back to its M.
        yielder: Cell<*const Yielder<(), Yield>>,
    }

    // SAFETY: an ExecCell is touched only by the M that owns its G: the M
    // that creates it (before it is queued) or the M that runs it (after
    // taking it from a run queue with Acquire ordering). Queues publish Gs
    // with Release, which orders those accesses.
    //
    // The coroutine may resume on another thread than the one it suspended
    // on. The closure it started from is `Send`, but that says nothing about
    // the values alive on its stack at a suspension point: a `!Send` value
    // (a `StdoutLock`, a `MutexGuard`, an `Rc` shared with another
    // goroutine, a borrow of a thread-local) held across a runtime call
    // would move threads, which the type system cannot forbid here
    // (corosensei's `Coroutine` is `!Send` for exactly this reason). This
    // is the runtime's documented contract, on `runtime::go` and in the
    // README: never hold a `!Send` value across a runtime call. Code that
    // breaks it can misbehave; Go has no such rule because it has no
    // thread-affine values.
    unsafe impl Sync for ExecCell {}
    // SAFETY: as above.
    unsafe impl Send for ExecCell {}

    impl ExecCell {
        pub(crate) fn new() -> ExecCell {
            ExecCell {
                exec: UnsafeCell::new(Exec {
                    start: FuncVal::empty(),
                    coro: None,
                }),
                yielder: Cell::new(std::ptr::null()),
            }
        }

        /// # Safety
        /// The caller owns the G (see the `Sync` impl).
        #[allow(clippy::mut_from_ref)]
        unsafe fn get(&self) -> &mut Exec {
            // SAFETY: per this function's contract.
            unsafe { &mut *self.exec.get() }
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

    /// Switch from the running G back to its M's scheduler loop.
    ///
    /// Inlined into `gopark` and friends: when the G is resumed, possibly
    /// much later, every return on its way back out was predicted from a
    /// return stack the scheduler has since overwritten, so each call level
    /// between the park and the user's code costs a mispredicted return.
    #[inline(always)]
    pub(crate) fn switch_to_scheduler(g: GRef, why: Yield) {
        let y = g.exec.yielder.get();
        debug_assert!(!y.is_null(), "switch from a G that never started");
        // SAFETY: `y` was set by this G's coroutine when it started and the
        // Yielder lives on that coroutine's stack, which is the stack we are
        // running on right now.
        unsafe { (*y).suspend(why) };
    }

    /// Create a G that will run `f`, reusing a dead one when possible (Go's
    /// `newproc1`, `gfget`). The G is returned Runnable but not queued. It
    /// gets no stack yet: only when it first runs (see `funcval.rs`).
    pub(crate) fn newproc<F>(
        sched: &Sched,
        p: Option<&'static P>,
        f: F,
        parent: u64,
        at: &'static std::panic::Location<'static>,
    ) -> GRef
    where
        F: FnOnce() + Send + 'static,
    {
        let g = gfget(sched, p).unwrap_or_else(|| sched.malg());
        g.init_live(sched.next_goid(), parent, at);
        // SAFETY: `g` is Free and in no queue: we are its only owner.
        let exec = unsafe { g.exec.get() };
        debug_assert!(
            exec.coro.is_none() && !exec.start.is_set(),
            "newproc: G not free"
        );
        exec.start = FuncVal::new(f);
        sched.ngoroutines.fetch_add(1, Ordering::Relaxed);
        g.set_status(Status::Free, Status::Runnable);
        g
    }

    /// Give a G that runs for the first time its stack and coroutine.
    fn gostart(p: &P, g: GRef, exec: &mut Exec) {
        let start = std::mem::replace(&mut exec.start, FuncVal::empty());
        debug_assert!(start.is_set(), "runnable G without a function");
        let stack = stackalloc(p);
        exec.coro = Some(Coroutine::with_stack(
            stack,
            move |y: &Yielder<(), Yield>, ()| {
                g.exec.yielder.set(y as *const _);
                start.call();
            },
        ));
    }

    /// A stack from `p`'s cache, refilled from the global pool in batches
    /// (Go's `stackalloc` / `stackcacherefill`).
    fn stackalloc(p: &P) -> Stack {
        // SAFETY: we hold `p`.
        let local = unsafe { p.local.get() };
        if local.stackcache.is_empty() {
            crate::stack::refill(&mut local.stackcache, STACK_BATCH);
        }
        local
            .stackcache
            .pop()
            .expect("refill gives at least one stack")
    }

    /// Return a dead G's stack to `p`'s cache, moving half of a full cache to
    /// the global pool (Go's `stackfree` / `stackcacherelease`).
    fn stackfree(p: &P, stack: Stack) {
        // SAFETY: we hold `p`.
        let local = unsafe { p.local.get() };
        local.stackcache.push(stack);
        if local.stackcache.len() >= 2 * STACK_BATCH {
            // Keep the warm end (last), release the cold end.
            crate::stack::release(local.stackcache.drain(..STACK_BATCH));
        }
    }

    /// Put a dead G on `p`'s free list; move half to the global list when
    /// the local one grows long (Go's `gfput`).
    fn gfput(sched: &Sched, p: &P, g: GRef) {
        // SAFETY: we hold `p`.
        let local = unsafe { p.local.get() };
        local.gfree.push(g);
        if local.gfree.len() >= 64 {
            let half = local.gfree.len() / 2;
            let mut locked = sched.lock();
            locked.gfree.extend(local.gfree.drain(..half));
        }
    }

    /// Take a dead G from `p`'s free list, refilling it from the global list
    /// (Go's `gfget`).
    fn gfget(sched: &Sched, p: Option<&'static P>) -> Option<GRef> {
        let Some(p) = p else {
            return sched.lock().gfree.pop();
        };
        // SAFETY: we hold `p`.
        let local = unsafe { p.local.get() };
        if local.gfree.is_empty() {
            let mut locked = sched.lock();
            let take = locked.gfree.len().min(G_BATCH);
            let at = locked.gfree.len() - take;
            local.gfree.extend(locked.gfree.drain(at..));
        }
        if local.gfree.is_empty() {
            // No dead G anywhere: make a batch of new ones at once.
            sched.malg_batch(&mut local.gfree, G_BATCH);
        }
        local.gfree.pop()
    }

    /// Start an OS thread for a new M that will run on `p` (Go's `newm`).
    pub(crate) fn newm(p: &'static P, spinning: bool) {
        let sched = crate::proc::sched_unchecked();
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
        CURRENT_M.with(|c| c.set(m));
        crate::signal::on_new_m();
        m
    }

    /// Body of an M's OS thread (Go's `mstart`).
    fn mstart(sched: &'static Sched, m: &'static M) -> ! {
        CURRENT_M.with(|c| c.set(m));
        crate::signal::on_new_m();
        let p = m.take_nextp().expect("mstart: no P");
        sched.acquirep(m, p);
        crate::trace::m_started(m);
        schedule(sched, m)
    }

    /// One round of the scheduler, forever (Go's `schedule`).
    pub(crate) fn schedule(sched: &'static Sched, m: &'static M) -> ! {
        loop {
            if let Some(p) = m.p() {
                if p.id >= sched.gomaxprocs() {
                    retire_p(sched, m);
                    let woken = sched.stopm(m);
                    debug_assert!(woken, "only a loom model shuts the scheduler down");
                    continue;
                }
            }
            let (g, inherit) = sched
                .find_runnable(m)
                .expect("only a loom model shuts the scheduler down");
            if m.spinning() {
                sched.reset_spinning(m);
            }
            execute(sched, m, g, inherit);
        }
    }

    /// GOMAXPROCS shrank below our P: give its queue to the global queue and
    /// retire it (the part of Go's `procresize` that runs on the old owner).
    fn retire_p(sched: &Sched, m: &M) {
        if m.spinning() {
            m.set_spinning(false);
            sched.nmspinning.fetch_sub(1, Ordering::SeqCst);
        }
        let p = sched.releasep(m);
        let mut locked = sched.lock();
        let queued = p.drain_all();
        sched.globrunqput_batch(&mut locked, queued);
        if p.id >= sched.gomaxprocs() {
            p.set_status(PStatus::Dead);
        } else {
            // GOMAXPROCS grew back meanwhile: keep the P alive.
            sched.pidleput(&mut locked, p);
        }
        drop(locked);
        sched.wakep();
    }

    /// Run `g` on `m` until it yields, parks or returns (Go's `execute` and
    /// the `mcall` continuations `gosched_m`, `park_m`, `goexit0`).
    fn execute(sched: &'static Sched, m: &'static M, g: GRef, inherit_time: bool) {
        let p = m.p().expect("execute: no P");
        g.set_status(Status::Runnable, Status::Running);
        m.set_curg(Some(g));
        p.curg.store(g as *const _ as *mut _, Ordering::Release);
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
            gostart(p, g, exec);
        }
        let result = exec
            .coro
            .as_mut()
            .expect("started G has its coroutine")
            .resume(());

        m.set_curg(None);
        // Our P may have changed while the G was in a syscall.
        if let Some(p) = m.p() {
            p.curg.store(std::ptr::null_mut(), Ordering::Release);
        }
        match result {
            CoroutineResult::Yield(why @ (Yield::Gosched | Yield::Preempted)) => {
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
            }
            CoroutineResult::Yield(Yield::ExitSyscallNoP) => {
                debug_assert!(m.p().is_none(), "exitsyscall0: M holds a P");
                g.set_status(Status::Syscall, Status::Runnable);
                let mut locked = sched.lock();
                sched.globrunqput(&mut locked, g);
                crate::trace::event(crate::trace::Event::SyscallExit { g, m });
                drop(locked);
                sched.wakep();
                // This M goes idle until it is handed a P.
                let woken = sched.stopm(m);
                debug_assert!(woken, "only a loom model's shutdown wakes an M without a P");
            }
            CoroutineResult::Return(()) => {
                crate::trace::event(crate::trace::Event::Exit { g, m });
                g.set_status(Status::Running, Status::Free);
                sched.ngoroutines.fetch_sub(1, Ordering::Relaxed);
                let coro = exec.coro.take().expect("finished G has its coroutine");
                let p = m.p().expect("goexit: no P");
                stackfree(p, coro.into_stack());
                gfput(sched, p, g);
            }
        }
    }
}
