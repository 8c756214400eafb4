//! WaitGroup: wait for a collection of goroutines to finish (Go's
//! `sync.WaitGroup`, `sync/waitgroup.go`).
//!
//! Lesson idea: "we must always maintain an account of running goroutines".
//! A WaitGroup is a counting semaphore turned around: `add` raises the count
//! of goroutines we are waiting for, `done` lowers it, `wait` parks until it
//! reaches zero.
//!
//! The counter and the number of waiters share one 64-bit atomic, as in Go:
//! the high 32 bits are the counter, the low 32 bits the waiters. Packing
//! them lets `wait` register itself with a single compare-and-swap that fails
//! if the counter changed meanwhile, so a waiter can never register after the
//! last `done` and sleep forever.

use crate::g::WaitReason;
use crate::sema::Sema;
use crate::sync_facade::{const_unless_loom, AtomicU64, Ordering};

/// Seeded bug for the loom suite: `done` publishes its decrement with Relaxed,
/// so what the goroutine wrote before `done` may be invisible after `wait`.
const DONE_ORDERING: Ordering = if cfg!(loom_seeded_bugs = "waitgroup_relaxed") {
    Ordering::Relaxed
} else {
    Ordering::AcqRel
};

/// Seeded bug for the loom suite: the last `done` wakes one waiter too few.
const WAKE_ALL: bool = !cfg!(loom_seeded_bugs = "waitgroup_lost_wakeup");

/// Waits for a collection of goroutines to finish.
///
/// Usable as a `static` with [`WaitGroup::new`], like Go's zero value, or
/// shared through an `Arc`.
///
/// ```
/// use runtime::WaitGroup;
/// use std::sync::atomic::{AtomicUsize, Ordering};
///
/// static WG: WaitGroup = WaitGroup::new();
/// static SUM: AtomicUsize = AtomicUsize::new(0);
///
/// runtime::block_on(|| {
///     for i in 1..=10 {
///         WG.add(1);
///         runtime::go(move || {
///             SUM.fetch_add(i, Ordering::Relaxed);
///             WG.done();
///         });
///     }
///     WG.wait();
/// });
/// assert_eq!(SUM.load(Ordering::Relaxed), 55);
/// ```
pub struct WaitGroup {
    /// Counter in the high 32 bits, waiter count in the low 32 bits.
    state: AtomicU64,
    /// Where waiters park.
    sema: Sema,
}

impl Default for WaitGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (counter, waiters) = split(self.state.load(Ordering::Relaxed));
        f.debug_struct("WaitGroup")
            .field("counter", &counter)
            .field("waiters", &waiters)
            .finish()
    }
}

fn split(state: u64) -> (i32, u32) {
    ((state >> 32) as i32, state as u32)
}

impl WaitGroup {
    const_unless_loom! {
        /// A WaitGroup with a zero counter; `const`, so it can be a `static`.
        pub fn new() -> WaitGroup {
            WaitGroup {
                state: AtomicU64::new(0),
                sema: Sema::new(),
            }
        }
    }

    /// Add `delta` (which may be negative) to the counter (Go's `wg.Add`).
    /// When it reaches zero, every goroutine blocked in [`wait`](Self::wait)
    /// is released.
    ///
    /// # Panics
    /// `sync: negative WaitGroup counter` if the counter goes below zero, and
    /// `sync: WaitGroup misuse: Add called concurrently with Wait` when `add`
    /// from zero races with `wait`, as in Go.
    #[track_caller]
    pub fn add(&self, delta: i32) {
        self.add_with(delta, Ordering::AcqRel);
    }

    /// Decrement the counter by one (Go's `wg.Done`).
    ///
    /// # Panics
    /// `sync: negative WaitGroup counter` when called more times than added.
    #[track_caller]
    pub fn done(&self) {
        self.add_with(-1, DONE_ORDERING);
    }

    #[track_caller]
    fn add_with(&self, delta: i32, order: Ordering) {
        crate::park::preempt_point();
        let state = self
            .state
            .fetch_add(((delta as i64) << 32) as u64, order)
            .wrapping_add(((delta as i64) << 32) as u64);
        let (v, w) = split(state);
        if v < 0 {
            panic!("sync: negative WaitGroup counter");
        }
        if w != 0 && delta > 0 && v == delta {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        if v > 0 || w == 0 {
            return;
        }
        // The counter is 0 and there are waiters. Nobody may change the state
        // now: adds must not happen concurrently with the last done, and
        // waiters only register while the counter is non-zero.
        if self.state.load(Ordering::Acquire) != state {
            panic!("sync: WaitGroup misuse: Add called concurrently with Wait");
        }
        // Reset the waiter count to 0 and release every waiter.
        self.state.store(0, Ordering::Release);
        let wake = if WAKE_ALL { w } else { w - 1 };
        for _ in 0..wake {
            self.sema.release();
        }
    }

    /// Park until the counter is zero (Go's `wg.Wait`).
    ///
    /// # Panics
    /// `sync: WaitGroup is reused before previous Wait has returned` when
    /// `add` is called again before every waiter of the previous round woke.
    #[track_caller]
    pub fn wait(&self) {
        crate::park::preempt_point();
        loop {
            let state = self.state.load(Ordering::Acquire);
            let (v, _) = split(state);
            if v == 0 {
                return;
            }
            // Register as a waiter; fails if the counter moved meanwhile.
            if self
                .state
                .compare_exchange(state, state + 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.sema.acquire(WaitReason::Semacquire);
                if self.state.load(Ordering::Acquire) != 0 {
                    panic!("sync: WaitGroup is reused before previous Wait has returned");
                }
                return;
            }
        }
    }

    /// The current counter (for tests and lessons; Go has no such method).
    pub fn counter(&self) -> i32 {
        split(self.state.load(Ordering::Acquire)).0
    }
}

// The waiter-count half of the state must never be touched by `add`.
const _: () = assert!(((-1i64 << 32) as u64) & 0xffff_ffff == 0);
