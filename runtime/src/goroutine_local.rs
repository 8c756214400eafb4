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

use std::sync::atomic::{AtomicUsize, Ordering};

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
