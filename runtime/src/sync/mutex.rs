//! Mutex: mutual exclusion that parks the goroutine, never the M (Go's
//! `sync.Mutex`, `sync/mutex.go`).
//!
//! Lesson idea: a goroutine that must wait "is taken off the M" so another
//! can run. `std::sync::Mutex` blocks the *OS thread*: on one P, a goroutine
//! that waits for a lock held by a goroutine of the same P blocks the only M
//! that could run the holder, and the program hangs. This one parks the
//! goroutine on a semaphore (`sema.rs`) like every other runtime wait, so
//! the holder runs and unlocks.
//!
//! The algorithm is Go's, line for line (`sync/mutex.go`, Go 1.19). All the
//! state is one 32-bit word: bit 0 *locked*, bit 1 *woken* (an unlocker
//! already woke a waiter, do not wake another), bit 2 *starving*, and the
//! number of parked waiters above them. Two modes:
//!
//! - **Normal**: waiters queue FIFO, but a woken waiter does not own the
//!   lock; it competes with goroutines that just arrived, which usually win
//!   (they are already running). A woken waiter that loses goes back to the
//!   *front* of the queue.
//! - **Starvation**: a waiter that has waited more than 1 ms switches the
//!   mutex to starvation mode. Unlock then hands the lock straight to the
//!   first waiter; newcomers do not even try, they queue at the tail. The
//!   mode ends when the last waiter is served or one waited less than 1 ms.
//!
//! Normal mode is much faster (a goroutine can take the lock many times in a
//! row); starvation mode bounds how long anyone waits.
//!
//! Where we differ from Go: Go's `lockSlow` spins a few rounds first on a
//! multicore machine when other Ps are running (`runtime_canSpin`); we park
//! at once (a spin is an optimisation, the protocol is the same). Go's
//! starvation handoff also yields the unlocker's time slice to the waiter
//! (`semrelease1(handoff=true)` → `goyield`); ours puts the waiter in the
//! unlocker's `runnext`, where it runs at the unlocker's next scheduling
//! point. Under loom, where there is no clock, "waited more than 1 ms"
//! becomes "was woken and lost the race", so the models reach starvation
//! mode in a few steps.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};

use crate::g::WaitReason;
use crate::sema::Sema;
use crate::sync_facade::{AtomicI32, Ordering};

/// Bit 0: the mutex is locked (Go's `mutexLocked`).
const MUTEX_LOCKED: i32 = 1;
/// Bit 1: a waiter was woken and is on its way (Go's `mutexWoken`).
const MUTEX_WOKEN: i32 = 2;
/// Bit 2: starvation mode, ownership is handed off (Go's `mutexStarving`).
const MUTEX_STARVING: i32 = 4;
/// The waiter count starts at bit 3 (Go's `mutexWaiterShift`).
const MUTEX_WAITER_SHIFT: u32 = 3;
/// Waiting longer than this switches to starvation mode (Go's
/// `starvationThresholdNs`, 1 ms).
#[cfg(not(loom))]
const STARVATION_THRESHOLD: std::time::Duration = std::time::Duration::from_millis(1);

/// Seeded bug for the loom suite: `unlock` finds waiters and marks one
/// woken, but forgets to release the semaphore: the waiter sleeps forever.
const UNLOCK_WAKES: bool = !cfg!(loom_seeded_bugs = "mutex_unlock_no_wake");

/// Seeded bug for the loom suite: in starvation mode `unlock` forgets to
/// hand the lock to the first waiter, which sleeps forever (proves the
/// model reaches starvation mode at all).
const STARVING_HANDOFF: bool = !cfg!(loom_seeded_bugs = "mutex_starving_no_handoff");

/// Seeded bug for the loom suite: the uncontended `unlock` publishes with
/// Relaxed, so what the holder wrote is not ordered before the next `lock`.
const UNLOCK_ORDERING: Ordering = if cfg!(loom_seeded_bugs = "mutex_unlock_relaxed") {
    Ordering::Relaxed
} else {
    Ordering::Release
};

/// When a waiter started waiting, to decide whether it is starving.
#[derive(Clone, Copy)]
struct WaitStart {
    #[cfg(not(loom))]
    at: std::time::Instant,
}

impl WaitStart {
    fn now() -> WaitStart {
        WaitStart {
            #[cfg(not(loom))]
            at: std::time::Instant::now(),
        }
    }

    /// Called after each wakeup: has this waiter waited too long? (Go:
    /// `runtime_nanotime()-waitStartTime > starvationThresholdNs`.) Under
    /// loom, which has no clock, every waiter that was woken counts as
    /// starving; it only switches the mutex to starvation mode if it then
    /// finds the lock taken, i.e. it was woken and lost the race.
    fn starving(&self) -> bool {
        #[cfg(not(loom))]
        return self.at.elapsed() > STARVATION_THRESHOLD;
        #[cfg(loom)]
        return true;
    }
}

/// The lock itself, without the data: Go's `sync.Mutex`. `RwMutex` and
/// `Once` are built on it too.
pub(crate) struct RawMutex {
    /// Locked, woken and starving bits, and the waiter count above them.
    state: AtomicI32,
    /// Where waiters park; a release is a wakeup (or, in starvation mode,
    /// the handoff of the lock itself).
    sema: Sema,
}

impl RawMutex {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> RawMutex {
        RawMutex {
            state: AtomicI32::new(0),
            sema: Sema::new(),
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> RawMutex {
        RawMutex {
            state: AtomicI32::new(0),
            sema: Sema::new(),
        }
    }

    /// Go's `Mutex.Lock`: one compare-and-swap when nobody holds it.
    #[inline]
    #[track_caller]
    pub(crate) fn lock(&self) {
        crate::park::preempt_point();
        if self
            .state
            .compare_exchange(0, MUTEX_LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    /// Go's `Mutex.TryLock`: never waits; fails in starvation mode, where
    /// the lock belongs to the first waiter.
    pub(crate) fn try_lock(&self) -> bool {
        let old = self.state.load(Ordering::Relaxed);
        if old & (MUTEX_LOCKED | MUTEX_STARVING) != 0 {
            return false;
        }
        self.state
            .compare_exchange(
                old,
                old | MUTEX_LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Go's `Mutex.lockSlow`.
    #[cold]
    #[track_caller]
    fn lock_slow(&self) {
        let mut wait_start: Option<WaitStart> = None;
        let mut starving = false;
        let mut awoke = false;
        let mut old = self.state.load(Ordering::Relaxed);
        loop {
            // (Go spins here while the holder runs on another P; see the
            // module doc.)
            let mut new = old;
            // Don't try to take a starving mutex: it belongs to the waiters.
            if old & MUTEX_STARVING == 0 {
                new |= MUTEX_LOCKED;
            }
            if old & (MUTEX_LOCKED | MUTEX_STARVING) != 0 {
                new += 1 << MUTEX_WAITER_SHIFT;
            }
            // Switch to starvation mode, but only if the mutex is locked: an
            // unlocked mutex in starvation mode would wait for an Unlock that
            // never comes.
            if starving && old & MUTEX_LOCKED != 0 {
                new |= MUTEX_STARVING;
            }
            if awoke {
                // We were woken from sleep: reset the flag either way.
                if new & MUTEX_WOKEN == 0 {
                    super::fatal("sync: inconsistent mutex state");
                }
                new &= !MUTEX_WOKEN;
            }
            match self
                .state
                .compare_exchange(old, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Err(now) => old = now,
                Ok(_) => {
                    if old & (MUTEX_LOCKED | MUTEX_STARVING) == 0 {
                        return; // locked with the CAS
                    }
                    // Waited before: to the front of the queue.
                    let lifo = wait_start.is_some();
                    let start = wait_start.get_or_insert_with(WaitStart::now);
                    self.sema.acquire_queued(WaitReason::SyncMutexLock, lifo);
                    starving = starving || start.starving();
                    old = self.state.load(Ordering::Acquire);
                    if old & MUTEX_STARVING != 0 {
                        // Handed off to us: the state is inconsistent (not
                        // locked, our waiter still counted); fix it.
                        if old & (MUTEX_LOCKED | MUTEX_WOKEN) != 0 || old >> MUTEX_WAITER_SHIFT == 0
                        {
                            super::fatal("sync: inconsistent mutex state");
                        }
                        let mut delta = MUTEX_LOCKED - (1 << MUTEX_WAITER_SHIFT);
                        if !starving || old >> MUTEX_WAITER_SHIFT == 1 {
                            // Leave starvation mode: we waited little, or
                            // we are the last waiter.
                            delta -= MUTEX_STARVING;
                        }
                        self.state.fetch_add(delta, Ordering::AcqRel);
                        return;
                    }
                    awoke = true;
                }
            }
        }
    }

    /// Go's `Mutex.Unlock`: one atomic add when nobody waits.
    ///
    /// Like Go, a mutex is not tied to a goroutine: one goroutine may lock
    /// it and another unlock it.
    #[inline]
    pub(crate) fn unlock(&self) {
        let new = self
            .state
            .fetch_sub(MUTEX_LOCKED, UNLOCK_ORDERING)
            .wrapping_sub(MUTEX_LOCKED);
        if new != 0 {
            self.unlock_slow(new);
        }
    }

    /// Go's `Mutex.unlockSlow`.
    #[cold]
    fn unlock_slow(&self, new: i32) {
        if (new + MUTEX_LOCKED) & MUTEX_LOCKED == 0 {
            super::fatal("sync: unlock of unlocked mutex");
        }
        if new & MUTEX_STARVING != 0 {
            // Starvation mode: hand the lock to the first waiter. It finds
            // the locked bit clear and sets it itself; newcomers see the
            // starving bit and queue behind it.
            if STARVING_HANDOFF {
                self.sema.release();
            }
            return;
        }
        let mut old = new;
        loop {
            // Nobody to wake, or someone is already woken or took the lock:
            // nothing to do.
            if old >> MUTEX_WAITER_SHIFT == 0
                || old & (MUTEX_LOCKED | MUTEX_WOKEN | MUTEX_STARVING) != 0
            {
                return;
            }
            // Take one waiter off the count and wake it.
            let new = (old - (1 << MUTEX_WAITER_SHIFT)) | MUTEX_WOKEN;
            match self
                .state
                .compare_exchange(old, new, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if UNLOCK_WAKES {
                        self.sema.release();
                    }
                    return;
                }
                Err(now) => old = now,
            }
        }
    }

    /// Is the mutex locked now? (For `Debug`; a snapshot.)
    fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) & MUTEX_LOCKED != 0
    }
}

/// A mutual exclusion lock for goroutines (Go's `sync.Mutex`), guarding a
/// `T`. Waiting parks the goroutine, so the M runs others meanwhile; use it
/// instead of `std::sync::Mutex` inside goroutines.
///
/// `lock` returns a guard; dropping the guard unlocks (Go's `defer
/// mu.Unlock()`), also when a panic unwinds through it. There is no
/// poisoning, as in Go. The guard may be held across runtime calls and may
/// be dropped on another thread or goroutine.
///
/// ```
/// use runtime::sync::Mutex;
/// use runtime::WaitGroup;
///
/// static COUNTER: Mutex<u64> = Mutex::new(0);
/// static WG: WaitGroup = WaitGroup::new();
///
/// runtime::block_on(|| {
///     for _ in 0..10 {
///         WG.add(1);
///         runtime::go(|| {
///             for _ in 0..100 {
///                 let mut n = COUNTER.lock();
///                 let seen = *n;
///                 runtime::gosched(); // another goroutine runs: it waits for us
///                 *n = seen + 1;
///             }
///             WG.done();
///         });
///     }
///     WG.wait();
/// });
/// assert_eq!(*COUNTER.lock(), 1000);
/// ```
pub struct Mutex<T: ?Sized> {
    pub(crate) raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one holder at a time, possibly on
// another thread than the one that created it: that needs `T: Send` only
// (as `std::sync::Mutex`).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above; sharing the mutex shares access to `T` one holder at a
// time, never concurrently.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

/// Holds a [`Mutex`]; unlocks it when dropped.
#[must_use = "if unused the Mutex unlocks at once"]
pub struct MutexGuard<'a, T: ?Sized> {
    pub(crate) lock: &'a Mutex<T>,
}

// SAFETY: a guard gives `&T`/`&mut T`; sending it to another thread is
// moving the `&mut T` (needs `T: Send`); unlocking from another thread is
// allowed (the lock is not thread-affine, as Go's is not).
unsafe impl<T: ?Sized + Send> Send for MutexGuard<'_, T> {}
// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`; `const`, so it can be a `static`.
    #[cfg(not(loom))]
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// An unlocked mutex holding `value`.
    #[cfg(loom)]
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the mutex.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Lock, parking the goroutine until the mutex is free (Go's
    /// `mu.Lock()`). A preemption point.
    ///
    /// Locking a mutex the caller already holds waits forever, as in Go
    /// (and the deadlock detector reports it, `[sync.Mutex.Lock]`).
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock();
        MutexGuard { lock: self }
    }

    /// Lock if that needs no waiting (Go's `mu.TryLock()`).
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_lock().then(|| MutexGuard { lock: self })
    }

    /// The value, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mutex")
            .field("locked", &self.raw.is_locked())
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while the lock is held.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while the lock is held, and is
        // borrowed mutably.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.unlock();
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}
