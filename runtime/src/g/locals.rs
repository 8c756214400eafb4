//! The G's table of goroutine-local values (the storage behind
//! [`goroutine_local!`](crate::goroutine_local); see `goroutine_local.rs`
//! for why it exists). It lives with the G, so it imports nothing above it.

use std::any::Any;
use std::cell::UnsafeCell;

/// The values of one goroutine, by key. Raw pointers (from `Box::into_raw`)
/// rather than boxes, so that growing the table never touches a value a
/// caller still borrows.
pub(crate) struct Locals(UnsafeCell<Vec<Option<*mut (dyn Any + Send)>>>);

// SAFETY: a G's table is only touched by the goroutine itself (through
// `current_g`, on whichever M runs it) and by the code that ends it on its
// own stack; the values are `Send`, and the G moves between Ms with the
// Release/Acquire ordering of the run queues.
unsafe impl Sync for Locals {}
// SAFETY: as above.
unsafe impl Send for Locals {}

impl Locals {
    pub(crate) fn new() -> Locals {
        Locals(UnsafeCell::new(Vec::new()))
    }

    /// The value under `key`, made by `init` if this goroutine has none yet.
    ///
    /// # Safety
    /// Called by the goroutine that owns this table, while it runs.
    pub(crate) unsafe fn get_or_init<T: Send + 'static>(
        &self,
        key: usize,
        init: fn() -> T,
    ) -> *const T {
        // SAFETY: per the contract, nobody else touches the table now; the
        // reference ends before `init` runs (which may use other keys).
        let found = unsafe { (&*self.0.get()).get(key).copied().flatten() };
        let ptr = match found {
            Some(p) => p,
            None => {
                let fresh: *mut (dyn Any + Send) = Box::into_raw(Box::new(init()));
                // SAFETY: as above; `init` has returned.
                let table = unsafe { &mut *self.0.get() };
                if table.len() <= key {
                    table.resize(key + 1, None);
                }
                if table[key].is_some() {
                    // SAFETY: `fresh` came from `Box::into_raw` just above.
                    drop(unsafe { Box::from_raw(fresh) });
                    panic!("goroutine_local!: its initializer used the same key");
                }
                table[key] = Some(fresh);
                fresh
            }
        };
        // SAFETY: the value under this key was made by `GoroutineLocal<T>`
        // with this key, so it is a `T`; it lives until the goroutine ends.
        let any: &(dyn Any + Send) = unsafe { &*ptr };
        any.downcast_ref::<T>()
            .expect("goroutine_local!: key of another type") as *const T
    }

    /// Drop every value, on the goroutine's own stack when it returns. A
    /// `Drop` that uses another goroutine-local makes a new value: repeat
    /// until none is left (as `thread_local!` destructors do).
    ///
    /// # Safety
    /// Called by the goroutine that owns this table, after its function
    /// returned: no reference to a value is alive.
    #[inline]
    pub(crate) unsafe fn drop_all(&self) {
        // Most goroutines use no goroutine-local: a length check, no more.
        // SAFETY: per the contract.
        if unsafe { (&*self.0.get()).is_empty() } {
            return;
        }
        // SAFETY: per the contract.
        unsafe { self.drop_all_slow() }
    }

    /// # Safety
    /// As [`drop_all`](Self::drop_all).
    #[cold]
    unsafe fn drop_all_slow(&self) {
        for _ in 0..8 {
            // SAFETY: per the contract; the table is taken out before any
            // value's `Drop` runs, so a `Drop` that uses a local starts a
            // fresh table.
            let taken = std::mem::take(unsafe { &mut *self.0.get() });
            if taken.iter().all(Option::is_none) {
                // Keep the allocation for the next goroutine on this G.
                // SAFETY: as above.
                let table = unsafe { &mut *self.0.get() };
                if table.is_empty() {
                    *table = taken;
                    table.clear();
                }
                return;
            }
            for p in taken.into_iter().flatten() {
                // SAFETY: each pointer came from `Box::into_raw` and is in
                // no table any more.
                drop(unsafe { Box::from_raw(p) });
            }
        }
        // SAFETY: as above.
        if unsafe { (&*self.0.get()).iter().any(Option::is_some) } {
            panic!("goroutine_local!: values still being created while the goroutine ends");
        }
    }
}
