//! Loom models of timers (`runtime/src/timers.rs`: the per-P heaps; and
//! the scheduler's side in `runtime/src/sched.rs`: `timer_role`,
//! `timer_m_sleep`, `wake_timer_sleeper`, and firing due timers in
//! `find_runnable`).
//!
//! A goroutine that sleeps puts a timer on its P's heap and parks; an M with
//! nothing to do sleeps in the kernel until the earliest timer (the *timer
//! M*, off the idle list); a goroutine that adds an earlier timer must wake
//! that M so it sleeps again with the new deadline, or, when no M watches the
//! timers, wake one (`wakep`).
//!
//! Under loom time is the model's: the runtime's clock (`sync_facade::clock`)
//! reads a per-execution counter that only [`rt::advance_clock`] moves, and a
//! timed sleep ends when the clock passes its deadline (the kernel's part,
//! played by `advance_clock`) or when the sleeper is woken. The model's
//! "kernel" moves the clock to each deadline in turn and waits until the
//! timers due then have fired before moving on, so a timer that nobody fires
//! on time leaves every thread blocked: loom reports the deadlock.
//!
//! The properties: no timer is lost (every sleeping G runs), none fires
//! early (a G runs only once the clock reached its deadline), none fires
//! twice (each G runs exactly once), and the timer M is woken for an earlier
//! deadline (else the earlier timer fires only at the later one: late).
//! And cancellation: a stop racing with the firing of the same timer,
//! exactly one wins (see `stop_races_firing_and_exactly_one_wins`).
//!
//! Seeded bugs that these models catch (see `grader/loom-bite.sh`):
//! `timer_add_no_wake` (adding an earlier timer does not wake the M sleeping
//! until a later one); `timer_stop_check_then_store` (a stop that checks the
//! armed bit and then stores instead of one compare-and-swap: a firing in
//! between runs the function and the stop still says it stopped it).
#![cfg(loom)]

mod loom_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::sync::{Condvar, Mutex};
use loom::thread;
use runtime::loom_api::{self as rt, GRef, Sched, Status, M, P};

use loom_support::{check_capped, g_exit, m_loop};

/// Deadlines, in the model clock's units.
const LATE: u64 = 20;
const EARLY: u64 = 10;

/// One P, held by M1, which runs G2, about to sleep until `EARLY`; G1
/// already sleeps on the P until `LATE`; M0 holds no P and is about to go
/// idle, as the timer M sleeping until `LATE`. (One P keeps the model small:
/// with two, a spinning M that finds work wakes another while the timer M is
/// off the idle list, and the runtime would start an M the model lacks.)
struct World {
    sched: &'static Sched,
    p: &'static P,
    gs: [GRef; 2],
    whens: [u64; 2],
    /// How often each G ran.
    runs: [AtomicUsize; 2],
    /// Gs run so far, for the kernel to wait on.
    ran: Mutex<usize>,
    ran_cv: Condvar,
}

impl World {
    fn new() -> (Arc<World>, [&'static M; 2]) {
        let sched = rt::new_sched();
        sched.procresize(1);
        let m1 = rt::new_m(sched);
        let p = rt::acquire_idle_p(sched, m1);
        let gs = [rt::new_g(sched), rt::new_g(sched)];
        // G1 went to sleep on the P before the model starts.
        rt::set_status(gs[0], Status::Runnable, Status::Running);
        rt::sleep(sched, p, gs[0], LATE);
        rt::set_status(gs[1], Status::Runnable, Status::Running);
        let m0 = rt::new_m(sched);
        let w = Arc::new(World {
            sched,
            p,
            gs,
            whens: [LATE, EARLY],
            runs: [AtomicUsize::new(0), AtomicUsize::new(0)],
            ran: Mutex::new(0),
            ran_cv: Condvar::new(),
        });
        (w, [m0, m1])
    }

    /// Run `g`: never before its deadline; tell the kernel.
    fn run(&self, g: GRef) {
        let i = self
            .gs
            .iter()
            .position(|x| std::ptr::eq(*x, g))
            .expect("an M ran a G nobody queued");
        let now = rt::nanotime();
        assert!(
            now >= self.whens[i],
            "G{} woke early: at {now}, due {}",
            i + 1,
            self.whens[i]
        );
        self.runs[i].fetch_add(1, Ordering::Relaxed);
        g_exit(g);
        let mut ran = self.ran.lock().unwrap();
        *ran += 1;
        if *ran == 2 {
            rt::shutdown(self.sched);
        }
        drop(ran);
        self.ran_cv.notify_all();
    }

    /// The kernel: wait until `n` Gs ran.
    fn wait_runs(&self, n: usize) {
        let mut ran = self.ran.lock().unwrap();
        while *ran < n {
            ran = self.ran_cv.wait(ran).unwrap();
        }
    }

    /// An M's thread: `body` (what its goroutine does), then its loop.
    fn spawn_m(
        self: &Arc<Self>,
        m: &'static M,
        body: impl FnOnce(&World) + Send + 'static,
    ) -> thread::JoinHandle<()> {
        let w = self.clone();
        thread::spawn(move || {
            body(&w);
            m_loop(w.sched, m, |g| w.run(g));
        })
    }
}

/// G2 (on M1) sleeps until `EARLY` while M0, with no P and nothing to do,
/// becomes the timer M sleeping until G1's `LATE`; the kernel (this thread)
/// moves the clock to `EARLY` and waits for G2, then to `LATE`. Whoever
/// watches the timers when G2's is added must be woken for it, or G2 would
/// wait for `LATE`: then every thread blocks. G2 runs at `EARLY`, G1 at
/// `LATE`, each once, none early.
#[test]
fn earlier_timer_wakes_the_timer_m() {
    // 5,666 executions at 2 preemptions; 78,273 at 3, in `just loom-deep` (69,599 before woken sleepers were readied as a batch, `Sched::ready_woken`).
    check_capped("timers: an earlier timer wakes the timer M", 2, 3, || {
        let (w, [m0, m1]) = World::new();
        let t0 = w.spawn_m(m0, |_| {});
        let t1 = w.spawn_m(m1, |w| rt::sleep(w.sched, w.p, w.gs[1], EARLY));
        rt::advance_clock(w.sched, EARLY);
        w.wait_runs(1);
        rt::advance_clock(w.sched, LATE);
        for t in [t0, t1] {
            t.join().unwrap();
        }
        let runs: Vec<usize> = w.runs.iter().map(|r| r.load(Ordering::Relaxed)).collect();
        assert_eq!(runs, [1, 1], "each timer fires exactly once");
        assert!(rt::deadlock_report(w.sched).is_none());
    });
}

/// Cancellation (`time::Timer::stop`, Go's `deltimer`) racing with the
/// firing of the same timer by its P's M (`run_timers`, Go's
/// `runOneTimer`): exactly one of them wins. Either the stop reports `true`
/// and the function never runs, or it reports `false` and the function ran
/// once; and the timer's pending wake-up is withdrawn exactly once, so the
/// deadlock detector's count ends at 0 (a stopped timer still counted would
/// keep a deadlocked program from being reported; one withdrawn twice would
/// report a live one).
#[test]
fn stop_races_firing_and_exactly_one_wins() {
    loom_support::check("timers: stop races firing, exactly one wins", || {
        let sched = rt::new_sched();
        sched.procresize(1);
        let m = rt::new_m(sched);
        let p = rt::acquire_idle_p(sched, m);
        let fired = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let counter = fired.clone();
        let timer = rt::timer_new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert!(!rt::timer_start(sched, p, &timer, EARLY), "a new timer");
        // The M holding the P fires the timer, due now.
        let firing = thread::spawn(move || rt::run_timers(sched, p, EARLY));
        let stopped = rt::timer_stop(sched, &timer);
        let ran = firing.join().unwrap();
        let fired = fired.load(Ordering::SeqCst);
        assert_eq!(
            fired + usize::from(stopped),
            1,
            "the function ran {fired}x and stop returned {stopped}"
        );
        assert_eq!(ran, fired, "run_timers counts what it fired");
        assert_eq!(
            rt::pending_wakeups(sched),
            0,
            "the promise is withdrawn once"
        );
    });
}
