//! `print!` and `println!`: Go's `fmt.Print` family, and preemption points.
//!
//! Lesson idea: "we cannot predict when the context switch happens": the
//! lessons watch goroutines interleave through what they print.
//!
//! Go's `os.Stdout` is unbuffered: every `fmt.Printf` is one `write(2)`. We do
//! the same, so output from goroutines interleaves exactly where the scheduler
//! switched between them, which is what the lessons want you to see.
//!
//! Every print is also a *preemption point*: if sysmon asked the running
//! goroutine to yield (it ran for 10 ms), it yields here. A loop that prints
//! gets time-sliced; a loop that never calls the runtime does not (see
//! `sysmon.rs`).

use std::fmt::Write as _;

/// Write formatted text to stdout in one `write(2)` and reach a preemption
/// point. Used by [`print!`](crate::print!) and [`println!`](crate::println!).
pub fn print_fmt(args: std::fmt::Arguments<'_>) {
    // The write is the runtime's: if stdout blocks (a full pipe), the P
    // stays with this goroutine, as it did before sysmon learnt to hand off
    // the P of a goroutine blocked in its own code (`implicit_syscall.rs`).
    // (Go's write is a system call, which would hand it off after 20 us;
    // a print is not worth `runtime::syscall`'s cost.)
    let rt = crate::implicit_syscall::enter();
    match args.as_str() {
        Some(s) => write_stdout(s.as_bytes()),
        None => {
            let mut buf = String::with_capacity(64);
            let _ = buf.write_fmt(args);
            write_stdout(buf.as_bytes());
        }
    }
    drop(rt);
    crate::proc::preempt_point();
}

/// Write `bytes` to file descriptor 1, retrying short writes and EINTR.
///
/// A closed pipe ends the program as in Go: `prog | head -1` kills `prog`
/// with SIGPIPE once `head` exits (Go's `epipecheck` → `sigpipe` for fds 1
/// and 2; Rust ignores SIGPIPE, so the write fails with EPIPE and we raise
/// the signal ourselves). Other errors are ignored, as output has nowhere
/// else to go.
pub fn write_stdout(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writing from a valid slice to fd 1.
        let n = unsafe { libc::write(1, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EPIPE) => die_of_sigpipe(),
                _ => return,
            }
        }
        bytes = &bytes[n as usize..];
    }
}

/// Die of SIGPIPE, as a Go program that writes to a closed stdout does
/// (Go's `sigpipe` → `dieFromSignal`): default action, unblocked, raised;
/// exit 2 if we are somehow still alive.
#[cold]
fn die_of_sigpipe() -> ! {
    // SAFETY: plain libc calls on a local, zero-initialised signal set;
    // resetting SIGPIPE to its default action is what we want process-wide.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(libc::SIGPIPE);
    }
    crate::fatal::exit(crate::fatal::EXIT_FATAL)
}

/// Go's `fmt.Print`: format and write to stdout, unbuffered; a preemption
/// point.
///
/// ```
/// runtime::block_on(|| runtime::print!("{} ", 42));
/// ```
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::print::print_fmt(::std::format_args!($($arg)*))
    };
}

/// Go's `fmt.Println`: format, add a newline, write to stdout unbuffered; a
/// preemption point.
///
/// ```
/// runtime::block_on(|| runtime::println!("hello from goroutine"));
/// ```
#[macro_export]
macro_rules! println {
    () => {
        $crate::print::print_fmt(::std::format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::print::print_fmt(::std::format_args!("{}\n", ::std::format_args!($($arg)*)))
    };
}
