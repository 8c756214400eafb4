//! Timers: each P keeps a heap of goroutines to wake at a given time (Go's
//! `p.timers`, `addtimer`, `checkTimers`, `runtimer` in `runtime/time.go`).
//!
//! Lesson idea: `time.Sleep` does not block the thread. The sleeping
//! goroutine parks, its wake-up time goes into its P's timer heap, and the M
//! runs other goroutines. The scheduler looks at the heaps whenever it looks
//! for work (`find_runnable`); an M with nothing else to do sleeps in the
//! kernel only *until the earliest timer* (see `Sched::timer_role`), and sysmon
//! runs timers that are overdue because every M is busy. Which M sleeps
//! until a timer, and who fires it, is the scheduler's part (`sched.rs`);
//! this file is only the heaps, so it imports nothing above `g.rs`.
//!
//! Each heap has its own small lock, and its earliest deadline is mirrored in
//! an atomic (`when`, Go's `timer0When`), so "is any timer due?" costs one
//! load on the scheduler's hot path. Timers are never cancelled (a sleeping
//! goroutine always waits its full time), so a pending timer is a promise
//! that someone will wake up: the deadlock detector counts them
//! (`Sched::pending_wakeups`).

use std::collections::BinaryHeap;

use crate::g::GRef;
use crate::sync_facade::{lock, AtomicU64, Mutex, MutexGuard, Ordering};

pub(crate) use crate::sync_facade::clock::nanotime;

/// One pending wake-up.
struct Timer {
    /// When to fire, in `nanotime`.
    when: u64,
    /// Insertion number: timers due at the same time fire in FIFO order.
    seq: u64,
    /// The sleeping goroutine.
    g: GRef,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.when, self.seq) == (other.when, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.when, other.seq).cmp(&(self.when, self.seq))
    }
}

/// The heap and its insertion counter.
pub(crate) struct Heap {
    /// Earliest first.
    heap: BinaryHeap<Timer>,
    /// Timers added so far.
    seq: u64,
}

/// A P's timers (Go's `p.timers`, `p.timersLock`, `p.timer0When`).
pub(crate) struct Timers {
    /// Guards the heap. A sleeping goroutine keeps it locked until it is
    /// parked, so a timer never fires for a half-parked goroutine.
    heap: Mutex<Heap>,
    /// Earliest `when` in the heap, 0 when empty: read without the lock.
    /// A facade atomic: the loom model `loom_timers.rs` checks that a timer
    /// published here is seen by an M deciding whether to sleep.
    when: AtomicU64,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            heap: Mutex::new(Heap {
                heap: BinaryHeap::new(),
                seq: 0,
            }),
            when: AtomicU64::new(0),
        }
    }

    /// Earliest deadline, if any (Go's `timer0When`).
    pub(crate) fn next(&self) -> Option<u64> {
        match self.when.load(Ordering::Acquire) {
            0 => None,
            t => Some(t),
        }
    }

    /// Add a timer that wakes `g` at `when` (Go's `addtimer`). Returns the
    /// locked heap: the caller parks and releases it once parked. The caller
    /// has counted the timer in `Sched::pending_wakeups` (see `time.rs`).
    pub(crate) fn add(&self, when: u64, g: GRef) -> MutexGuard<'_, Heap> {
        debug_assert!(when > 0);
        let mut h = lock(&self.heap);
        h.seq += 1;
        let seq = h.seq;
        h.heap.push(Timer { when, seq, g });
        self.publish(&h);
        h
    }

    /// Mirror the heap's earliest deadline in `when`. Heap lock held.
    fn publish(&self, h: &Heap) {
        let first = h.heap.peek().map_or(0, |t| t.when);
        self.when.store(first, Ordering::Release);
    }

    /// Fire every timer due at `now` (Go's `checkTimers` / `runtimer`):
    /// hand each one's goroutine to `ready`, which makes it runnable (the
    /// scheduler's `ready_pending`). Returns how many fired.
    pub(crate) fn run_due(&self, now: u64, mut ready: impl FnMut(GRef)) -> usize {
        let mut fired = 0;
        loop {
            match self.next() {
                Some(t) if t <= now => {}
                _ => return fired,
            }
            let mut h = lock(&self.heap);
            let timer = match h.heap.peek() {
                Some(t) if t.when <= now => h.heap.pop(),
                _ => None,
            };
            self.publish(&h);
            drop(h);
            let Some(timer) = timer else { return fired };
            // The timer's goroutine is parked (it released the heap lock
            // only once parked): ready it.
            ready(timer.g);
            fired += 1;
        }
    }
}
