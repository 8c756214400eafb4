//! How the program ends when something goes wrong, the way Go ends it.
//!
//! Lesson idea: "when main returns, the program ends, whatever the other
//! goroutines are doing". Every way out goes through [`exit`]:
//!
//! - `throw`: an internal error of the runtime, `fatal error: <msg>`, exit 2
//!   (Go's `throw`).
//! - a panic in a goroutine (the hook lives in `proc.rs`) and a deadlock
//!   (`deadlock.rs`) print Go's report and exit 2.
//!
//! This file is a floor of the runtime: it imports nothing from it. What
//! must happen on the way out (tracing completes its timeline file) is
//! registered from above as an exit hook, like Go's `runtime.exithook`.

use std::io::Write;
use std::sync::Mutex;

/// Exit status of a Go program that died of a panic, deadlock or throw.
pub const EXIT_FATAL: i32 = 2;

/// Functions run by [`exit`] before the process ends, newest first (Go's
/// `exithook.Add` / `runExitHooks`).
static EXIT_HOOKS: Mutex<Vec<fn(i32)>> = Mutex::new(Vec::new());

/// Run `hook(code)` on every exit path. Registered once, at start-up.
pub(crate) fn add_exit_hook(hook: fn(i32)) {
    EXIT_HOOKS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(hook);
}

/// Write `text` to stderr in one piece, ignoring errors (there is nowhere
/// left to report them).
pub(crate) fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Write `text` to stderr with plain `write(2)` calls, bypassing std's
/// stderr lock: for sysmon, which must not wait on a lock a blocked
/// goroutine may hold.
pub(crate) fn write_stderr_raw(text: &str) {
    let mut bytes = text.as_bytes();
    while !bytes.is_empty() {
        // SAFETY: writing from a valid slice to fd 2.
        let n = unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Print `fatal error: <msg>` and exit with status 2 (Go's `throw`).
pub fn throw(msg: &str) -> ! {
    write_stderr(&format!("fatal error: {msg}\n"));
    exit(EXIT_FATAL)
}

/// Set once the process is ending (see [`exit`]).
static EXITING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Is the process ending? Its last goroutine then waits, blocked in the
/// kernel, for the thread that ends it: sysmon must not take that for a
/// goroutine blocked in its own code (`implicit_syscall.rs`).
pub(crate) fn exiting() -> bool {
    EXITING.load(std::sync::atomic::Ordering::Relaxed)
}

/// End the process now, without running other threads' code: like Go's
/// `exit`, which does not wait for goroutines. The exit hooks run first.
pub fn exit(code: i32) -> ! {
    EXITING.store(true, std::sync::atomic::Ordering::Relaxed);
    // Copy the list and let go of the lock before running the hooks: a hook
    // that fails ends up here again (a panic inside it reaches the panic
    // hook, which exits) and must not wait for itself.
    let hooks = EXIT_HOOKS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for hook in hooks.iter().rev() {
        hook(code);
    }
    // Not `std::process::exit` on this thread: libc's `exit` runs the
    // *calling thread's* thread-local destructors (glibc's
    // `__call_tls_dtors`), and on an M those belong to whatever goroutines
    // ran there; one that uses the runtime (a channel in a `thread_local!`)
    // would re-enter it while the process ends (a deadlock report, then
    // `std::process::exit called re-entrantly`, abort). Go's exit is the
    // bare `exit_group` system call. So a fresh thread, which has no such
    // destructors, calls `std::process::exit`: it flushes Rust's stdout
    // buffer (for code that used `std::println!`; our print macros buffer
    // nothing) and runs the `atexit` handlers, and the whole process ends
    // with it, this thread too.
    let exiter = std::thread::Builder::new()
        .name("exit".into())
        .spawn(move || std::process::exit(code));
    if exiter.is_ok() {
        loop {
            std::thread::park();
        }
    }
    // No thread to be had: flush what std buffers and end at once.
    let _ = std::io::stdout().flush();
    // SAFETY: `_exit` ends the process; nothing runs after it.
    unsafe { libc::_exit(code) }
}
