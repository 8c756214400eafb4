//! `runtime::time`: sleeping without blocking the thread (Go's `time.Sleep`,
//! `timeSleep` in `runtime/time.go`).
//!
//! Lesson idea: a sleeping goroutine is just a parked goroutine with an alarm
//! clock. It costs no thread: the M runs other goroutines meanwhile, and the
//! alarm (a timer on the P's heap, see `timers.rs`) readies it when due.

use std::time::{Duration, Instant};

use crate::chan::{chan, Chan};
use crate::g::WaitReason;
use crate::park::{park_unlock, Waiter};
use crate::sync_facade::Arc;
use crate::timers::RTimer;

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
    // Uses the caller's P (its timer heap).
    let _rt = crate::implicit_syscall::enter_and_preempt();
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
    let unlock = sched.add_timer(p, when(d), g);
    park_unlock(&Waiter::G(g), unlock, WaitReason::Sleep);
}

/// A single event in the future, which can be stopped and reset (Go's
/// `time.Timer`, made by `time.NewTimer`). When it fires, the current time
/// is sent on its channel, [`c`](Timer::c), which has room for one value
/// (Go's `t.C`).
///
/// The send is Go's `sendTime`: done by the scheduler, not by a goroutine,
/// and without blocking: if the channel still holds the value of an earlier
/// firing, the new one is dropped.
///
/// ```
/// use std::time::Duration;
/// use runtime::time::Timer;
///
/// runtime::block_on(|| {
///     let t = Timer::new(Duration::from_millis(1));
///     let fired_at = t.c().recv().unwrap(); // about 1 ms later
///     assert!(!t.stop()); // already fired: nothing to stop
///     assert!(!t.reset(Duration::from_millis(1))); // re-armed
///     assert!(t.c().recv().unwrap() > fired_at);
///
///     let t = Timer::new(Duration::from_secs(3600));
///     assert!(t.stop()); // stopped before it fired: it never will
/// });
/// ```
#[doc(alias = "NewTimer")]
pub struct Timer {
    /// Where the firing time is sent (Go's `C`). A timer of
    /// [`after_func`] never sends on it (Go's is nil).
    c: Chan<Instant>,
    r: Arc<RTimer>,
}

impl Timer {
    /// A timer that sends the current time on its channel after at least
    /// `d` (Go's `time.NewTimer`).
    #[doc(alias = "NewTimer")]
    pub fn new(d: Duration) -> Timer {
        let c = chan::<Instant>(1);
        let tx = c.clone();
        // Go's `sendTime`: `select { case c <- Now(): default: }`.
        let r = RTimer::new(Box::new(move || {
            let _ = tx.send_from_timer(Instant::now());
        }));
        let t = Timer { c, r };
        t.arm(d);
        t
    }

    /// The channel the firing time arrives on (Go's `t.C`). Receive from it
    /// directly, or in a `select!` case.
    pub fn c(&self) -> &Chan<Instant> {
        &self.c
    }

    /// Same as [`c`](Timer::c).
    pub fn chan(&self) -> &Chan<Instant> {
        &self.c
    }

    /// Prevent the timer from firing (Go's `t.Stop()`). Returns `true` if
    /// this call stopped it, `false` if it had already fired or been
    /// stopped.
    ///
    /// As in Go, `stop` does not drain the channel: after a `false`, the
    /// value of the firing may still be waiting there. A stopped timer no
    /// longer counts as a coming wake-up for the deadlock detector.
    #[doc(alias = "Stop")]
    pub fn stop(&self) -> bool {
        crate::proc::sched().stop_timer(&self.r)
    }

    /// Make the timer fire after `d` from now instead (Go's `t.Reset(d)`).
    /// Returns `true` if it was armed (had not fired nor been stopped).
    ///
    /// As in Go 1.19, a value of an earlier firing that nobody received
    /// stays in the channel: Go's documentation asks to stop the timer and
    /// drain the channel before `Reset`, which `reset` does not do for you.
    #[doc(alias = "Reset")]
    pub fn reset(&self, d: Duration) -> bool {
        self.arm(d)
    }

    fn arm(&self, d: Duration) -> bool {
        // Uses the caller's P (its timer heap): see `implicit_syscall.rs`.
        let _rt = crate::implicit_syscall::enter();
        crate::proc::sched().start_timer(&self.r, when(d))
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer")
            .field("armed", &self.r.is_armed())
            .finish()
    }
}

/// A channel that receives the current time once, after at least `d` (Go's
/// `time.After`, i.e. `NewTimer(d).C`). The usual timeout of a `select!`:
///
/// ```
/// use std::time::Duration;
/// use runtime::{chan, select, time};
///
/// runtime::block_on(|| {
///     let never = chan::<u32>(0);
///     let timed_out = select! {
///         recv(never) -> v => { let _ = v; false },
///         recv(time::after(Duration::from_millis(2))) => true,
///     };
///     assert!(timed_out);
/// });
/// ```
///
/// As in Go, the timer cannot be stopped and lives (and keeps the program
/// from being reported deadlocked) until it fires; use [`Timer`] when it
/// should be stopped early.
#[doc(alias = "After")]
pub fn after(d: Duration) -> Chan<Instant> {
    Timer::new(d).c
}

/// Run `f` in its own goroutine after at least `d` (Go's `time.AfterFunc`).
/// The returned timer can stop it before it fires ([`Timer::stop`] returns
/// `true`: then `f` does not run), or reset it, which runs `f` again; its
/// channel never receives anything (Go's is nil).
///
/// ```
/// use std::time::Duration;
/// use runtime::{chan, time};
///
/// runtime::block_on(|| {
///     let done = chan::<&str>(1);
///     let tx = done.clone();
///     time::after_func(Duration::from_millis(1), move || tx.send("fired"));
///     assert_eq!(done.recv(), Some("fired"));
///
///     let t = time::after_func(Duration::from_secs(3600), || unreachable!());
///     assert!(t.stop());
/// });
/// ```
#[doc(alias = "AfterFunc")]
pub fn after_func<F>(d: Duration, f: F) -> Timer
where
    F: Fn() + Send + Sync + 'static,
{
    let f = Arc::new(f);
    // Go's `goFunc`: the timer only starts the goroutine; `f` may block.
    let r = RTimer::new(Box::new(move || {
        let f = f.clone();
        crate::proc::go_from_timer(move || f());
    }));
    let t = Timer { c: chan(1), r };
    t.arm(d);
    t
}

/// The `nanotime` at which a timer of duration `d` set now fires (Go's
/// `when`); never 0, saturating far in the future.
fn when(d: Duration) -> u64 {
    crate::timers::nanotime().saturating_add(d.as_nanos().min(u64::MAX as u128) as u64)
}
