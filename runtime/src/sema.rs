//! A counting semaphore that parks goroutines (Go's `runtime/sema.go`,
//! `semacquire` / `semrelease`), the primitive under WaitGroup.
//!
//! Lesson idea: the WaitGroup "is also called Asynchronous Counting
//! Semaphore": `Wait` holds the program until the count goes back to zero,
//! and a goroutine held there is parked, not spinning (see `park.rs`).
//!
//! Go's version hashes the semaphore's address into a table of wait trees;
//! ours keeps the waiters beside the count, under one small lock. A release
//! with a waiter hands the unit straight to that waiter (FIFO), so a woken
//! goroutine never has to compete for it again.

use std::collections::VecDeque;

use crate::g::WaitReason;
use crate::park::{park, Waiter};
use crate::sync_facade::{const_unless_loom, lock, Mutex};

/// A semaphore whose waiters are goroutines (or threads).
pub struct Sema {
    state: Mutex<SemaState>,
}

struct SemaState {
    /// Units available.
    count: u32,
    /// Parked acquirers, oldest first.
    waiters: VecDeque<Waiter>,
}

impl Default for Sema {
    fn default() -> Self {
        Self::new()
    }
}

impl Sema {
    const_unless_loom! {
        /// A semaphore with no units.
        pub fn new() -> Sema {
            Sema {
                state: Mutex::new(SemaState {
                    count: 0,
                    waiters: VecDeque::new(),
                }),
            }
        }
    }

    /// Take a unit, parking until one is released (Go's `semacquire`).
    #[track_caller]
    pub fn acquire(&self, reason: WaitReason) {
        self.acquire_queued(reason, false);
    }

    /// Take a unit; if none is available, wait at the *front* of the queue
    /// when `lifo` (Go's `semacquire1(addr, lifo, ...)`): `sync.Mutex` puts
    /// a waiter that was already woken once and lost the race back first in
    /// line, so it is not overtaken by every newcomer.
    #[track_caller]
    pub fn acquire_queued(&self, reason: WaitReason, lifo: bool) {
        // Before the lock: see `implicit_syscall.rs`.
        let rt = crate::implicit_syscall::enter();
        let mut st = lock(&self.state);
        if st.count > 0 {
            st.count -= 1;
            return;
        }
        let me = Waiter::of(rt.g());
        if lifo {
            st.waiters.push_front(me.clone());
        } else {
            st.waiters.push_back(me.clone());
        }
        park(&me, st, reason);
    }

    /// Release a unit: wake the oldest waiter, or bank the unit (Go's
    /// `semrelease`).
    pub fn release(&self) {
        let _rt = crate::implicit_syscall::enter();
        let mut st = lock(&self.state);
        match st.waiters.pop_front() {
            Some(w) => {
                drop(st);
                w.wake();
            }
            None => st.count += 1,
        }
    }

    /// Number of parked waiters.
    pub fn waiters(&self) -> usize {
        lock(&self.state).waiters.len()
    }
}
