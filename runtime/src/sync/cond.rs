//! Cond: wait for a condition under a [`Mutex`], parking the goroutine
//! (Go's `sync.Cond`, `sync/cond.go`, and the runtime's `notifyList` in
//! `runtime/sema.go`).
//!
//! Lesson idea: as for [`Mutex`]. `std::sync::Condvar` blocks the OS thread;
//! this parks the goroutine.
//!
//! Go's notify list is a ticket dispenser: `wait` takes the next ticket
//! (an atomic increment of `wait`) *before* it unlocks the mutex, then
//! parks until its ticket is served; `signal` serves the oldest unserved
//! ticket, `broadcast` serves them all. Taking the ticket before unlocking
//! is what makes a `signal` sent between the unlock and the park count: the
//! ticket is already out, so `signal` serves it, and the waiter that finds
//! its ticket served when it comes to park does not park at all.

use std::collections::VecDeque;

use super::mutex::{Mutex, MutexGuard};
use crate::g::WaitReason;
use crate::park::{park, Waiter};
use crate::sync_facade::{lock, AtomicU32, Mutex as Lock, Ordering};

/// Seeded bug for the loom suite: `wait` unlocks the mutex *before* taking
/// its ticket, so a `signal` sent in between finds no ticket to serve and
/// is lost (the bug the ticket scheme exists to prevent).
const TICKET_BEFORE_UNLOCK: bool = !cfg!(loom_seeded_bugs = "cond_ticket_after_unlock");

/// Go's `notifyList`.
struct NotifyList {
    /// Next ticket to hand out (Go's `wait`); incremented without the lock.
    wait: AtomicU32,
    /// Serving state, under a lock.
    inner: Lock<Served>,
}

struct Served {
    /// Next ticket to serve (Go's `notify`): every ticket below it is served.
    notify: u32,
    /// Parked waiters and their tickets, oldest first.
    waiters: VecDeque<(u32, Waiter)>,
}

/// Is ticket `a` older than `b`, wrapping around (Go's `less`).
fn less(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl NotifyList {
    #[cfg(not(loom))]
    const fn new() -> NotifyList {
        NotifyList {
            wait: AtomicU32::new(0),
            inner: Lock::new(Served {
                notify: 0,
                waiters: VecDeque::new(),
            }),
        }
    }

    #[cfg(loom)]
    fn new() -> NotifyList {
        NotifyList {
            wait: AtomicU32::new(0),
            inner: Lock::new(Served {
                notify: 0,
                waiters: VecDeque::new(),
            }),
        }
    }

    /// Take a ticket (Go's `notifyListAdd`).
    fn add(&self) -> u32 {
        self.wait.fetch_add(1, Ordering::AcqRel)
    }

    /// Park until ticket `t` is served (Go's `notifyListWait`).
    #[track_caller]
    fn wait(&self, t: u32) {
        // Before the lock: see `implicit_syscall.rs`.
        let rt = crate::implicit_syscall::enter();
        let mut st = lock(&self.inner);
        if less(t, st.notify) {
            return; // served between add and here
        }
        let me = Waiter::of(rt.g());
        st.waiters.push_back((t, me.clone()));
        park(&me, st, WaitReason::SyncCondWait);
    }

    /// Serve the oldest ticket (Go's `notifyListNotifyOne`).
    fn notify_one(&self) {
        // (Go first compares `wait` and `notify` without the lock, a fast
        // path we skip: our lock is uncontended in the common case.)
        let _rt = crate::implicit_syscall::enter();
        let mut st = lock(&self.inner);
        let t = st.notify;
        // No ticket handed out since the last notify: nobody to wake.
        if t == self.wait.load(Ordering::Acquire) {
            return;
        }
        st.notify = t.wrapping_add(1);
        // The waiter holding ticket t may not have parked yet; then it
        // finds its ticket served and does not park.
        if let Some(i) = st.waiters.iter().position(|(ticket, _)| *ticket == t) {
            let (_, w) = st.waiters.remove(i).expect("index in range");
            drop(st);
            w.wake();
        }
    }

    /// Serve every ticket handed out (Go's `notifyListNotifyAll`).
    fn notify_all(&self) {
        let _rt = crate::implicit_syscall::enter();
        let mut st = lock(&self.inner);
        let all: Vec<Waiter> = st.waiters.drain(..).map(|(_, w)| w).collect();
        st.notify = self.wait.load(Ordering::Acquire);
        drop(st);
        for w in all {
            w.wake();
        }
    }
}

/// A condition variable for goroutines (Go's `sync.Cond`), used with a
/// [`runtime::sync::Mutex`](Mutex).
///
/// As in Go, a woken `wait` must re-check its condition in a loop: another
/// goroutine may have taken the mutex first and changed the state.
///
/// ```
/// use runtime::sync::{Cond, Mutex};
///
/// static READY: Mutex<bool> = Mutex::new(false);
/// static COND: Cond = Cond::new();
///
/// runtime::block_on(|| {
///     runtime::go(|| {
///         *READY.lock() = true;
///         COND.broadcast();
///     });
///     let mut ready = READY.lock();
///     while !*ready {
///         ready = COND.wait(ready);
///     }
/// });
/// ```
pub struct Cond {
    notify: NotifyList,
}

impl Default for Cond {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Cond {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cond").finish_non_exhaustive()
    }
}

impl Cond {
    /// A condition variable; `const`, so it can be a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Cond {
        Cond {
            notify: NotifyList::new(),
        }
    }

    /// A condition variable.
    #[cfg(loom)]
    pub fn new() -> Cond {
        Cond {
            notify: NotifyList::new(),
        }
    }

    /// Unlock the mutex of `guard`, park until [`signal`](Self::signal) or
    /// [`broadcast`](Self::broadcast), lock it again and return its guard
    /// (Go's `c.Wait()`).
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex: &'a Mutex<T> = guard.lock;
        // The guard's unlock is done by hand below, in Go's order.
        std::mem::forget(guard);
        let ticket = if TICKET_BEFORE_UNLOCK {
            let t = self.notify.add();
            mutex.raw.unlock();
            t
        } else {
            mutex.raw.unlock();
            self.notify.add()
        };
        self.notify.wait(ticket);
        mutex.raw.lock();
        MutexGuard { lock: mutex }
    }

    /// Like [`wait`](Self::wait), in a loop while `condition` holds.
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Wake one goroutine waiting on this Cond, the one that waited longest
    /// (Go's `c.Signal()`). Holding the mutex is allowed, not required.
    #[doc(alias = "notify_one")]
    pub fn signal(&self) {
        self.notify.notify_one();
    }

    /// Wake every goroutine waiting on this Cond (Go's `c.Broadcast()`).
    #[doc(alias = "notify_all")]
    pub fn broadcast(&self) {
        self.notify.notify_all();
    }
}
