//! Timers: each P keeps a heap of things to do at a given time (Go's
//! `p.timers`, `addtimer`, `deltimer`, `modtimer`, `checkTimers`,
//! `runtimer`, `cleantimers`, `clearDeletedTimers` in `runtime/time.go`).
//!
//! Lesson idea: `time.Sleep` does not block the thread. The sleeping
//! goroutine parks, its wake-up time goes into its P's timer heap, and the M
//! runs other goroutines. The scheduler looks at the heaps whenever it looks
//! for work (`find_runnable`); an M with nothing else to do sleeps in the
//! kernel only *until the earliest timer* (see `Sched::timer_role`), and sysmon
//! runs timers that are overdue because every M is busy. Which M sleeps
//! until a timer, and who fires it, is the scheduler's part (`sched.rs`);
//! this file is only the heaps and the timers' states, so it imports nothing
//! above `g.rs`.
//!
//! A heap holds two kinds of entries:
//! - a sleeping goroutine (`time::sleep`): it is readied when due, and never
//!   cancelled (a sleeper always waits its full time);
//! - a [`RTimer`] (Go's runtime `timer`, behind `time::Timer`, `time::after`,
//!   `time::after_func`): when due it runs its function from the scheduler
//!   (Go's `sendTime`, `goFunc`), and it can be stopped or reset.
//!
//! A stopped timer is not searched for in the heap: as Go's `deltimer` marks
//! it `timerDeleted` and leaves it where it is, ours bumps the timer's
//! generation, which makes its heap entry *dead* (the entry remembers the
//! generation it was added with). Dead entries are dropped when they reach
//! the top of the heap (Go's `cleantimers`) and all at once when they make
//! up more than a quarter of it (Go's `clearDeletedTimers`). A reset adds a
//! fresh entry and kills the old one the same way (Go's `modtimer` moves the
//! timer inside its heap instead; the effect is the same).
//!
//! Each heap has its own small lock, and its earliest live deadline is
//! mirrored in an atomic (`when`, Go's `timer0When`), so "is any timer due?"
//! costs one load on the scheduler's hot path. Every *armed* timer, and every
//! sleeper, is a promise that someone will wake up: the deadlock detector
//! counts them (`Sched::pending_wakeups`); stopping a timer withdraws its
//! promise, so a program whose only timer was stopped can deadlock, as in Go.

use std::collections::BinaryHeap;

use crate::g::GRef;
use crate::sync_facade::{lock, Arc, AtomicRef, AtomicU64, Mutex, MutexGuard, Ordering};

pub(crate) use crate::sync_facade::clock::nanotime;

/// Seeded bug for the loom suite: `disarm` checks the armed bit and then
/// stores the disarmed state, instead of one compare-and-swap. A firing
/// that claims the timer in between runs its function, and the stop still
/// reports `true`: the caller believes it stopped a timer that fired.
const DISARM_BY_CAS: bool = !cfg!(loom_seeded_bugs = "timer_stop_check_then_store");

/// What an entry does when due.
enum What {
    /// Ready this sleeping goroutine.
    Wake(GRef),
    /// Run this timer, if it still carries this token (see [`RTimer`]).
    Timer(Arc<RTimer>, u64),
}

/// One heap entry.
struct Entry {
    /// When to fire, in `nanotime`.
    when: u64,
    /// Insertion number: timers due at the same time fire in FIFO order.
    seq: u64,
    what: What,
}

impl Entry {
    /// A stopped or reset timer's old entry (Go's `timerDeleted`).
    fn is_dead(&self) -> bool {
        match &self.what {
            What::Wake(_) => false,
            What::Timer(t, token) => !t.carries(*token),
        }
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.when, self.seq) == (other.when, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the earliest first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.when, other.seq).cmp(&(self.when, self.seq))
    }
}

/// The heap, its insertion counter, and how many of its entries are dead.
pub(crate) struct Heap {
    /// Earliest first.
    heap: BinaryHeap<Entry>,
    /// Entries added so far.
    seq: u64,
    /// Dead entries still in `heap`, about (Go's `deletedTimers`): a stop
    /// racing with the firing of the same entry may count it once too
    /// often, which only makes the next sweep come a little early.
    dead: usize,
}

impl Heap {
    fn push(&mut self, when: u64, what: What) {
        self.seq += 1;
        let seq = self.seq;
        self.heap.push(Entry { when, seq, what });
    }

    /// Drop the dead entries at the top (Go's `cleantimers`), so that the
    /// published deadline is a live timer's.
    fn clean_top(&mut self) {
        while self.heap.peek().is_some_and(Entry::is_dead) {
            self.heap.pop();
            self.dead = self.dead.saturating_sub(1);
        }
    }

    /// Drop every dead entry once they are more than a quarter of the heap
    /// (Go's `clearDeletedTimers`, called from `checkTimers` under the same
    /// condition): a loop that arms and stops long timers would otherwise
    /// grow the heap without bound.
    fn sweep_if_mostly_dead(&mut self) {
        if self.dead * 4 > self.heap.len() {
            self.heap.retain(|e| !e.is_dead());
            self.dead = 0;
        }
    }
}

/// What [`Timers::run_due`] hands the scheduler.
pub(crate) enum Due {
    /// A sleeper to ready.
    Wake(GRef),
    /// A timer whose function must run; it is already disarmed.
    Timer(Arc<RTimer>),
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
                dead: 0,
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
        h.push(when, What::Wake(g));
        self.publish(&mut h);
        h
    }

    /// Mirror the heap's earliest live deadline in `when`. Heap lock held.
    fn publish(&self, h: &mut Heap) {
        h.clean_top();
        let first = h.heap.peek().map_or(0, |t| t.when);
        self.when.store(first, Ordering::Release);
    }

    /// An entry of this heap died (its timer was stopped or reset): count
    /// it, and drop it at once if it was the earliest (Go's `deltimer`
    /// leaves that to the next `cleantimers`; we do it here so that an M
    /// sleeping until the earliest timer sees the new deadline).
    fn entry_died(&self) {
        let mut h = lock(&self.heap);
        h.dead += 1;
        h.sweep_if_mostly_dead();
        self.publish(&mut h);
    }

    /// Fire the timers due at `now`, earliest first, at most `max` of them
    /// (Go's `checkTimers` / `runtimer` fire them all): hand each sleeper
    /// and each timer to `fire` (the scheduler readies the sleeper, runs
    /// the timer's function). A timer is disarmed under the heap lock
    /// before it is handed out, so a `stop` racing with it either wins (the
    /// timer does not fire) or reports `false`. Returns how many fired.
    pub(crate) fn run_due(&self, now: u64, max: usize, mut fire: impl FnMut(Due)) -> usize {
        let mut fired = 0;
        while fired < max {
            match self.next() {
                Some(t) if t <= now => {}
                _ => return fired,
            }
            let mut h = lock(&self.heap);
            let due = match h.heap.peek() {
                Some(t) if t.when <= now => h.heap.pop(),
                _ => None,
            };
            let due = match due.map(|e| e.what) {
                None => None,
                Some(What::Wake(g)) => Some(Due::Wake(g)),
                Some(What::Timer(t, token)) => {
                    if t.claim(token) {
                        Some(Due::Timer(t))
                    } else {
                        // Stopped after `publish` looked at it.
                        h.dead = h.dead.saturating_sub(1);
                        self.publish(&mut h);
                        continue;
                    }
                }
            };
            self.publish(&mut h);
            drop(h);
            let Some(due) = due else { return fired };
            // A sleeper is parked (it released the heap lock only once
            // parked); a timer was disarmed above: act on it.
            fire(due);
            fired += 1;
        }
        fired
    }
}

/// A cancellable timer (Go's runtime `timer`, the `r` inside a
/// `time.Timer`): a function to run at a time, which can be stopped and
/// reset. The function runs on the scheduler, not in a goroutine, so it
/// must not block: `time::after`'s sends without blocking (Go's
/// `sendTime`), `time::after_func`'s starts a goroutine (Go's `goFunc`).
///
/// Its state is one word: a generation number and an *armed* bit. Arming
/// bumps the generation and sets the bit, and the heap entry it adds keeps
/// that word as its token; the entry is live only while the timer's word
/// still equals its token. Stopping bumps the generation and clears the
/// bit; firing clears the bit (the claim, a compare-and-swap from the
/// token); either makes every entry of the timer dead. One atomic word is
/// enough to decide every race between stop, reset and firing: exactly one
/// compare-and-swap succeeds against a given armed state.
pub(crate) struct RTimer {
    /// `generation << 1 | armed`.
    state: AtomicU64,
    /// The heap holding the live entry, if any (where a stop counts a dead
    /// entry).
    heap: AtomicRef<Timers>,
    /// What to do when it fires (Go's `timer.f`).
    f: Box<dyn Fn() + Send + Sync>,
}

impl RTimer {
    pub(crate) fn new(f: Box<dyn Fn() + Send + Sync>) -> Arc<RTimer> {
        Arc::new(RTimer {
            state: AtomicU64::new(0),
            heap: AtomicRef::none(),
            f,
        })
    }

    /// Is an entry with this token live?
    fn carries(&self, token: u64) -> bool {
        self.state.load(Ordering::Acquire) == token
    }

    /// Firing: disarm the timer if its live entry is still `token`.
    fn claim(&self, token: u64) -> bool {
        self.state
            .compare_exchange(token, token & !1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Is the timer armed (not yet fired, not stopped)?
    pub(crate) fn is_armed(&self) -> bool {
        self.state.load(Ordering::Acquire) & 1 == 1
    }

    /// Arm the timer to fire at `when` on `heap` (Go's `modtimer`, and
    /// `addtimer` for a new timer). Returns whether it was armed before (Go's
    /// `pending`): then its old entry dies. The caller keeps the count of
    /// pending wake-ups right (one per armed timer).
    ///
    /// (An associated function rather than a method: under loom `Arc` is
    /// loom's, which cannot be a `self` type.)
    pub(crate) fn arm(this: &Arc<RTimer>, heap: &'static Timers, when: u64) -> bool {
        debug_assert!(when > 0);
        let mut cur = this.state.load(Ordering::Acquire);
        let token = loop {
            let next = (((cur >> 1) + 1) << 1) | 1;
            match this
                .state
                .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break next,
                Err(now) => cur = now,
            }
        };
        let old = this.heap.swap(Some(heap), Ordering::AcqRel);
        if cur & 1 == 1 {
            if let Some(old) = old {
                old.entry_died();
            }
        }
        let mut h = lock(&heap.heap);
        h.push(when, What::Timer(this.clone(), token));
        heap.publish(&mut h);
        cur & 1 == 1
    }

    /// Disarm the timer (Go's `deltimer`). Returns whether it was armed:
    /// `true` means it will not fire (its function has not run and will
    /// not run for this arming); `false`, that it already fired or was
    /// stopped.
    pub(crate) fn disarm(&self) -> bool {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if cur & 1 == 0 {
                return false;
            }
            let next = ((cur >> 1) + 1) << 1;
            if !DISARM_BY_CAS {
                self.state.store(next, Ordering::Release);
                break;
            }
            match self
                .state
                .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        if let Some(heap) = self.heap.load(Ordering::Acquire) {
            heap.entry_died();
        }
        true
    }

    /// Run the timer's function (Go's `runOneTimer` calling `f`).
    pub(crate) fn run(&self) {
        (self.f)()
    }
}
