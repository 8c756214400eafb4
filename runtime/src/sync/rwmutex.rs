//! RwMutex: many readers or one writer, parking goroutines (Go's
//! `sync.RWMutex`, `sync/rwmutex.go`).
//!
//! Lesson idea: as for [`Mutex`](super::Mutex), waiting takes the goroutine
//! off its M instead of blocking the thread.
//!
//! The algorithm is Go's (Go 1.19). `reader_count` counts readers; a writer
//! subtracts a large constant (`RWMUTEX_MAX_READERS`) from it, which makes
//! it negative: every reader that arrives afterwards sees a negative count
//! and parks on `reader_sem`. That is **writer preference**: once a writer
//! waits, new readers queue behind it, so a stream of readers cannot starve
//! writers. The readers that were already inside are counted into
//! `reader_wait`; the last of them to leave wakes the writer on
//! `writer_sem`. Writers exclude each other with a plain [`RawMutex`].

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};

use super::mutex::RawMutex;
use crate::g::WaitReason;
use crate::sema::Sema;
use crate::sync_facade::{AtomicI32, Ordering};

/// More readers than this at once is not supported (Go's
/// `rwmutexMaxReaders`).
const RWMUTEX_MAX_READERS: i32 = 1 << 30;

/// Seeded bug for the loom suite: a writer does not wait for the readers
/// already inside (it ignores `reader_wait`): reader and writer overlap.
const WRITER_WAITS_FOR_READERS: bool = !cfg!(loom_seeded_bugs = "rwmutex_writer_skips_readers");

/// A reader/writer lock for goroutines (Go's `sync.RWMutex`), guarding a `T`.
///
/// Any number of goroutines may hold it for reading, or one for writing. A
/// writer that waits blocks readers that arrive after it (writer
/// preference, as in Go), so `read` inside a `read` of the same goroutine
/// can deadlock when a writer came in between: do not take it recursively.
///
/// ```
/// use runtime::sync::RwMutex;
///
/// static CONFIG: RwMutex<Vec<&str>> = RwMutex::new(Vec::new());
///
/// runtime::block_on(|| {
///     CONFIG.write().push("verbose");
///     let a = CONFIG.read();
///     let b = CONFIG.read(); // readers share it
///     assert_eq!(a.len() + b.len(), 2);
/// });
/// ```
pub struct RwMutex<T: ?Sized> {
    /// Held by the writer, or by a writer waiting for readers to leave.
    w: RawMutex,
    /// Where a writer waits for the readers inside to leave.
    writer_sem: Sema,
    /// Where readers wait for the writer to finish.
    reader_sem: Sema,
    /// Readers inside or waiting; minus `RWMUTEX_MAX_READERS` while a
    /// writer holds or waits for the lock.
    reader_count: AtomicI32,
    /// Readers a waiting writer still waits for.
    reader_wait: AtomicI32,
    data: UnsafeCell<T>,
}

// SAFETY: readers get `&T` concurrently on many threads (needs `T: Sync`);
// a writer gets `&mut T`, possibly on another thread (needs `T: Send`), as
// `std::sync::RwLock`.
unsafe impl<T: ?Sized + Send> Send for RwMutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwMutex<T> {}

/// Holds an [`RwMutex`] for reading; releases it when dropped.
#[must_use = "if unused the RwMutex unlocks at once"]
pub struct RwMutexReadGuard<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
}

/// Holds an [`RwMutex`] for writing; releases it when dropped.
#[must_use = "if unused the RwMutex unlocks at once"]
pub struct RwMutexWriteGuard<'a, T: ?Sized> {
    lock: &'a RwMutex<T>,
}

// SAFETY: a read guard is a shared borrow of `T`.
unsafe impl<T: ?Sized + Sync> Send for RwMutexReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for RwMutexReadGuard<'_, T> {}
// SAFETY: a write guard is a unique borrow of `T`; unlocking from another
// thread is allowed (the lock is not thread-affine).
unsafe impl<T: ?Sized + Send> Send for RwMutexWriteGuard<'_, T> {}
// SAFETY: sharing the guard shares `&T`.
unsafe impl<T: ?Sized + Sync> Sync for RwMutexWriteGuard<'_, T> {}

impl<T> RwMutex<T> {
    /// An unlocked RwMutex holding `value`; `const`, so it can be a `static`.
    #[cfg(not(loom))]
    pub const fn new(value: T) -> RwMutex<T> {
        RwMutex {
            w: RawMutex::new(),
            writer_sem: Sema::new(),
            reader_sem: Sema::new(),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
            data: UnsafeCell::new(value),
        }
    }

    /// An unlocked RwMutex holding `value`.
    #[cfg(loom)]
    pub fn new(value: T) -> RwMutex<T> {
        RwMutex {
            w: RawMutex::new(),
            writer_sem: Sema::new(),
            reader_sem: Sema::new(),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the lock.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwMutex<T> {
    /// Lock for reading (Go's `rw.RLock()`); parks while a writer holds the
    /// lock or waits for it. A preemption point.
    #[track_caller]
    pub fn read(&self) -> RwMutexReadGuard<'_, T> {
        crate::park::preempt_point();
        if self.reader_count.fetch_add(1, Ordering::AcqRel) + 1 < 0 {
            // A writer is pending: wait for it to finish.
            self.reader_sem
                .acquire_queued(WaitReason::SyncRWMutexRLock, false);
        }
        RwMutexReadGuard { lock: self }
    }

    /// Lock for reading if no writer holds or waits for the lock (Go's
    /// `rw.TryRLock()`).
    pub fn try_read(&self) -> Option<RwMutexReadGuard<'_, T>> {
        let mut c = self.reader_count.load(Ordering::Relaxed);
        loop {
            if c < 0 {
                return None;
            }
            match self
                .reader_count
                .compare_exchange(c, c + 1, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Some(RwMutexReadGuard { lock: self }),
                Err(now) => c = now,
            }
        }
    }

    /// Go's `rw.RUnlock()`.
    fn read_unlock(&self) {
        let r = self.reader_count.fetch_sub(1, Ordering::AcqRel) - 1;
        if r < 0 {
            self.read_unlock_slow(r);
        }
    }

    /// Go's `rUnlockSlow`: a writer is pending; the last reader it waits
    /// for wakes it.
    #[cold]
    fn read_unlock_slow(&self, r: i32) {
        if r + 1 == 0 || r + 1 == -RWMUTEX_MAX_READERS {
            super::fatal("sync: RUnlock of unlocked RWMutex");
        }
        if self.reader_wait.fetch_sub(1, Ordering::AcqRel) - 1 == 0 {
            self.writer_sem.release();
        }
    }

    /// Lock for writing (Go's `rw.Lock()`): take the writers' mutex, turn
    /// new readers away, then wait for the readers inside to leave. A
    /// preemption point.
    #[track_caller]
    pub fn write(&self) -> RwMutexWriteGuard<'_, T> {
        // First, resolve competition with other writers.
        self.w.lock();
        // Announce to readers there is a pending writer.
        let r = self
            .reader_count
            .fetch_sub(RWMUTEX_MAX_READERS, Ordering::AcqRel);
        // Wait for active readers.
        if WRITER_WAITS_FOR_READERS
            && r != 0
            && self.reader_wait.fetch_add(r, Ordering::AcqRel) + r != 0
        {
            self.writer_sem
                .acquire_queued(WaitReason::SyncRWMutexLock, false);
        }
        RwMutexWriteGuard { lock: self }
    }

    /// Lock for writing if that needs no waiting (Go's `rw.TryLock()`).
    pub fn try_write(&self) -> Option<RwMutexWriteGuard<'_, T>> {
        if !self.w.try_lock() {
            return None;
        }
        if self
            .reader_count
            .compare_exchange(0, -RWMUTEX_MAX_READERS, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            self.w.unlock();
            return None;
        }
        Some(RwMutexWriteGuard { lock: self })
    }

    /// Go's `rw.Unlock()`: let the readers that queued behind us in, then
    /// the next writer.
    fn write_unlock(&self) {
        // Announce to readers there is no active writer.
        let r = self
            .reader_count
            .fetch_add(RWMUTEX_MAX_READERS, Ordering::AcqRel)
            + RWMUTEX_MAX_READERS;
        if r >= RWMUTEX_MAX_READERS {
            super::fatal("sync: Unlock of unlocked RWMutex");
        }
        // Unblock the readers that arrived while we held it.
        for _ in 0..r {
            self.reader_sem.release();
        }
        // Allow other writers to proceed.
        self.w.unlock();
    }

    /// The value, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for RwMutex<T> {
    fn default() -> Self {
        RwMutex::new(T::default())
    }
}

impl<T: ?Sized> std::fmt::Debug for RwMutex<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.reader_count.load(Ordering::Relaxed);
        f.debug_struct("RwMutex")
            .field("writer", &(c < 0))
            .field(
                "readers",
                &(if c < 0 { c + RWMUTEX_MAX_READERS } else { c }),
            )
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for RwMutexReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while a read guard exists no writer holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwMutexReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.read_unlock();
    }
}

impl<T: ?Sized> Deref for RwMutexWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: while the write guard exists nobody else holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwMutexWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and the guard is borrowed mutably.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwMutexWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.write_unlock();
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for RwMutexReadGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for RwMutexWriteGuard<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (**self).fmt(f)
    }
}
