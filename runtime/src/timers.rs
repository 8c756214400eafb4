//! Timers: each P keeps a heap of goroutines to wake at a given time (Go's
//! `p.timers`, `addtimer`, `checkTimers`, `runtimer` in `runtime/time.go`).
//!
//! Lesson idea: `time.Sleep` does not block the thread. The sleeping
//! goroutine parks, its wake-up time goes into its P's timer heap, and the M
//! runs other goroutines. The scheduler looks at the heaps whenever it looks
//! for work (`find_runnable`); an M with nothing else to do sleeps in the
//! kernel only *until the earliest timer* (see `Sched::stopm`), and sysmon
//! runs timers that are overdue because every M is busy.
//!
//! Each heap has its own small lock, and its earliest deadline is mirrored in
//! an atomic (`when`, Go's `timer0When`), so "is any timer due?" costs one
//! load on the scheduler's hot path. Timers are never cancelled (a sleeping
//! goroutine always waits its full time), so a pending timer is a promise
//! that someone will wake up: the deadlock detector counts them
//! (`Sched::pending_wakeups`).

use std::collections::BinaryHeap;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use crate::g::GRef;
use crate::m::M;
use crate::p::P;
use crate::sched::Sched;
use crate::sync_facade::{lock, Mutex, MutexGuard};
use std::sync::atomic::Ordering;

/// The start of the runtime's clock.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The runtime's clock: nanoseconds since the runtime's epoch, never 0 (Go's
/// `nanotime`). `Instant::now` reads the vDSO clock, no system call.
pub(crate) fn nanotime() -> u64 {
    EPOCH.elapsed().as_nanos() as u64 + 1
}

/// The `Instant` of a `nanotime` value.
pub(crate) fn instant_of(t: u64) -> Instant {
    *EPOCH + Duration::from_nanos(t.saturating_sub(1))
}

/// What an M going idle does about timers (see [`Sched::timer_role`]).
pub(crate) enum TimerRole {
    /// No timer needs it: sleep on the idle list.
    None,
    /// A timer is overdue: take this idle P and fire it.
    RunNow(&'static P),
    /// Sleep until this `nanotime` as the timer M.
    SleepUntil(u64),
}

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
    /// A plain `std` atomic even under loom: timers are not part of the
    /// models (`time.rs` is not built there), so the scheduler's "any timer
    /// due?" checks must cost the models nothing. The heap lock orders
    /// everything that matters.
    when: std::sync::atomic::AtomicU64,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers {
            heap: Mutex::new(Heap {
                heap: BinaryHeap::new(),
                seq: 0,
            }),
            when: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Earliest deadline, if any (Go's `timer0When`).
    pub(crate) fn next(&self) -> Option<u64> {
        match self.when.load(Ordering::Acquire) {
            0 => None,
            t => Some(t),
        }
    }

    /// Add a timer that wakes `g` at `when` (Go's `addtimer`), counted in
    /// `pending_wakeups` until it fires. Returns the locked heap: the caller
    /// parks and releases it once parked.
    pub(crate) fn add(&self, sched: &Sched, when: u64, g: GRef) -> MutexGuard<'_, Heap> {
        debug_assert!(when > 0);
        // Count the promise before the sleeper can be seen asleep.
        sched.add_pending_wakeup();
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
    /// each wakes its goroutine into `p`'s `runnext` (the caller's P), or
    /// onto the global queue when the caller has no P (sysmon). Returns how
    /// many fired.
    pub(crate) fn run_due(&self, sched: &Sched, p: Option<&'static P>, now: u64) -> usize {
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
            // only once parked): ready it, then retire the promise.
            sched.ready_pending(timer.g, p);
            fired += 1;
        }
    }
}

impl Sched {
    /// The earliest timer over every P, dead Ps included (Go's
    /// `timeSleepUntil`).
    pub(crate) fn next_timer(&self) -> Option<u64> {
        // Timers are not modelled under loom: scanning `allp` there would
        // only add interleavings to every model of the idle protocol.
        if cfg!(loom) {
            return None;
        }
        self.allps().filter_map(|p| p.timers.next()).min()
    }

    /// Fire the due timers of every P (Go's `checkTimers` over `allp`, done
    /// by a stealing M and by sysmon), readying their goroutines into `p`.
    /// Returns how many fired.
    pub(crate) fn run_all_timers(&self, p: Option<&'static P>, now: u64) -> usize {
        if cfg!(loom) {
            return 0; // see `next_timer`
        }
        self.allps().map(|t| t.timers.run_due(self, p, now)).sum()
    }

    /// What an M about to go idle should do about timers (part of Go's
    /// `findrunnable`): sleep until the earliest one as the timer M, if
    /// there are timers and no M watches them yet; fire overdue ones itself
    /// with an idle P; or nothing (idle list, sleep until woken).
    pub(crate) fn timer_role(&self, m: &'static M) -> TimerRole {
        if self.next_timer().is_none() {
            // The common case; a timer added right now finds no timer M and
            // calls `wakep`, as it would with no timer M at all.
            return TimerRole::None;
        }
        // Read the timers again under the lock: `wake_timer_sleeper` publishes a
        // new timer before it takes the lock to look for a timer M, so either
        // we see the new timer or it sees us.
        let mut locked = self.lock();
        if locked.timer_m.is_some() {
            return TimerRole::None;
        }
        let Some(next) = self.next_timer() else {
            return TimerRole::None;
        };
        if next > nanotime() {
            locked.timer_m = Some((m, next));
            return TimerRole::SleepUntil(next);
        }
        match self.pidleget(&mut locked) {
            Some(p) => TimerRole::RunNow(p),
            // Every P is busy; they (or sysmon) will fire it.
            None => TimerRole::None,
        }
    }

    /// Sleep as the timer M until `until` or until woken for an earlier
    /// timer (`wake_timer_sleeper`), and give up the role. Leaves `m`'s
    /// note clean, so its next sleep is a real one.
    pub(crate) fn timer_m_sleep(&self, m: &'static M, until: u64) {
        if m.note.sleep_until(instant_of(until)) {
            // `wake_timer_sleeper` cleared the role before waking us.
            return;
        }
        let mut locked = self.lock();
        match locked.timer_m {
            Some((tm, _)) if std::ptr::eq(tm, m) => locked.timer_m = None,
            // Timed out just as `wake_timer_sleeper` took the role away: its
            // wakeup is on the way; take it now.
            _ => {
                drop(locked);
                m.note.sleep();
            }
        }
    }

    /// A timer due at `when` was added: make sure some M will be awake to
    /// fire it (Go's `wakeNetPoller`). If an M sleeps until a later time, wake
    /// it so it sleeps again with the new deadline; if none is sleeping on
    /// the timers, wake an idle P's M.
    pub(crate) fn wake_timer_sleeper(&self, when: u64) {
        let mut locked = self.lock();
        match locked.timer_m {
            Some((m, until)) if when < until => {
                locked.timer_m = None;
                drop(locked);
                m.note.wakeup();
            }
            Some(_) => {}
            None => {
                drop(locked);
                self.wakep();
            }
        }
    }
}
