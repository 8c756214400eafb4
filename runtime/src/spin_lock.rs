//! The channel lock: spin a little, then sleep in the kernel until the
//! holder wakes us (Go's `lock2`/`unlock2` in `runtime/lock_futex.go`, which
//! Go's channels use through `lock(&c.lock)`).
//!
//! Lesson idea: a lock held for a few dozen instructions is best waited for
//! by spinning, since the holder is about to release it. But the holder can
//! be *descheduled* by the OS while it holds the lock (its time slice ended,
//! a woken thread took its core). A waiter that keeps spinning then burns
//! its time slice for nothing, and stays on its core, where it may be the
//! very thread keeping the holder from running. So the spinning is bounded:
//! four rounds of 30 `PAUSE`s (Go's `active_spin`, `procyield(30)`), then
//! sleep on a futex until the release wakes us. Sleeping also lets the
//! kernel place the waiter again when it wakes, on a free core if there is
//! one.
//!
//! # Where we differ from Go
//!
//! - **No `osyield` round.** Between spinning and sleeping, Go's `lock2`
//!   calls `sched_yield` once (`passive_spin`). We do not. On Linux since
//!   6.6 (the EEVDF scheduler), `sched_yield` pushes the caller's virtual
//!   deadline back by a whole slice (`yield_task_fair`): on a busy core the
//!   waiter, which holds a P and the goroutine that the other side of the
//!   channel waits for, then waits behind every other runnable thread for
//!   milliseconds. Measured at GOMAXPROCS=2 (ping-pong, see README,
//!   Performance): with the yield, every contended acquisition of this
//!   machine's run ended in it, and the idle M was woken and parked four to
//!   five times as often; without it, fewer OS context switches than Go.
//!   The spin lock this replaces yielded only, and never slept.
//! - **A release without a locked instruction.** Go's `unlock2` is an atomic
//!   swap, so it always learns whether someone sleeps. A swap is a full
//!   barrier, and a channel round trip releases four channel locks: ~10 %
//!   of the 1-P ping-pong on this machine. Our release reads the word and,
//!   when no waiter marked it `SLEEPING`, releases with a plain store; when
//!   one did, it takes Go's path (swap, wake one).
//!
//! The one race the plain store leaves: a waiter marks the word `SLEEPING`
//! between the holder's load (which read `LOCKED`) and its store. The store
//! overwrites `SLEEPING` and wakes no one. The window is two instructions,
//! but a holder descheduled right inside it (its time slice ended, an
//! interrupt) stretches it to its whole time off the CPU; the unit test
//! below, eight threads on two cores, meets it. So a waiter never sleeps
//! longer than [`SLEEP_BOUND`] (1 ms) before it looks again: the race adds
//! at most that to a wait that was long already (the waiter had to wait for
//! the descheduled holder anyway), and never loses progress. (macOS has no
//! futex: there the sleep is a short nap, see `os/macos.rs`.)
//!
//! Under loom the lock is loom's `Mutex` (see `sync_facade.rs`): the models
//! check the channel code that takes it, not these lines.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Free.
const UNLOCKED: u32 = 0;
/// Held, and no waiter went to sleep since it was taken.
const LOCKED: u32 = 1;
/// Held, and a waiter may be asleep on the word: the release must wake one.
const SLEEPING: u32 = 2;

/// Rounds of active spinning (Go's `active_spin`), each of
/// [`ACTIVE_SPIN_CNT`] CPU pauses (Go's `active_spin_cnt`, `procyield(30)`).
const ACTIVE_SPIN: u32 = 4;
const ACTIVE_SPIN_CNT: u32 = 30;

/// The longest a waiter sleeps before it looks at the lock again (see the
/// module doc: it bounds the cost of the release race; a normal wakeup
/// comes from the release well before).
const SLEEP_BOUND: Duration = Duration::from_millis(1);

/// A lock for critical sections of a few dozen instructions: the channel
/// lock (Go's `runtime.mutex` as used by `hchan.lock`).
pub(crate) struct SpinLock {
    key: AtomicU32,
    /// A test's own sleep bound (see `a_sleeping_waiter_is_woken_by_the_release`).
    #[cfg(test)]
    sleep_bound: Duration,
}

/// Holds a [`SpinLock`]; releases it when dropped.
pub(crate) struct SpinGuard<'a> {
    lock: &'a SpinLock,
}

impl SpinLock {
    pub(crate) fn new() -> SpinLock {
        SpinLock {
            key: AtomicU32::new(UNLOCKED),
            #[cfg(test)]
            sleep_bound: SLEEP_BOUND,
        }
    }

    /// How long a waiter sleeps at most before it looks again.
    #[inline]
    fn sleep_bound(&self) -> Duration {
        #[cfg(test)]
        return self.sleep_bound;
        #[cfg(not(test))]
        SLEEP_BOUND
    }

    /// Where this lock stands in the global lock order: code that holds
    /// several at once (`select!`) takes them in increasing rank. Its
    /// address, as Go's `sellock` sorts channels by address.
    pub(crate) fn rank(&self) -> usize {
        self as *const SpinLock as usize
    }

    /// Take the lock (Go's `lock2`): one compare-and-swap when it is free.
    #[inline]
    pub(crate) fn lock(&self) -> SpinGuard<'_> {
        if self
            .key
            .compare_exchange_weak(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    /// The rest of Go's `lock2`: spin, then sleep, and retry after each
    /// (without Go's `osyield` round: see the module doc).
    #[cold]
    #[inline(never)]
    fn lock_contended(&self) {
        // Once we have slept, we take the lock as `SLEEPING`: other waiters
        // may still sleep, and our release must wake the next one (Go's
        // `wait` variable).
        let mut wait = LOCKED;
        // Spinning only helps if the holder runs on another CPU (Go: `if
        // ncpu > 1`).
        let spin = if ncpu() > 1 { ACTIVE_SPIN } else { 0 };
        loop {
            for _ in 0..spin {
                if self.try_take(wait) {
                    return;
                }
                for _ in 0..ACTIVE_SPIN_CNT {
                    std::hint::spin_loop();
                }
            }
            // Sleep: mark the word so that the release wakes us.
            if self.key.swap(SLEEPING, Ordering::Acquire) == UNLOCKED {
                // It was free: we hold it now, as `SLEEPING`, which is
                // conservative (the release may wake someone for nothing).
                return;
            }
            wait = SLEEPING;
            crate::os::futex_wait(&self.key, SLEEPING, self.sleep_bound());
        }
    }

    /// Take the lock if it is free right now, leaving `wait` in the word.
    /// Test before test-and-set: the load keeps the cache line shared while
    /// the holder works.
    #[inline]
    fn try_take(&self, wait: u32) -> bool {
        self.key.load(Ordering::Relaxed) == UNLOCKED
            && self
                .key
                .compare_exchange(UNLOCKED, wait, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    /// Release a lock that a waiter may be sleeping on (Go's `unlock2`).
    #[cold]
    #[inline(never)]
    fn unlock_sleeping(&self) {
        if self.key.swap(UNLOCKED, Ordering::Release) == SLEEPING {
            crate::os::futex_wake(&self.key);
        }
    }
}

/// CPUs this process may use, read once (Go's `ncpu`, set at start-up).
fn ncpu() -> usize {
    static NCPU: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *NCPU.get_or_init(crate::os::cpu_count)
}

impl Drop for SpinGuard<'_> {
    /// Release: a plain store unless a waiter may sleep (see the module
    /// doc for the race this leaves, and why it is bounded).
    #[inline]
    fn drop(&mut self) {
        let key = &self.lock.key;
        if key.load(Ordering::Relaxed) == LOCKED {
            key.store(UNLOCKED, Ordering::Release);
        } else {
            self.lock.unlock_sleeping();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Many threads increment a counter that only the lock protects, on more
    /// threads than cores, so that holders are descheduled mid-section (and
    /// mid-release) and waiters go all the way to sleeping: every increment
    /// must count, and every waiter must get through.
    #[test]
    fn excludes_under_contention_and_wakes_sleepers() {
        struct Shared {
            lock: SpinLock,
            count: std::cell::UnsafeCell<u64>,
        }
        // SAFETY: `count` is only touched with `lock` held.
        unsafe impl Sync for Shared {}
        let shared = Arc::new(Shared {
            lock: SpinLock::new(),
            count: std::cell::UnsafeCell::new(0),
        });
        let threads = 8;
        let per = 20_000;
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let s = Arc::clone(&shared);
                std::thread::spawn(move || {
                    for _ in 0..per {
                        let _g = s.lock.lock();
                        // SAFETY: we hold the lock.
                        unsafe { *s.count.get() += 1 };
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let _g = shared.lock.lock();
        // SAFETY: we hold the lock, and every other thread has finished.
        assert_eq!(unsafe { *shared.count.get() }, threads * per);
        assert_eq!(shared.lock.key.load(Ordering::Relaxed), LOCKED);
    }

    /// A waiter that went to sleep is woken by the release, not by its
    /// sleep bound (a minute here), and takes the lock as `SLEEPING`, so
    /// that its own release takes Go's path too. The holder releases only
    /// once the word says `SLEEPING`, so the race of the module doc cannot
    /// happen: a release that forgot the wakeup leaves the waiter asleep
    /// past the watchdog.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_sleeping_waiter_is_woken_by_the_release() {
        let lock = Arc::new(SpinLock {
            sleep_bound: Duration::from_secs(60),
            ..SpinLock::new()
        });
        let guard = lock.lock();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        {
            let lock = Arc::clone(&lock);
            std::thread::spawn(move || {
                let _g = lock.lock();
                done_tx.send(lock.key.load(Ordering::Relaxed)).unwrap();
            });
        }
        // Wait until the waiter has marked the word: it is past spinning,
        // asleep or about to be.
        while lock.key.load(Ordering::Relaxed) != SLEEPING {
            std::thread::yield_now();
        }
        drop(guard);
        let seen = done_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the release did not wake the sleeping waiter");
        assert_eq!(seen, SLEEPING);
        // The waiter's own release found `SLEEPING` and swapped it away.
        while lock.key.load(Ordering::Relaxed) != UNLOCKED {
            std::thread::yield_now();
        }
    }
}
