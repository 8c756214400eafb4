//! The function a new goroutine will run, stored in its G until it starts
//! (Go's `funcval`, the `fn` argument of `newproc`).
//!
//! Lesson idea: "`go` does not run the function now, it schedules it". Until
//! the scheduler picks the new G, all it needs is the closure: no stack yet.
//! A stack is given to a G only when it first runs (`gostart` in `g.rs`), so a program
//! that starts a million goroutines on one P before any of them runs does not
//! touch a million stacks; each one that finishes hands its warm stack to the
//! next. (Go allocates the stack in `newproc`; we can do better because our
//! stacks are not needed to describe a G that has not started.)
//!
//! The closure is kept inline in the G when it fits in [`INLINE_WORDS`]
//! machine words, so `go` allocates nothing for the usual small closure (an
//! `Arc` or two, a number); a larger closure is boxed.

use std::mem::{align_of, size_of, MaybeUninit};

/// Words of inline storage: closures up to this size do not allocate.
pub const INLINE_WORDS: usize = 4;

/// A type-erased `FnOnce() + Send + 'static`, inline or boxed.
pub(crate) struct FuncVal {
    /// The closure itself (inline) or a `Box` of it.
    buf: MaybeUninit<[usize; INLINE_WORDS]>,
    /// Moves the closure out of `buf` and calls it; `None` when empty.
    call: Option<unsafe fn(*mut u8)>,
    /// Drops the closure in `buf` without calling it.
    drop: unsafe fn(*mut u8),
}

// SAFETY: a FuncVal only ever holds a `Send` closure (see `new`).
unsafe impl Send for FuncVal {}

/// Does `F` fit in the inline buffer?
const fn fits<F>() -> bool {
    size_of::<F>() <= size_of::<[usize; INLINE_WORDS]>() && align_of::<F>() <= align_of::<usize>()
}

impl FuncVal {
    /// An empty slot.
    pub(crate) const fn empty() -> FuncVal {
        unsafe fn nothing(_: *mut u8) {}
        FuncVal {
            buf: MaybeUninit::uninit(),
            call: None,
            drop: nothing,
        }
    }

    /// Store `f`, inline if it fits, boxed otherwise.
    pub(crate) fn new<F: FnOnce() + Send + 'static>(f: F) -> FuncVal {
        let mut v = FuncVal::empty();
        let p = v.buf.as_mut_ptr().cast::<u8>();
        if fits::<F>() {
            // SAFETY: `F` fits in `buf` in size and alignment (checked above).
            unsafe { p.cast::<F>().write(f) };
            v.call = Some(call_inline::<F>);
            v.drop = drop_inline::<F>;
        } else {
            // SAFETY: a `Box<F>` is one pointer: it always fits.
            unsafe { p.cast::<Box<F>>().write(Box::new(f)) };
            v.call = Some(call_boxed::<F>);
            v.drop = drop_boxed::<F>;
        }
        v
    }

    /// Is a closure stored?
    pub(crate) fn is_set(&self) -> bool {
        self.call.is_some()
    }

    /// Take the closure out and run it, leaving the slot empty.
    ///
    /// # Panics
    /// If the slot is empty.
    pub(crate) fn call(mut self) {
        let call = self.call.take().expect("FuncVal::call on an empty slot");
        // SAFETY: `call` was made by `new` for the closure in `buf`; taking it
        // out of `self` first means neither `Drop` nor a second call can see
        // the closure again.
        unsafe { call(self.buf.as_mut_ptr().cast()) }
    }
}

impl Drop for FuncVal {
    fn drop(&mut self) {
        if self.call.take().is_some() {
            // SAFETY: a closure is stored (call was set) and now forgotten by
            // `self`; `drop` was made by `new` for its type.
            unsafe { (self.drop)(self.buf.as_mut_ptr().cast()) }
        }
    }
}

/// # Safety
/// `p` holds an initialised `F` that no one else will read.
unsafe fn call_inline<F: FnOnce()>(p: *mut u8) {
    // SAFETY: per the contract; the read moves the closure out.
    let f = unsafe { p.cast::<F>().read() };
    f()
}

/// # Safety
/// As [`call_inline`].
unsafe fn drop_inline<F>(p: *mut u8) {
    // SAFETY: per the contract.
    unsafe { p.cast::<F>().drop_in_place() }
}

/// # Safety
/// `p` holds an initialised `Box<F>` that no one else will read.
unsafe fn call_boxed<F: FnOnce()>(p: *mut u8) {
    // SAFETY: per the contract; the read moves the box out.
    let f = unsafe { p.cast::<Box<F>>().read() };
    f()
}

/// # Safety
/// As [`call_boxed`].
unsafe fn drop_boxed<F>(p: *mut u8) {
    // SAFETY: per the contract.
    unsafe { p.cast::<Box<F>>().drop_in_place() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn small_and_large_closures_run_once_and_drop_their_captures() {
        let hits = Arc::new(AtomicUsize::new(0));
        let small = {
            let hits = hits.clone();
            move || {
                hits.fetch_add(1, Ordering::SeqCst);
            }
        };
        assert!(fits::<&'static ()>());
        let big_payload = [7u64; 16];
        let large = {
            let hits = hits.clone();
            move || {
                hits.fetch_add(big_payload.iter().sum::<u64>() as usize, Ordering::SeqCst);
            }
        };
        let (s, l) = (FuncVal::new(small), FuncVal::new(large));
        assert!(s.is_set() && l.is_set());
        s.call();
        l.call();
        assert_eq!(hits.load(Ordering::SeqCst), 1 + 7 * 16);
        // Both closures are gone: only our handle is left.
        assert_eq!(Arc::strong_count(&hits), 1);
    }

    #[test]
    fn a_closure_never_called_is_dropped() {
        let hits = Arc::new(AtomicUsize::new(0));
        let small = FuncVal::new({
            let hits = hits.clone();
            move || drop(hits)
        });
        let large = FuncVal::new({
            let hits = hits.clone();
            let pad = [0u8; 64];
            move || drop((hits, pad))
        });
        assert_eq!(Arc::strong_count(&hits), 3);
        drop((small, large));
        assert_eq!(Arc::strong_count(&hits), 1);
        assert!(!FuncVal::empty().is_set());
    }
}
