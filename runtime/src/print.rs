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
    match args.as_str() {
        Some(s) => write_stdout(s.as_bytes()),
        None => {
            let mut buf = String::with_capacity(64);
            let _ = buf.write_fmt(args);
            write_stdout(buf.as_bytes());
        }
    }
    crate::proc::preempt_point();
}

/// Write `bytes` to file descriptor 1, retrying short writes and EINTR.
/// Errors (a closed pipe) are ignored, as output has nowhere else to go.
pub fn write_stdout(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writing from a valid slice to fd 1.
        let n = unsafe { libc::write(1, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        bytes = &bytes[n as usize..];
    }
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
