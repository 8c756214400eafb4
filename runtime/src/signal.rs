//! Turning a stack overflow into Go's `fatal error: stack overflow`.
//!
//! Lesson idea: goroutines are cheap because their stacks are small (see
//! `stack.rs`); the price of a small stack is that it can run out, and Go
//! then stops the program with a clear message instead of corrupting memory.
//!
//! Each goroutine stack has a guard page (see `stack.rs`). Touching it raises
//! the OS's fault signal (`os::FAULT_SIGNALS`: SIGSEGV on Linux; SIGBUS, and
//! SIGSEGV for unmapped addresses, on macOS). Our handler runs on an alternate signal stack (the faulting stack
//! is, by definition, full), checks whether the faulting address is one of our
//! guards, and if so names the goroutine and exits with status 2. Any other
//! fault is not ours: we put the previous handler back and return, so the
//! faulting instruction runs again and the previous handler (Rust's own stack
//! overflow reporter, or the default action) deals with it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

/// Size of each M's alternate signal stack.
const ALT_STACK_SIZE: usize = 64 * 1024;

static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Most fault signals a platform has (macOS: two).
const MAX_FAULT_SIGNALS: usize = 2;
/// The handler each of `os::FAULT_SIGNALS` had before ours, same order.
static mut PREV: [std::mem::MaybeUninit<libc::sigaction>; MAX_FAULT_SIGNALS] =
    [const { std::mem::MaybeUninit::zeroed() }; MAX_FAULT_SIGNALS];
const _: () = assert!(crate::os::FAULT_SIGNALS.len() <= MAX_FAULT_SIGNALS);

/// The id of the goroutine running on the calling thread (0: none), given by
/// the scheduler at `install`: this file sits below the scheduler and
/// imports nothing from it.
static CURRENT_GOID: OnceLock<fn() -> u64> = OnceLock::new();

/// Install the fault handler once per process. `current_goid` names the
/// goroutine in the report; it must be async-signal safe.
pub(crate) fn install(current_goid: fn() -> u64) {
    if INSTALLED.swap(true, Ordering::AcqRel) {
        return;
    }
    let _ = CURRENT_GOID.set(current_goid);
    // SAFETY: plain sigaction calls with a zero-initialised struct that we
    // fill in; PREV is written once here, before any handler can run, and
    // only read by the handler afterwards.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = handler as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        let prev: *mut libc::sigaction = (&raw mut PREV).cast();
        for (i, &sig) in crate::os::FAULT_SIGNALS.iter().enumerate() {
            libc::sigaction(sig, &action, prev.add(i));
        }
    }
}

/// Give the calling thread (a new M) an alternate signal stack if it has none.
pub(crate) fn on_new_m() {
    // SAFETY: querying and setting this thread's sigaltstack; the new stack
    // is a fresh anonymous mapping that we never unmap (Ms live forever).
    unsafe {
        let mut current: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(std::ptr::null(), &mut current);
        if current.ss_flags & libc::SS_DISABLE == 0 && current.ss_size >= 16 * 1024 {
            return;
        }
        let Ok(mem) = crate::os::reserve(ALT_STACK_SIZE) else {
            return;
        };
        let stack = libc::stack_t {
            ss_sp: mem as *mut libc::c_void,
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        libc::sigaltstack(&stack, std::ptr::null_mut());
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    if crate::stack::is_guard_address(addr) {
        // The goroutine on this M (see `install`; reading a `OnceLock` that
        // is set is one atomic load). Reading it here, rather than keeping a
        // copy of the id in a thread-local, keeps two thread-local writes off
        // every goroutine switch.
        let goid = CURRENT_GOID.get().map_or(0, |f| f());
        // Only async-signal-safe calls from here: write(2) and _exit(2).
        let mut buf = [0u8; 256];
        let mut w = Writer {
            buf: &mut buf,
            len: 0,
        };
        // Go's wording and order (`newstack` in runtime/stack.go).
        w.push(b"runtime: goroutine stack exceeds ");
        w.push_num(crate::stack::usable_size_in_handler() as u64);
        w.push(b"-byte limit\nfatal error: stack overflow\n\ngoroutine ");
        w.push_num(goid);
        w.push(b" [running]:\n");
        let len = w.len;
        // SAFETY: write(2) and _exit(2) are async-signal safe; buf is ours.
        unsafe {
            libc::write(2, buf.as_ptr().cast(), len);
            libc::_exit(crate::fatal::EXIT_FATAL);
        }
    }
    // Not ours: restore the previous handler and return; the fault repeats
    // and reaches it.
    // SAFETY: PREV was filled by `install` before this handler existed, in
    // the order of `os::FAULT_SIGNALS`, the only signals routed here.
    unsafe {
        let prev: *const libc::sigaction = (&raw const PREV).cast();
        if let Some(i) = crate::os::FAULT_SIGNALS.iter().position(|&s| s == sig) {
            libc::sigaction(sig, prev.add(i), std::ptr::null_mut());
        }
    }
}

/// A tiny formatter that never allocates (we are in a signal handler).
struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn push(&mut self, s: &[u8]) {
        for &b in s {
            if self.len < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
    }

    fn push_num(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}
