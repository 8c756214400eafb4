//! `runtime::time`: sleeping without blocking the thread (Go's `time.Sleep`,
//! `timeSleep` in `runtime/time.go`).
//!
//! Lesson idea: a sleeping goroutine is just a parked goroutine with an alarm
//! clock. It costs no thread: the M runs other goroutines meanwhile, and the
//! alarm (a timer on the P's heap, see `timers.rs`) readies it when due.

use std::time::Duration;

use crate::g::WaitReason;
use crate::park::{park_unlock, preempt_point, Waiter};

/// Pause the calling goroutine for at least `d` (Go's `time.Sleep`).
///
/// The goroutine parks (`[sleep]` in a goroutine dump) and its M runs other
/// goroutines; a timer on the P wakes it. Like Go's, the wake-up is precise
/// to about a millisecond or better when an M is idle, and comes at the next
/// scheduling point when every P is busy. A zero duration returns at once.
/// Outside a goroutine, sleeps the OS thread.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// runtime::block_on(|| {
///     let start = Instant::now();
///     runtime::time::sleep(Duration::from_millis(5));
///     assert!(start.elapsed() >= Duration::from_millis(5));
/// });
/// ```
#[doc(alias = "timeSleep")]
#[track_caller]
pub fn sleep(d: Duration) {
    preempt_point();
    if d.is_zero() {
        return;
    }
    if std::thread::panicking() {
        // A `Drop` sleeping while its goroutine unwinds: sleep as the thread
        // and lend the P out (the goroutine must not change threads while
        // unwinding; see `Waiter::current`).
        crate::syscall::syscall(|| std::thread::sleep(d));
        return;
    }
    let (Some(g), Some(p)) = (crate::m::current_g(), crate::m::current_p()) else {
        // A plain thread, or a goroutine inside `runtime::syscall` (no P).
        std::thread::sleep(d);
        return;
    };
    let sched = crate::proc::sched();
    let when = crate::timers::nanotime().saturating_add(d.as_nanos().min(u64::MAX as u128) as u64);
    let unlock = sched.add_timer(p, when, g);
    park_unlock(&Waiter::G(g), unlock, WaitReason::Sleep);
}
