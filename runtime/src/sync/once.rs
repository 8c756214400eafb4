//! Once, OnceLock and LazyLock: run an initialisation exactly once, parking
//! the goroutines that arrive meanwhile (Go's `sync.Once`, `sync/once.go`,
//! and `sync.OnceValue`).
//!
//! Lesson idea: as for [`Mutex`](super::Mutex). `std::sync::Once`,
//! `OnceLock` and `LazyLock` block the *OS thread* of a second caller while
//! the first one initialises: if the initialiser waits for the runtime (a
//! `time::sleep`, a channel) and both goroutines share one P, the M that
//! should run the first one is the one blocked, and the program hangs.
//! These park the second goroutine instead.
//!
//! Go's `Once` is a `done` flag and a Mutex: the fast path is one atomic load
//! of `done`; the slow path takes the mutex, checks `done` again, runs `f`
//! and only *then* sets `done` (Go's comment: "Do guarantees that when it
//! returns, f has finished", which is why `done` cannot be set by a
//! compare-and-swap before `f` runs).
//!
//! Where we differ: Go's `Once.Do` counts a call whose `f` panicked as done;
//! so does our [`Once`]. [`OnceLock`] and [`LazyLock`] hold a value, which a
//! panicking initialiser never produced: `OnceLock` stays empty (the next
//! caller tries again, as `std`'s does), `LazyLock` panics on later use (its
//! initialiser was consumed), as `std`'s poisoned `LazyLock` does.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ops::Deref;

use super::mutex::RawMutex;
use crate::sync_facade::{AtomicU32, Ordering};

/// Seeded bug for the loom suite: Go's "incorrect implementation of Do"
/// (`sync/once.go`): claim `done` with a compare-and-swap *before* running
/// `f`, so a second caller may return before `f` has finished.
const DONE_AFTER_F: bool = !cfg!(loom_seeded_bugs = "once_done_before_f");

/// Runs a function exactly once (Go's `sync.Once`).
///
/// ```
/// use runtime::sync::Once;
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// static INIT: Once = Once::new();
/// static RUNS: AtomicU32 = AtomicU32::new(0);
///
/// runtime::block_on(|| {
///     for _ in 0..3 {
///         INIT.call_once(|| {
///             runtime::time::sleep(std::time::Duration::from_millis(1));
///             RUNS.fetch_add(1, Ordering::Relaxed);
///         });
///     }
/// });
/// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
/// ```
pub struct Once {
    /// 1 once `f` has returned (or panicked).
    done: AtomicU32,
    /// Held by the caller running `f`; later callers park on it.
    m: RawMutex,
}

impl Default for Once {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Once {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Once")
            .field("done", &self.is_completed())
            .finish()
    }
}

/// Sets `done` when dropped: after `f` returns *or* panics (Go's
/// `defer atomic.StoreUint32(&o.done, 1)`).
struct SetDone<'a>(&'a AtomicU32);

impl Drop for SetDone<'_> {
    fn drop(&mut self) {
        self.0.store(1, Ordering::Release);
    }
}

/// Unlocks a [`RawMutex`] when dropped (Go's `defer m.Unlock()`).
struct Unlock<'a>(&'a RawMutex);

impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl Once {
    /// A Once that has not run; `const`, so it can be a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> Once {
        Once {
            done: AtomicU32::new(0),
            m: RawMutex::new(),
        }
    }

    /// A Once that has not run.
    #[cfg(loom)]
    pub fn new() -> Once {
        Once {
            done: AtomicU32::new(0),
            m: RawMutex::new(),
        }
    }

    /// Run `f` if no call of `call_once` on this `Once` has run its
    /// function yet (Go's `once.Do(f)`). When it returns, that function has
    /// finished, whichever goroutine ran it; callers that arrive while it
    /// runs park until it does.
    ///
    /// As in Go, a panicking `f` counts as done, and calling `call_once`
    /// on the same `Once` from inside `f` deadlocks.
    #[doc(alias = "Do")]
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if !DONE_AFTER_F {
            if self
                .done
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                f();
            }
            return;
        }
        if self.done.load(Ordering::Acquire) == 0 {
            // Outlined so the fast path can be inlined (Go: `doSlow`).
            self.call_once_slow(f);
        }
    }

    #[cold]
    #[track_caller]
    fn call_once_slow<F: FnOnce()>(&self, f: F) {
        self.m.lock();
        let _unlock = Unlock(&self.m);
        if self.done.load(Ordering::Relaxed) == 0 {
            let _done = SetDone(&self.done);
            f();
        }
    }

    /// Has a `call_once` function finished? (Go has no such method.)
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire) != 0
    }
}

/// A value initialised once, by the first goroutine that asks (Go's
/// `sync.OnceValue`; `std::sync::OnceLock` for goroutines).
///
/// ```
/// use runtime::sync::OnceLock;
///
/// static TABLE: OnceLock<Vec<u32>> = OnceLock::new();
///
/// let sum = runtime::block_on(|| {
///     let t = TABLE.get_or_init(|| {
///         runtime::gosched(); // may park: others wait without blocking the M
///         (1..=4).collect()
///     });
///     t.iter().sum::<u32>()
/// });
/// assert_eq!(sum, 10);
/// ```
pub struct OnceLock<T> {
    /// 1 once `value` is written.
    done: AtomicU32,
    /// Held by the goroutine running the initialiser.
    m: RawMutex,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, by one goroutine, under `m`, before
// `done` is published with Release; readers see it only after an Acquire
// load of `done`, and only ever get `&T`. So sharing needs `T: Sync` (many
// readers) and `T: Send` (written on one thread, dropped on another), as
// `std::sync::OnceLock`.
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}
// SAFETY: moving the lock moves the value.
unsafe impl<T: Send> Send for OnceLock<T> {}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("OnceLock").field(&self.get()).finish()
    }
}

impl<T> OnceLock<T> {
    /// An empty cell; `const`, so it can be a `static`.
    #[cfg(not(loom))]
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            done: AtomicU32::new(0),
            m: RawMutex::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// An empty cell.
    #[cfg(loom)]
    pub fn new() -> OnceLock<T> {
        OnceLock {
            done: AtomicU32::new(0),
            m: RawMutex::new(),
            value: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The value, if it is initialised. Never waits.
    pub fn get(&self) -> Option<&T> {
        if self.done.load(Ordering::Acquire) != 0 {
            // SAFETY: `done` is set only after the value was written, and
            // the Acquire load orders that write before this read.
            Some(unsafe { (*self.value.get()).assume_init_ref() })
        } else {
            None
        }
    }

    /// The value, running `f` to make it if nobody has. Goroutines that
    /// arrive while another runs `f` park until it finishes. If `f` panics
    /// the cell stays empty and the next caller runs its own `f`.
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        self.init_slow(f)
    }

    #[cold]
    #[track_caller]
    fn init_slow<F: FnOnce() -> T>(&self, f: F) -> &T {
        self.m.lock();
        let _unlock = Unlock(&self.m);
        if self.done.load(Ordering::Relaxed) == 0 {
            let v = f();
            // SAFETY: we hold `m` and `done` is 0: nobody reads or writes
            // the value.
            unsafe { (*self.value.get()).write(v) };
            self.done.store(1, Ordering::Release);
        }
        // SAFETY: `done` is 1 (set above, or before we took `m`, which
        // orders it before us).
        unsafe { (*self.value.get()).assume_init_ref() }
    }

    /// Store `value` if the cell is empty; otherwise give it back.
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("taken once"));
        match value {
            None => Ok(()),
            Some(v) => Err(v),
        }
    }

    /// The value, consuming the cell.
    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }

    /// Take the value out, leaving the cell empty (a unique borrow: no
    /// locking needed).
    pub fn take(&mut self) -> Option<T> {
        // (Plain loads and stores: `&mut self` excludes everyone else; loom's
        // atomics have no `get_mut`.)
        if self.done.load(Ordering::Relaxed) == 0 {
            return None;
        }
        self.done.store(0, Ordering::Relaxed);
        // SAFETY: `done` was 1, so the value is initialised; we cleared it,
        // so it will not be read or dropped again.
        Some(unsafe { self.value.get_mut().assume_init_read() })
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        drop(self.take());
    }
}

/// A value initialised on first use by a function (std's `LazyLock` for
/// goroutines; Go writes `var v = sync.OnceValue(f)`).
///
/// ```
/// use runtime::sync::LazyLock;
///
/// static SQUARES: LazyLock<Vec<u64>> = LazyLock::new(|| (0..10).map(|i| i * i).collect());
///
/// assert_eq!(runtime::block_on(|| SQUARES[3]), 9);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    /// The initialiser, taken by the goroutine that runs it (under the
    /// cell's mutex).
    init: UnsafeCell<Option<F>>,
}

// SAFETY: `init` is only touched under the cell's mutex, by one goroutine,
// which may be on any thread (needs `F: Send`); the value as in `OnceLock`.
unsafe impl<T: Send + Sync, F: Send> Sync for LazyLock<T, F> {}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value that `f` will make on first use; `const`, so it can be
    /// a `static`.
    #[cfg(not(loom))]
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init: UnsafeCell::new(Some(f)),
        }
    }

    /// A lazy value that `f` will make on first use.
    #[cfg(loom)]
    pub fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init: UnsafeCell::new(Some(f)),
        }
    }

    /// The value, making it if this is the first use.
    #[track_caller]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            // SAFETY: we run under the cell's mutex (inside `get_or_init`'s
            // initialiser), so nobody else touches `init`.
            let f = unsafe { (*this.init.get()).take() };
            match f {
                Some(f) => f(),
                None => panic!("runtime::sync::LazyLock: its initializer panicked earlier"),
            }
        })
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;
    #[track_caller]
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: std::fmt::Debug, F> std::fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LazyLock").field(&self.cell.get()).finish()
    }
}
