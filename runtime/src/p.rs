//! P: a logical processor, with its `runnext` slot and local run queue.
//!
//! Lesson idea: "Go creates a logical processor (P) for every core; every P is
//! given a Local Run Queue". An M must hold a P to run goroutines, so
//! GOMAXPROCS Ps means at most GOMAXPROCS goroutines run at once (Go's
//! `type p struct` in `runtime2.go`).
//!
//! Why `runnext`? When a goroutine readies another (`go f()`, `wg.done()`, a
//! channel send), the readied one usually wants to run *soon*: it will consume
//! what was just produced. Putting it in `runnext`, ahead of the queue, keeps
//! producer/consumer pairs hot in cache. A G run from `runnext` inherits the
//! current time slice, so such a pair cannot starve the rest of the queue.
//! This is why, in lesson 1, the goroutine created *last* prints first.
//!
//! A P also keeps caches that only its owner touches (`PLocal`): dead Gs
//! and free stacks, so that `go` and a goroutine's exit take no lock in the
//! steady state (Go's `p.gFree` and `p.mcache.stackcache`).

use std::cell::UnsafeCell;

use crate::g::{GRef, G};
use crate::runq::LocalQueue;
use crate::sync_facade::{AtomicRef, AtomicU32, AtomicU8, Ordering};

/// Most Ps the runtime will create (Go's limit is 1 << 31; ours is small and
/// fixed so `allp` can be a plain array).
pub const MAX_GOMAXPROCS: usize = 256;

/// P status (Go's `_Pidle`, `_Prunning`, `_Psyscall`, `_Pdead`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PStatus {
    /// On the idle list, no M.
    Idle = 0,
    /// Held by an M that runs Gs.
    Running = 1,
    /// Its M is in a syscall; sysmon may retake it.
    Syscall = 2,
    /// Beyond GOMAXPROCS.
    Dead = 3,
}

/// A logical processor.
pub struct P {
    /// Index in `allp` (Go's `p.id`).
    pub id: usize,
    /// A [`PStatus`] as `u8`.
    status: AtomicU8,
    /// The next G to run, ahead of the queue (Go's `p.runnext`).
    pub(crate) runnext: AtomicRef<G>,
    /// The local run queue.
    pub(crate) runq: LocalQueue<G>,
    /// Incremented on every scheduling decision that starts a new time slice
    /// (Go's `p.schedtick`); sysmon watches it to find long runners.
    pub(crate) schedtick: AtomicU32,
    /// The G currently running on this P, for sysmon's `preemptone`.
    /// Cleared whenever the P leaves its M (`releasep`, sysmon's retake), so
    /// that a `Running` P never names a goroutine that runs elsewhere.
    pub(crate) curg: AtomicRef<G>,
    /// The OS thread of the M that holds this P (`OsThread::to_raw`; Go
    /// keeps `p.m`, the M itself), for sysmon to ask the kernel whether it
    /// is blocked (see `implicit_syscall.rs`). Diagnostic-grade: a plain
    /// std atomic loom does not model; sysmon trusts it only once the G
    /// running on this P is frozen in its own code.
    pub(crate) thread: std::sync::atomic::AtomicU64,
    /// Incremented on every system call entered on this P (Go's
    /// `p.syscalltick`); sysmon retakes a P only after seeing the same
    /// syscall twice, so a short syscall keeps its P.
    pub(crate) syscalltick: AtomicU32,
    /// Goroutines sleeping until a deadline (Go's `p.timers`).
    pub(crate) timers: crate::timers::Timers,
    /// Owner-only state: free Gs and stacks (reached through [`Owned`]).
    local: PLocalCell,
}

impl P {
    /// A new P, `Dead` until `procresize` puts it on the idle list.
    pub fn new(id: usize) -> P {
        P {
            id,
            status: AtomicU8::new(PStatus::Dead as u8),
            runnext: AtomicRef::none(),
            runq: LocalQueue::new(),
            schedtick: AtomicU32::new(0),
            curg: AtomicRef::none(),
            thread: std::sync::atomic::AtomicU64::new(0),
            syscalltick: AtomicU32::new(0),
            timers: crate::timers::Timers::new(),
            local: PLocalCell::new(),
        }
    }

    /// Current status.
    pub fn status(&self) -> PStatus {
        match self.status.load(Ordering::Acquire) {
            0 => PStatus::Idle,
            1 => PStatus::Running,
            2 => PStatus::Syscall,
            _ => PStatus::Dead,
        }
    }

    pub(crate) fn set_status(&self, s: PStatus) {
        self.status.store(s as u8, Ordering::Release);
    }

    /// Change the status from `from` to `to` if it is still `from`: the race
    /// between a syscall returning (`Syscall` -> `Running`) and sysmon
    /// retaking the P (`Syscall` -> `Idle`) has exactly one winner.
    pub(crate) fn cas_status(&self, from: PStatus, to: PStatus) -> bool {
        self.status
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// True when neither `runnext` nor the ring holds a G (Go's `runqempty`).
    pub(crate) fn runq_is_empty(&self) -> bool {
        self.runnext.is_none(Ordering::Acquire) && self.runq.is_empty()
    }

    /// Number of Gs queued here, `runnext` included.
    pub fn runq_len(&self) -> usize {
        self.runq.len() + usize::from(!self.runnext.is_none(Ordering::Acquire))
    }

    /// Claim this P's owner-only side.
    ///
    /// # Safety
    /// The caller owns the P: its M holds it (between `acquirep` and
    /// `releasep`), or no M can reach it (taken off the idle list, retaken
    /// from a syscall, or retired, under the rules of `sched.rs`). And it
    /// uses no other `Owned` of this P at the same time.
    #[inline]
    pub(crate) unsafe fn owned(&self) -> Owned<'_> {
        Owned(self)
    }
}

/// A P as its owner sees it: the only way to its owner-only side, the
/// producer end of its run queue, writes into `runnext`, and its caches
/// ([`PLocal`]). Everyone else has a plain `&P` and can only look, or steal.
/// (tokio splits its run queue the same way: `Local<T>`, "may only be used
/// from a single thread", and `Steal<T>`, "may be used from many threads".)
///
/// Made only by the unsafe [`P::owned`], where the caller says why it owns
/// the P; the methods then need no "owner only" comment, the type says it.
pub(crate) struct Owned<'a>(&'a P);

impl std::ops::Deref for Owned<'_> {
    type Target = P;

    fn deref(&self) -> &P {
        self.0
    }
}

impl<'a> Owned<'a> {
    /// The P itself, for what anyone may do with it.
    #[inline]
    pub(crate) fn p(&self) -> &'a P {
        self.0
    }

    /// Make `g` runnable on this P (Go's `runqput`).
    ///
    /// With `next`, `g` goes into `runnext` and the G that was there is
    /// kicked to the tail of the ring. A full ring sends half of itself to the
    /// global queue through `overflow`.
    pub(crate) fn runqput(&self, g: GRef, next: bool, overflow: impl FnOnce(Vec<GRef>)) {
        let mut g = g;
        if next {
            // Only the owner puts a G into runnext; a thief only takes one
            // out (a CAS from that G to null). So an empty slot stays empty
            // until we fill it, and a plain store does, without the locked
            // swap (the common case: readying a G right after the last one
            // ran, twice per channel round trip).
            if self.runnext.is_none(Ordering::Acquire) {
                self.runnext.store(Some(g), Ordering::Release);
                return;
            }
            // Swap, not store: a thief may take the old one concurrently.
            match self.runnext.swap(Some(g), Ordering::AcqRel) {
                Some(old) => g = old,
                None => return,
            }
        }
        self.runq.push_back(g, overflow);
    }

    /// The next G to run, and whether it inherits the current
    /// time slice (true for `runnext`). Go's `runqget`.
    pub(crate) fn runqget(&self) -> Option<(GRef, bool)> {
        if let Some(next) = self.runnext.swap(None, Ordering::AcqRel) {
            return Some((next, true));
        }
        self.runq.pop_front().map(|g| (g, false))
    }

    /// Steal half of `victim`'s ring into ours and return one G to run now
    /// (Go's `runqsteal`). When the ring is empty and `steal_runnext` is set,
    /// take the victim's `runnext` instead: Go does this only on the last of
    /// its four stealing rounds, to leave a producer/consumer pair alone.
    #[doc(alias = "runqsteal")]
    pub(crate) fn steal_half_from(&self, victim: &P, steal_runnext: bool) -> Option<GRef> {
        // Go's `runqgrab` is a loop: when the CAS on `runnext` fails, the
        // victim's queues changed under us, so look at them again.
        loop {
            if let Some(g) = victim.runq.steal_half_into(&self.runq) {
                return Some(g);
            }
            if !steal_runnext {
                return None;
            }
            let next = victim.runnext.load(Ordering::Acquire)?;
            if victim.status() == PStatus::Running {
                // Go sleeps ~3 us here: the victim is probably about to run
                // its runnext itself (it was just readied), and stealing it
                // would bounce it between Ms for nothing.
                crate::sync_facade::usleep(3);
            }
            // Our CAS takes it out of the victim's slot: no one else runs it.
            if victim
                .runnext
                .compare_exchange(Some(next), None, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Some(next);
            }
        }
    }

    /// Take every queued G (used when GOMAXPROCS shrinks and this
    /// P is destroyed; Go's `procresize` → `(*p).destroy`).
    pub(crate) fn drain_all(&self) -> Vec<GRef> {
        let mut out = Vec::new();
        if let Some(next) = self.runnext.swap(None, Ordering::AcqRel) {
            out.push(next);
        }
        out.extend(self.runq.drain());
        out
    }

    /// The P's caches: free Gs and stacks.
    #[inline]
    pub(crate) fn local(&mut self) -> &mut PLocal {
        // SAFETY: we own the P and this is its only `Owned` (the contract of
        // `P::owned`), and `&mut self` keeps us from holding two of these.
        unsafe { self.0.local.get() }
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
    /// Schedules in a row that ran a sleeper whose timer was due, ahead of
    /// the run queue (`Sched::ready_due_sleeper`; Go has no such count).
    pub(crate) woken_first: u32,
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
pub(crate) use stackcache::{stackalloc, stackfree};

/// The P's stack cache (Go's `mcache.stackcache`): goroutine stacks come
/// from here without a lock. Not built under loom (no stacks there).
#[cfg(not(loom))]
mod stackcache {
    use super::Owned;
    use crate::stack::Stack;

    /// Stacks moved at once between a P's cache and the global pool.
    const STACK_BATCH: usize = 32;

    /// A stack from `p`'s cache, refilled from the global pool in batches
    /// (Go's `stackalloc` / `stackcacherefill`).
    pub(crate) fn stackalloc(p: &mut Owned<'_>) -> Stack {
        let local = p.local();
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
    #[inline]
    pub(crate) fn stackfree(p: &mut Owned<'_>, stack: Stack) {
        let local = p.local();
        local.stackcache.push(stack);
        if local.stackcache.len() >= 2 * STACK_BATCH {
            spill(&mut local.stackcache);
        }
    }

    /// Keep the warm end (last), release the cold end: out of line, the
    /// rare path of `stackfree`.
    #[cold]
    #[inline(never)]
    fn spill(cache: &mut Vec<Stack>) {
        crate::stack::release(cache.drain(..STACK_BATCH));
    }
}
