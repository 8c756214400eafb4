//! How the program ends when something goes wrong, the way Go ends it.
//!
//! - `throw`: an internal error of the runtime, `fatal error: <msg>`, exit 2
//!   (Go's `throw`).
//! - A panic in any goroutine: `panic: <msg>`, a blank line,
//!   `goroutine N [running]:` and where it panicked, exit 2. Go does not let a
//!   panicking goroutine die alone: the whole program stops, so the bug cannot
//!   go unnoticed. (Go's `fatalpanic` / `printpanics`.)

use std::io::Write;
use std::panic::PanicHookInfo;
use std::sync::Once;

/// Exit status of a Go program that died of a panic, deadlock or throw.
pub const EXIT_FATAL: i32 = 2;

/// Write `text` to stderr in one piece, ignoring errors (there is nowhere
/// left to report them).
pub(crate) fn write_stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Print `fatal error: <msg>` and exit with status 2 (Go's `throw`).
pub fn throw(msg: &str) -> ! {
    write_stderr(&format!("fatal error: {msg}\n"));
    exit(EXIT_FATAL)
}

/// End the process now, without running other threads' code: like Go's
/// `exit`, which does not wait for goroutines.
pub fn exit(code: i32) -> ! {
    // Our print macros write straight to the file descriptor, so there is no
    // runtime buffer to flush; `std::process::exit` also flushes Rust's own
    // stdout buffer for code that used `std::println!`.
    crate::trace::finish(code);
    std::process::exit(code)
}

/// Install the panic hook that turns a goroutine's panic into Go's report.
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            #[cfg(not(loom))]
            let g = crate::m::current_g();
            #[cfg(loom)]
            let g: Option<crate::g::GRef> = None;
            match g {
                // The root of `block_on`: its caller receives the panic.
                Some(g) if g.catches_panics.load(std::sync::atomic::Ordering::Relaxed) => {
                    previous(info)
                }
                Some(g) => goroutine_panicked(g.goid(), info),
                // The scheduler itself on an M: a runtime bug, Go's `throw`.
                #[cfg(not(loom))]
                None if crate::m::current_m().is_some() => {
                    let at = info
                        .location()
                        .map(|l| format!(" at {}:{}", l.file(), l.line()))
                        .unwrap_or_default();
                    throw(&format!("{}{at}", payload_text(info)))
                }
                None => previous(info),
            }
        }));
    });
}

fn payload_text(info: &PanicHookInfo<'_>) -> String {
    if let Some(s) = info.payload().downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = info.payload().downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

fn goroutine_panicked(goid: u64, info: &PanicHookInfo<'_>) -> ! {
    let msg = payload_text(info);
    let at = info
        .location()
        .map(|l| format!("{}:{}", l.file(), l.line()))
        .unwrap_or_else(|| "(unknown location)".into());
    write_stderr(&format!(
        "panic: {msg}\n\ngoroutine {goid} [running]:\n\t{at}\n"
    ));
    exit(EXIT_FATAL)
}
