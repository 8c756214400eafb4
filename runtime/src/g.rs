//! G: a goroutine, with its own stack and a status.
//!
//! Lesson idea: "every function can become an independent path of execution
//! that can be scheduled". A G is that path: a closure, the stack it runs on,
//! and a status that says whether it is running, runnable or asleep (Go's
//! `type g struct` in `runtime/runtime2.go`). Dead Gs are not freed: like Go's
//! `gfput`/`gfget` they go to a free list and are reused, stack included, so
//! spawning a goroutine in steady state allocates nothing.
//!
//! Because a G is never freed, it is handed around as `&'static G` (`GRef`):
//! run queues, wait queues and the all-goroutines list hold plain references.
//!
//! A G runs as a stackful coroutine (corosensei): `gostart` gives a G that
//! runs for the first time its stack, and `switch_to_scheduler` is how the
//! running G hands its M back (Go's `gogo` and `mcall`). Which M resumes it,
//! and what happens then, is the M's business (`m.rs`).

use std::panic::Location;
use std::sync::atomic::Ordering::Relaxed;

use crate::sync_facade::{AtomicBool, AtomicRef, AtomicU64, AtomicU8, Ordering};

#[cfg(not(loom))]
mod locals;

/// The time parking stamps on a G (`G::waitsince`): `nanotime()` as sysmon
/// last read it, at every tick (every 20 us to 10 ms). A load of a line
/// that changes at most every 20 us costs the park path two instructions
/// (callgrind, per ping-pong round trip), where a clock read would cost
/// tens of nanoseconds per park; the price is a stamp up to one sysmon nap
/// older than the park.
static PARK_CLOCK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// sysmon's tick: what parking stamps from now on.
pub(crate) fn set_park_clock(now: u64) {
    PARK_CLOCK.store(now, Relaxed);
}

/// A goroutine as the scheduler passes it around.
pub type GRef = &'static G;

/// Where a goroutine is in its life (Go's `_Gidle`, `_Grunnable`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// On a free list, not a live goroutine (Go: `_Gdead` on `gFree`).
    Free = 0,
    /// In a run queue, waiting for an M (`_Grunnable`).
    Runnable = 1,
    /// On an M, executing user code (`_Grunning`).
    Running = 2,
    /// Inside `runtime::syscall`, its M blocked in the kernel (`_Gsyscall`).
    Syscall = 3,
    /// Parked: blocked on a WaitGroup, channel, timer... (`_Gwaiting`).
    Waiting = 4,
}

impl Status {
    fn from_u8(v: u8) -> Status {
        match v {
            0 => Status::Free,
            1 => Status::Runnable,
            2 => Status::Running,
            3 => Status::Syscall,
            _ => Status::Waiting,
        }
    }
}

/// Why a goroutine is parked: the word between brackets in a goroutine dump,
/// spelled as Go spells it (`waitReasonStrings` in `runtime2.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum WaitReason {
    /// Not waiting.
    None = 0,
    /// Blocked on a semaphore: `WaitGroup::wait`.
    Semacquire,
    /// Blocked receiving from a channel.
    ChanReceive,
    /// Blocked sending on a channel.
    ChanSend,
    /// Blocked in `select!`.
    Select,
    /// `select!` with no cases: blocks forever.
    SelectNoCases,
    /// In `time::sleep`.
    Sleep,
    /// Receiving from a nil channel.
    ChanReceiveNilChan,
    /// Sending on a nil channel.
    ChanSendNilChan,
    /// Blocked in `runtime::sync::Mutex::lock` (Go 1.20+:
    /// `waitReasonSyncMutexLock`; Go 1.19 printed `semacquire`).
    SyncMutexLock,
    /// Blocked taking a `runtime::sync::RwMutex` for reading.
    SyncRWMutexRLock,
    /// Blocked taking a `runtime::sync::RwMutex` for writing.
    SyncRWMutexLock,
    /// Blocked in `runtime::sync::Cond::wait`.
    SyncCondWait,
}

impl WaitReason {
    /// Go's text for this reason.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "running",
            WaitReason::Semacquire => "semacquire",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::Sleep => "sleep",
            WaitReason::ChanReceiveNilChan => "chan receive (nil chan)",
            WaitReason::ChanSendNilChan => "chan send (nil chan)",
            WaitReason::SyncMutexLock => "sync.Mutex.Lock",
            WaitReason::SyncRWMutexRLock => "sync.RWMutex.RLock",
            WaitReason::SyncRWMutexLock => "sync.RWMutex.Lock",
            WaitReason::SyncCondWait => "sync.Cond.Wait",
        }
    }

    fn from_u8(v: u8) -> WaitReason {
        use WaitReason::*;
        [
            None,
            Semacquire,
            ChanReceive,
            ChanSend,
            Select,
            SelectNoCases,
            Sleep,
            ChanReceiveNilChan,
            ChanSendNilChan,
            SyncMutexLock,
            SyncRWMutexRLock,
            SyncRWMutexLock,
            SyncCondWait,
        ]
        .get(v as usize)
        .copied()
        .unwrap_or(None)
    }
}

/// A goroutine.
pub struct G {
    /// Goroutine id (Go's `goid`); main is 1. Reassigned when a free G is reused.
    goid: AtomicU64,
    /// A [`Status`] as `u8`.
    status: AtomicU8,
    /// Set by sysmon when this G has run for 10 ms: yield at the next
    /// preemption point (Go's `g.preempt`).
    pub(crate) preempt: AtomicBool,
    /// If set, a panic in this G is handed to `block_on`'s caller instead of
    /// ending the program.
    pub(crate) catches_panics: AtomicBool,
    /// True while the G runs its own code, outside every runtime section:
    /// the only time sysmon may take its P because its thread blocked (see
    /// `implicit_syscall.rs`, which owns this field and the next).
    pub(crate) in_user: AtomicBool,
    /// Where sysmon is in taking this G's P away (`implicit_syscall.rs`):
    /// nothing, looking, converting, or done.
    pub(crate) handoff: AtomicU8,
    /// A [`WaitReason`] as `u8`, valid while `Waiting`.
    wait_reason: AtomicU8,
    /// The user's source line that blocked (from `#[track_caller]`).
    wait_location: AtomicRef<Location<'static>>,
    /// The `go` statement that created this G.
    created_at: AtomicRef<Location<'static>>,
    /// The goroutine that executed that `go` statement (0: none).
    parent_goid: AtomicU64,
    /// An address inside the function that ran the `go` statement, named
    /// only when a traceback prints `created by` (Go's `gopc`).
    creator_pc: std::sync::atomic::AtomicUsize,
    /// Where the G stopped when it last switched to the scheduler: the
    /// address of the switch and its frame pointer, the start of the
    /// frame-pointer chain a traceback walks (Go's `g.sched.pc` and
    /// `g.sched.bp`). Diagnostics only, hence plain std atomics that loom
    /// does not model.
    saved_pc: std::sync::atomic::AtomicUsize,
    saved_fp: std::sync::atomic::AtomicUsize,
    /// The stack pointer at that switch: where the bytes in use begin, for
    /// stack compaction (Go's `g.sched.sp`).
    saved_sp: std::sync::atomic::AtomicUsize,
    /// The base (highest address) of this G's stack, set when it first runs
    /// (0: no stack yet); the stack compactor's view of it.
    stack_base: std::sync::atomic::AtomicUsize,
    /// Whether the stack is in place or compacted (`compact.rs`).
    #[cfg(not(loom))]
    pub(crate) stack_slot: crate::compact::Slot,
    /// When this G parked, by [`PARK_CLOCK`] (0: before sysmon's first
    /// tick; sysmon then stamps it when it first sees the G parked);
    /// tracebacks print waits of a minute or more, and the stack compactor
    /// waits for an old enough stamp (Go's `waitsince`, stamped by the
    /// garbage collector there).
    waitsince: std::sync::atomic::AtomicU64,
    /// The coroutine and stack; owned by whichever M runs the G.
    #[cfg(not(loom))]
    pub(crate) exec: ExecCell,
    /// Go's report for the panic this G raised last (message, goroutine,
    /// where), written by the panic hook at the panic site and printed only
    /// if the panic reaches the top of the goroutine (Go's `g._panic`).
    #[cfg(not(loom))]
    pub(crate) panic_report: std::sync::Mutex<Option<String>>,
    /// Goroutine-local values (`goroutine_local!`).
    #[cfg(not(loom))]
    pub(crate) locals: locals::Locals,
}

impl G {
    /// A fresh G record (Go's `malg`), not yet live.
    pub(crate) fn new() -> G {
        G {
            goid: AtomicU64::new(0),
            status: AtomicU8::new(Status::Free as u8),
            preempt: AtomicBool::new(false),
            catches_panics: AtomicBool::new(false),
            in_user: AtomicBool::new(false),
            handoff: AtomicU8::new(0),
            wait_reason: AtomicU8::new(WaitReason::None as u8),
            wait_location: AtomicRef::none(),
            created_at: AtomicRef::none(),
            parent_goid: AtomicU64::new(0),
            creator_pc: std::sync::atomic::AtomicUsize::new(0),
            saved_pc: std::sync::atomic::AtomicUsize::new(0),
            saved_fp: std::sync::atomic::AtomicUsize::new(0),
            saved_sp: std::sync::atomic::AtomicUsize::new(0),
            stack_base: std::sync::atomic::AtomicUsize::new(0),
            #[cfg(not(loom))]
            stack_slot: crate::compact::Slot::new(),
            waitsince: std::sync::atomic::AtomicU64::new(0),
            #[cfg(not(loom))]
            exec: ExecCell::new(),
            #[cfg(not(loom))]
            panic_report: std::sync::Mutex::new(None),
            #[cfg(not(loom))]
            locals: locals::Locals::new(),
        }
    }

    /// This goroutine's id.
    pub fn goid(&self) -> u64 {
        self.goid.load(Ordering::Relaxed)
    }

    /// Current status.
    pub fn status(&self) -> Status {
        Status::from_u8(self.status.load(Ordering::Acquire))
    }

    /// Change status, checking the transition is one the scheduler makes
    /// (Go's `casgstatus`, which throws on a bad transition).
    ///
    /// Only the G's owner changes its status, so the check needs no atomic
    /// read-modify-write: release builds store (a locked `xchg` costs ~5 ns,
    /// paid several times per channel round trip), debug builds swap and
    /// check.
    pub(crate) fn set_status(&self, from: Status, to: Status) {
        if cfg!(debug_assertions) {
            let old = self.status.swap(to as u8, Ordering::AcqRel);
            debug_assert_eq!(
                Status::from_u8(old),
                from,
                "goroutine {}: bad status transition to {:?}",
                self.goid(),
                to
            );
        } else {
            self.status.store(to as u8, Ordering::Release);
        }
    }

    /// Make a free G live again with a new id (`newproc1`).
    pub(crate) fn init_live(
        &self,
        goid: u64,
        parent: u64,
        created_at: &'static Location<'static>,
        creator_pc: usize,
    ) {
        self.goid.store(goid, Ordering::Relaxed);
        self.creator_pc.store(creator_pc, Relaxed);
        self.saved_fp.store(0, Relaxed);
        self.saved_pc.store(0, Relaxed);
        self.saved_sp.store(0, Relaxed);
        self.parent_goid.store(parent, Ordering::Relaxed);
        self.created_at.store(Some(created_at), Ordering::Relaxed);
        self.preempt.store(false, Ordering::Relaxed);
        self.catches_panics.store(false, Ordering::Relaxed);
        self.wait_reason
            .store(WaitReason::None as u8, Ordering::Relaxed);
    }

    /// Record why and where this G is about to park (read by the deadlock
    /// dump). Go: the `reason` argument of `gopark`.
    pub(crate) fn set_wait(&self, reason: WaitReason, at: &'static Location<'static>) {
        self.wait_reason.store(reason as u8, Ordering::Relaxed);
        self.wait_location.store(Some(at), Ordering::Relaxed);
        self.waitsince.store(PARK_CLOCK.load(Relaxed), Relaxed);
    }

    /// Remember where this G switches to the scheduler (see `saved_pc`):
    /// three plain stores, the whole cost of tracebacks and stack
    /// compaction on a switch.
    #[inline(always)]
    pub(crate) fn save_context(&self, pc: usize, fp: usize, sp: usize) {
        self.saved_pc.store(pc, Relaxed);
        self.saved_fp.store(fp, Relaxed);
        self.saved_sp.store(sp, Relaxed);
    }

    /// The stack pointer saved at the last switch (0: none yet).
    pub(crate) fn saved_sp(&self) -> usize {
        self.saved_sp.load(Relaxed)
    }

    /// The base of this G's stack (0: it has not run yet).
    pub(crate) fn stack_base(&self) -> usize {
        self.stack_base.load(Relaxed)
    }

    /// The address and frame pointer saved at the last switch.
    pub(crate) fn saved_context(&self) -> (usize, usize) {
        (self.saved_pc.load(Relaxed), self.saved_fp.load(Relaxed))
    }

    /// Where inside the creating function the `go` statement ran.
    pub(crate) fn creator_pc(&self) -> usize {
        self.creator_pc.load(Relaxed)
    }

    /// When sysmon first saw this G in its current wait (0: not yet).
    pub(crate) fn waitsince(&self) -> u64 {
        self.waitsince.load(Relaxed)
    }

    /// Stamp the current wait with `now` unless it is stamped already
    /// (sysmon's part of Go's `waitsince`). A stamp can land just after the
    /// G woke and parked again: then the new wait looks one sysmon tick
    /// older than it is, which minutes cannot show.
    pub(crate) fn stamp_waitsince(&self, now: u64) {
        // Load first: a failed compare-and-swap still takes the cache line
        // for writing, and sysmon's walk finds nearly every G stamped.
        if self.waitsince.load(Relaxed) == 0 {
            let _ = self.waitsince.compare_exchange(0, now, Relaxed, Relaxed);
        }
    }

    /// Why this G is parked.
    pub fn wait_reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }

    /// Where this G parked.
    pub fn wait_location(&self) -> Option<&'static Location<'static>> {
        self.wait_location.load(Ordering::Relaxed)
    }

    /// Where this G was created, and by which goroutine.
    pub fn created(&self) -> (Option<&'static Location<'static>>, u64) {
        (
            self.created_at.load(Ordering::Relaxed),
            self.parent_goid.load(Ordering::Relaxed),
        )
    }
}

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

#[cfg(not(loom))]
pub(crate) use coro::*;

/// The stack-switching part of a G. Not built under loom, which cannot
/// follow a stack switch (see `loom_api.rs`).
#[cfg(not(loom))]
mod coro {
    use std::cell::{Cell, UnsafeCell};

    use corosensei::{Coroutine, Yielder};

    use super::{GRef, Yield};
    use crate::funcval::FuncVal;
    use crate::stack::{here_fp, here_pc, here_sp, Stack};

    /// What a panic that reaches the top of a goroutine does (Go's
    /// `fatalpanic`): `proc` installs its report-and-exit at start-up.
    /// Injected, like `fatal.rs`'s exit hooks, so that the G does not import
    /// the layer that starts programs; read only on that rare path.
    static ON_PANIC: std::sync::OnceLock<fn(GRef) -> !> = std::sync::OnceLock::new();

    /// Set what a goroutine's unrecovered panic does (once, at start-up).
    pub(crate) fn set_on_panic(f: fn(GRef) -> !) {
        let _ = ON_PANIC.set(f);
    }

    /// Before start-up installed a handler nothing can report: abort.
    fn abort_unreported(_: GRef) -> ! {
        std::process::abort()
    }

    /// What a goroutine whose function returned or panicked does when
    /// sysmon was taking, or took, its P while the function blocked its
    /// thread: settle that and get a P back (`implicit_syscall.rs`).
    /// Injected by `proc` at start-up, like [`set_on_panic`].
    static ON_LOST_P: std::sync::OnceLock<fn(GRef)> = std::sync::OnceLock::new();

    /// Set how a goroutine whose function ended gets its P back (once, at
    /// start-up).
    pub(crate) fn set_on_lost_p(f: fn(GRef)) {
        let _ = ON_LOST_P.set(f);
    }

    /// A running or suspended goroutine: its code, on its own stack.
    pub(crate) type Coro = Coroutine<(), Yield, (), Stack>;

    /// What a G runs: its closure until it starts, then its coroutine
    /// (which owns the stack) until it returns.
    pub(crate) struct Exec {
        /// The function of a G that has not started yet (Go's `g.startpc`).
        pub(crate) start: FuncVal,
        /// The running or suspended goroutine, stack included.
        pub(crate) coro: Option<Coro>,
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
        pub(crate) unsafe fn get(&self) -> &mut Exec {
            // SAFETY: per this function's contract.
            unsafe { &mut *self.exec.get() }
        }
    }

    /// Give `g`, which runs for the first time, its coroutine on `stack`
    /// (the part of Go's `newproc1` that sets up `g.sched` to start at
    /// `g.startpc`; Go does it at creation, we at first run, so a G that
    /// never runs costs no stack).
    pub(crate) fn gostart(g: GRef, exec: &mut Exec, stack: Stack) {
        let start = std::mem::replace(&mut exec.start, FuncVal::empty());
        g.stack_base
            .store(stack.base(), std::sync::atomic::Ordering::Relaxed);
        debug_assert!(start.is_set(), "runnable G without a function");
        exec.coro = Some(Coroutine::with_stack(
            stack,
            move |y: &Yielder<(), Yield>, ()| {
                g.exec.yielder.set(y as *const _);
                // A panic unwinds the goroutine's stack (its `Drop`s run, as
                // Go runs deferred calls; a `catch_unwind` on the way is
                // Go's `recover`). One that gets here, to the top of the
                // goroutine, ends the program (Go's `fatalpanic`).
                let run = std::panic::AssertUnwindSafe(|| start.call());
                // The goroutine's own code starts: sysmon may hand off its P
                // if it blocks its thread (see `implicit_syscall.rs`).
                g.in_user.store(true, std::sync::atomic::Ordering::Release);
                let result = std::panic::catch_unwind(run);
                // Back in the runtime for good: `implicit_syscall::enter`'s
                // fast path, spelled out here (this file sits below it).
                g.in_user.store(false, std::sync::atomic::Ordering::Relaxed);
                std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
                if g.handoff.load(std::sync::atomic::Ordering::Relaxed) != 0 {
                    if let Some(on_lost_p) = ON_LOST_P.get() {
                        on_lost_p(g);
                    }
                }
                if result.is_err() {
                    let on_panic = ON_PANIC.get().copied().unwrap_or(abort_unreported);
                    on_panic(g);
                }
                // SAFETY: we are the goroutine, its function has returned.
                unsafe { g.locals.drop_all() };
            },
        ));
    }

    /// Switch from the running G back to its M's scheduler loop (Go's
    /// `mcall`).
    ///
    /// Inlined into `gopark` and friends: when the G is resumed, possibly
    /// much later, every return on its way back out was predicted from a
    /// return stack the scheduler has since overwritten, so each call level
    /// between the park and the user's code costs a mispredicted return.
    #[inline(always)]
    pub(crate) fn switch_to_scheduler(g: GRef, why: Yield) {
        let y = g.exec.yielder.get();
        debug_assert!(!y.is_null(), "switch from a G that never started");
        // Where a traceback will start walking this G's stack (Go's mcall
        // saving `g.sched`).
        g.save_context(here_pc(), here_fp(), here_sp());
        // SAFETY: `y` was set by this G's coroutine when it started and the
        // Yielder lives on that coroutine's stack, which is the stack we are
        // running on right now.
        unsafe { (*y).suspend(why) };
    }
}
