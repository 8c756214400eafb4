//! The one switch between `std` and `loom`.
//!
//! Lesson idea: none of its own; it is how the course *checks* the ideas of
//! the others (the idle-M protocol, run queues, WaitGroup, channels) with
//! loom's model checker on the very same source.
//!
//! Every atomic, mutex, condition variable and thread park that the scheduler's
//! synchronization core uses (run queues, the idle/spinning M protocol,
//! WaitGroup, semaphores, deadlock accounting) is imported from here, never
//! from `std` directly. A normal build gets `std`; a build with
//! `RUSTFLAGS="--cfg loom"` gets `loom`'s instrumented copies, so the loom
//! models in `grader/tests/loom_*.rs` explore *the same source* the runtime
//! runs. (tokio keeps the same kind of facade in `src/loom/`.)
//!
//! The stack-switching executor (coroutines, the M thread loop, sysmon) is not
//! part of the loom build: loom cannot follow a stack switch. Under loom a
//! goroutine is modelled as a loom thread and parking a goroutine is a loom
//! park (see `park.rs`).
//!
//! Outside this file, what differs under loom sits behind one seam per file,
//! so the rest reads as one program:
//!
//! | file | under loom |
//! |---|---|
//! | `lib.rs` | the executor's files are not built (`proc.rs`, `stack.rs`, `sysmon.rs`, ...) |
//! | `g.rs`, `m.rs`, `p.rs` | no coroutine, no M thread loop, no stack cache |
//! | `idle.rs` | `Shutdown`: a model can stop its Ms (the runtime exits instead) |
//! | `park.rs` | no goroutines: every waiter is a (loom) thread |
//! | `trace.rs` | `enabled()` is false: every hook folds away |
//! | `runq.rs` | a 4-slot ring, so overflow is reachable |
//! | `sched.rs` | timers are not modelled |
//! | `select.rs` | a fixed poll order |

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{
        fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
        Ordering,
    },
    Arc, Condvar, Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{
        fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize,
        Ordering,
    },
    Arc, Condvar, Mutex, MutexGuard,
};

/// A cell for data guarded by a lock that lives elsewhere (a channel's state
/// under its `Mutex<()>`, a sudog's value slot). Under loom it is loom's
/// `UnsafeCell`, which checks that every access is ordered by the lock or a
/// wakeup; normally it is `std`'s. Access goes through closures, as in loom.
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(
    #[cfg(not(loom))] std::cell::UnsafeCell<T>,
    #[cfg(loom)] loom::cell::UnsafeCell<T>,
);

impl<T> UnsafeCell<T> {
    pub(crate) fn new(v: T) -> UnsafeCell<T> {
        #[cfg(not(loom))]
        return UnsafeCell(std::cell::UnsafeCell::new(v));
        #[cfg(loom)]
        return UnsafeCell(loom::cell::UnsafeCell::new(v));
    }

    /// Run `f` on a raw pointer to the value. The caller makes sure no other
    /// access can happen at the same time (it holds the guarding lock).
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(not(loom))]
        return f(self.0.get());
        #[cfg(loom)]
        return self.0.with_mut(f);
    }
}

/// Declare a constructor `const` where the facade allows it: `std`'s
/// `Mutex::new` and atomics are `const fn`, loom's are not. So the runtime
/// can have `static WG: WaitGroup = WaitGroup::new();` and the same source
/// builds under loom.
macro_rules! const_unless_loom {
    ($(#[$attr:meta])* $vis:vis fn $name:ident() -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        $vis const fn $name() -> $ret $body

        #[cfg(loom)]
        $(#[$attr])*
        $vis fn $name() -> $ret $body
    };
}
pub(crate) use const_unless_loom;

/// Sleep the OS thread for `micros` microseconds (Go's `usleep`). Loom has
/// no clock, and a model's threads are not OS threads: a no-op there.
#[inline]
pub(crate) fn usleep(micros: u64) {
    #[cfg(not(loom))]
    std::thread::sleep(std::time::Duration::from_micros(micros));
    #[cfg(loom)]
    let _ = micros;
}

/// Threads: OS threads normally, loom's simulated threads under loom.
pub(crate) mod thread {
    #[cfg(not(loom))]
    pub(crate) use std::thread::{current, park, yield_now, Thread};

    #[cfg(loom)]
    pub(crate) use loom::thread::{current, park, yield_now, Thread};
}

/// Lock a mutex, ignoring poisoning.
///
/// A panic in a goroutine ends the whole program (Go semantics), so a poisoned
/// lock is never observed by code that goes on running; this keeps call sites
/// short.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Wait on a condition variable, ignoring poisoning (see [`lock`]).
#[inline]
pub(crate) fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    match cv.wait(guard) {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A one-shot-at-a-time sleep/wake slot for an OS thread: Go's `note`
/// (`notesleep` / `notewakeup` in `runtime/lock_futex.go`).
///
/// An idle M sleeps on its note; whoever hands it a P wakes it. A wakeup that
/// arrives before the sleep is remembered, so it is never lost.
pub(crate) struct Note {
    /// `true` once `wakeup` was called and not yet consumed by `sleep`.
    woken: Mutex<bool>,
    /// Signalled by `wakeup`.
    cv: Condvar,
}

impl Note {
    pub(crate) fn new() -> Note {
        Note {
            woken: Mutex::new(false),
            cv: Condvar::new(),
        }
    }

    /// Block the calling OS thread until `wakeup` (Go's `notesleep`).
    pub(crate) fn sleep(&self) {
        let mut woken = lock(&self.woken);
        while !*woken {
            woken = wait(&self.cv, woken);
        }
        *woken = false;
    }

    /// Block the calling OS thread until `wakeup` or until the clock (see
    /// [`clock`]) reaches `deadline`, whichever comes first (Go's
    /// `notetsleep`). Returns true if woken.
    pub(crate) fn sleep_until(&self, deadline: u64) -> bool {
        let mut woken = lock(&self.woken);
        while !*woken {
            let now = clock::nanotime();
            if now >= deadline {
                return false;
            }
            #[cfg(not(loom))]
            {
                let left = std::time::Duration::from_nanos(deadline - now);
                woken = match self.cv.wait_timeout(woken, left) {
                    Ok((g, _)) => g,
                    Err(poisoned) => poisoned.into_inner().0,
                };
            }
            // The model's clock moves only by `clock::advance`, which makes
            // the sleeper look at it again (`time_out`).
            #[cfg(loom)]
            {
                woken = wait(&self.cv, woken);
            }
        }
        *woken = false;
        true
    }

    /// Under loom: the model's clock moved, and may have passed the
    /// deadline of a `sleep_until` on this note: let the sleeper look
    /// (what the kernel does for a timed wait).
    #[cfg(loom)]
    pub(crate) fn time_out(&self) {
        drop(lock(&self.woken));
        self.cv.notify_all();
    }

    /// Wake the thread sleeping on this note, or the next one to sleep
    /// (Go's `notewakeup`).
    pub(crate) fn wakeup(&self) {
        let mut woken = lock(&self.woken);
        *woken = true;
        drop(woken);
        self.cv.notify_one();
    }
}

/// The runtime's clock (Go's `nanotime`): nanoseconds since the runtime
/// started, never 0.
///
/// Normally the OS's monotonic clock (`Instant`, read through the vDSO, no
/// system call). Under loom, the model's own: it stands still until the
/// model moves it ([`advance`](clock::advance)), so time is part of what the
/// model does, replayed identically in every execution, rather than of the
/// machine. A timed sleep ([`Note::sleep_until`]) then ends when the model
/// moves the clock past its deadline.
pub(crate) mod clock {
    #[cfg(not(loom))]
    mod os {
        use std::sync::LazyLock;
        use std::time::Instant;

        /// The start of the runtime's clock.
        static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

        pub(crate) fn nanotime() -> u64 {
            EPOCH.elapsed().as_nanos() as u64 + 1
        }
    }
    #[cfg(not(loom))]
    pub(crate) use os::nanotime;

    #[cfg(loom)]
    mod model {
        use std::sync::atomic::{AtomicU64, Ordering};

        loom::lazy_static! {
            /// The model's time: a plain std atomic (reading the clock is
            /// not a synchronization), reset for every execution.
            static ref NOW: AtomicU64 = AtomicU64::new(1);
        }

        pub(crate) fn nanotime() -> u64 {
            NOW.load(Ordering::SeqCst)
        }

        /// Move the model's clock forward to `t`.
        pub(crate) fn advance(t: u64) {
            let prev = NOW.fetch_max(t, Ordering::SeqCst);
            assert!(prev <= t, "the model's clock goes backwards");
        }
    }
    #[cfg(loom)]
    pub(crate) use model::{advance, nanotime};
}

/// The channel lock: spins, yields, then sleeps (see `spin_lock.rs`, Go's
/// `lock_futex.go`).
#[cfg(not(loom))]
pub(crate) use crate::spin_lock::{SpinGuard, SpinLock};

/// Under loom the spin lock is loom's `Mutex`. Loom cannot explore a spin
/// wait shared by two threads while a third holds the lock: its scheduler
/// switches between the two spinners forever and the model runs out of
/// branches (tokio-rs/loom#53). A mutex gives the same Acquire/Release
/// ordering, so the channel code that takes the lock is checked unchanged;
/// only the dozen lines of the spin itself are not.
///
/// Its [`rank`](SpinLock::rank) is not its address either: loom replays
/// each execution from a recorded schedule, so everything but the schedule
/// must be the same in every execution, and heap addresses are not. Locks
/// are ranked by creation instead (a model creates its channels in the same
/// order every time).
#[cfg(loom)]
pub(crate) struct SpinLock {
    inner: Mutex<()>,
    rank: usize,
}

/// Holds a [`SpinLock`]; releases it when dropped.
#[cfg(loom)]
pub(crate) struct SpinGuard<'a> {
    _guard: MutexGuard<'a, ()>,
}

#[cfg(loom)]
impl SpinLock {
    pub(crate) fn new() -> SpinLock {
        /// Spin locks created so far: not part of any model (a plain std
        /// atomic), only a stable order.
        static CREATED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        SpinLock {
            inner: Mutex::new(()),
            rank: CREATED.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    pub(crate) fn lock(&self) -> SpinGuard<'_> {
        SpinGuard {
            _guard: lock(&self.inner),
        }
    }
}

/// An atomic `Option<&'static T>`: an [`AtomicPtr`] that only ever holds
/// null or a pointer made from a `&'static T`.
///
/// The runtime never frees a G, P or M (they are leaked and reused, see
/// `g.rs`), nor a `Location`, so every such pointer stays valid for the whole
/// program and can be read back as a reference. This is the one place where
/// that conversion is written; everything else stores and loads references.
/// Each operation is exactly one operation of the facade's `AtomicPtr`, so
/// loom sees the same accesses as before.
pub(crate) struct AtomicRef<T: 'static>(AtomicPtr<T>);

impl<T: 'static> AtomicRef<T> {
    /// An `AtomicRef` holding `None`.
    pub(crate) fn none() -> AtomicRef<T> {
        AtomicRef(AtomicPtr::new(std::ptr::null_mut()))
    }

    fn ptr(r: Option<&'static T>) -> *mut T {
        r.map_or(std::ptr::null_mut(), |r| (r as *const T).cast_mut())
    }

    fn reference(p: *mut T) -> Option<&'static T> {
        // SAFETY: `p` is null or was made by `ptr` from a `&'static T` (the
        // only way into this type), so it points to a live, never-freed `T`
        // that is only ever accessed through shared references.
        unsafe { p.cast_const().as_ref() }
    }

    #[inline]
    pub(crate) fn load(&self, order: Ordering) -> Option<&'static T> {
        Self::reference(self.0.load(order))
    }

    #[inline]
    pub(crate) fn store(&self, r: Option<&'static T>, order: Ordering) {
        self.0.store(Self::ptr(r), order)
    }

    #[inline]
    pub(crate) fn swap(&self, r: Option<&'static T>, order: Ordering) -> Option<&'static T> {
        Self::reference(self.0.swap(Self::ptr(r), order))
    }

    /// Replace `current` (compared by address) with `new`; `Err` holds what
    /// was there instead.
    #[inline]
    pub(crate) fn compare_exchange(
        &self,
        current: Option<&'static T>,
        new: Option<&'static T>,
        success: Ordering,
        failure: Ordering,
    ) -> Result<Option<&'static T>, Option<&'static T>> {
        self.0
            .compare_exchange(Self::ptr(current), Self::ptr(new), success, failure)
            .map(Self::reference)
            .map_err(Self::reference)
    }

    /// Is it `None`? (One load, as `load(order).is_none()`.)
    #[inline]
    pub(crate) fn is_none(&self, order: Ordering) -> bool {
        self.0.load(order).is_null()
    }
}
