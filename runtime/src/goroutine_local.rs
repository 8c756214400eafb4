//! Goroutine-local storage: what `thread_local!` is for threads, keyed on
//! the G instead of the M.
//!
//! Lesson idea: a goroutine is not a thread. It may resume on another OS
//! thread (M) after any runtime call, so a `thread_local!` is the wrong
//! place for per-goroutine state, and worse than wrong: LLVM computes a
//! thread-local's address once per function and reuses it across calls
//! (llvm#98479), so a function that touches a `thread_local!` and also
//! calls into the runtime may, after a switch, use the *previous* M's slot
//! while that M runs another goroutine: a data race on memory that safe
//! code cannot see, measured as heap corruption in release builds. Holding
//! nothing across the call does not help. The rule is therefore: **a
//! function that calls into the runtime must not touch `thread_local!`
//! storage at all, directly or through inlined code**.
//!
//! [`goroutine_local!`](crate::goroutine_local) is the safe replacement.
//! Each G carries a small table of values (`Locals`), indexed by a key that
//! each `goroutine_local!` static takes on first use. The table moves with
//! the G from M to M, so a value, and a reference to it, stay valid across
//! any runtime call. Values are created on first access in each goroutine
//! and dropped when the goroutine returns, on its own stack (their `Drop`
//! may use the runtime).
//!
//! Go has no goroutine-local storage on purpose (it passes a `Context`
//! instead); Rust code ported from threads often relies on `thread_local!`,
//! and this gives it a place that is correct under migration.

use std::any::Any;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    unsafe fn get_or_init<T: Send + 'static>(&self, key: usize, init: fn() -> T) -> *const T {
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

/// Keys handed out so far.
static NEXT_KEY: AtomicUsize = AtomicUsize::new(0);

/// A goroutine-local value; made by [`goroutine_local!`](crate::goroutine_local).
///
/// Each goroutine sees its own `T`, made by the initializer on its first
/// access and dropped when the goroutine returns. A reference obtained in
/// [`with`](Self::with) stays valid across runtime calls, whatever M the
/// goroutine resumes on.
pub struct GoroutineLocal<T: Send + 'static> {
    init: fn() -> T,
    /// Key + 1 once assigned (0: not yet).
    key: AtomicUsize,
}

impl<T: Send + 'static> GoroutineLocal<T> {
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> GoroutineLocal<T> {
        GoroutineLocal {
            init,
            key: AtomicUsize::new(0),
        }
    }

    fn key(&self) -> usize {
        match self.key.load(Ordering::Acquire) {
            0 => {
                let mine = NEXT_KEY.fetch_add(1, Ordering::Relaxed) + 1;
                match self
                    .key
                    .compare_exchange(0, mine, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => mine - 1,
                    Err(theirs) => theirs - 1,
                }
            }
            k => k - 1,
        }
    }

    /// Run `f` with this goroutine's value (made now if this is the first
    /// access). `f` may call into the runtime: the value is the goroutine's,
    /// not the thread's.
    ///
    /// # Panics
    /// Outside a goroutine (a plain thread has no G: use `thread_local!`
    /// there).
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let g = crate::m::current_g().expect("goroutine_local! value used outside a goroutine");
        // SAFETY: `g` is the running goroutine: we are its code.
        let value = unsafe { g.locals.get_or_init(self.key(), self.init) };
        // SAFETY: the value lives until the goroutine returns, after `f`.
        f(unsafe { &*value })
    }
}

/// Declare goroutine-local statics, as `thread_local!` declares
/// thread-locals: each goroutine gets its own value, made on first access,
/// dropped when the goroutine returns, and valid across runtime calls
/// (unlike a `thread_local!`, which belongs to whatever OS thread the
/// goroutine happens to run on).
///
/// ```
/// use std::cell::Cell;
///
/// runtime::goroutine_local! {
///     static CALLS: Cell<u32> = Cell::new(0);
/// }
///
/// runtime::block_on(|| {
///     CALLS.with(|c| c.set(c.get() + 1));
///     runtime::gosched(); // may resume on another thread: still ours
///     CALLS.with(|c| assert_eq!(c.get(), 1));
///     runtime::go(|| CALLS.with(|c| assert_eq!(c.get(), 0))); // a new goroutine starts afresh
/// });
/// ```
#[macro_export]
macro_rules! goroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])*
        $vis static $name: $crate::GoroutineLocal<$t> = $crate::GoroutineLocal::new({
            fn __init() -> $t {
                $init
            }
            __init
        });
        $crate::goroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $crate::goroutine_local!($(#[$attr])* $vis static $name: $t = $init;);
    };
}
