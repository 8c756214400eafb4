//! Loom models of deadlock accounting (`runtime/src/deadlock.rs`,
//! `check_dead`, called by `stopm` with the scheduler lock held whenever an
//! M goes idle).
//!
//! The property: the detector never fires while some G is runnable,
//! running, or waiting on a timer (`Sched::pending_wakeups`), and it does
//! fire, exactly once, when every G is blocked and every M is idle. Under
//! loom the detector does not end the process: it records its report and
//! shuts the model down (see `runtime/src/loom_api.rs`), and each model
//! checks the report after joining its threads.
//!
//! Seeded bugs that these models catch (see `grader/loom-bite.sh`):
//! `deadlock_ignores_timers` (a G asleep on a timer counts as blocked
//! forever) and `checkdead_misses_self` (the M going idle does not count
//! itself, so the detector never fires).
#![cfg(loom)]

mod loom_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;
use runtime::loom_api::{self as rt, GRef, Sched, Status, WaitReason, M};

use loom_support::{check, g_exit, m_loop};

/// A scheduler with `procs` Ps and a count of Gs run.
struct World {
    sched: &'static Sched,
    runs: AtomicUsize,
}

impl World {
    fn new(procs: usize) -> Arc<World> {
        let sched = rt::new_sched();
        sched.procresize(procs);
        Arc::new(World {
            sched,
            runs: AtomicUsize::new(0),
        })
    }

    /// A live G that is running and then blocks (reason `why`).
    fn blocked_g(&self, why: WaitReason) -> GRef {
        let g = rt::new_g(self.sched);
        rt::set_status(g, Status::Runnable, Status::Running);
        rt::park_g(g, why);
        g
    }

    /// An M's loop in which running any G ends the model.
    fn run_m(&self, m: &'static M) {
        m_loop(self.sched, m, |g| {
            self.runs.fetch_add(1, Ordering::Relaxed);
            g_exit(g);
            rt::shutdown(self.sched);
        });
    }

    /// An M holding a P, about to look for work, on its own thread.
    fn spawn_finder_m(self: &Arc<Self>) -> thread::JoinHandle<()> {
        let m = rt::new_m(self.sched);
        rt::acquire_idle_p(self.sched, m);
        let w = self.clone();
        thread::spawn(move || w.run_m(m))
    }

    /// An M parked on the idle list from the start, on its own thread.
    fn spawn_idle_m(self: &Arc<Self>) -> thread::JoinHandle<()> {
        let m = rt::new_m(self.sched);
        assert!(rt::midle_enter(self.sched, m));
        let w = self.clone();
        thread::spawn(move || {
            if rt::mpark(w.sched, m) {
                w.run_m(m);
            }
        })
    }

    fn assert_no_report(&self) {
        if let Some(r) = rt::deadlock_report(self.sched) {
            panic!("the deadlock detector fired wrongly:\n{}", r.text);
        }
    }
}

/// Every goroutine is blocked (one G waits on a WaitGroup that nobody will
/// release) and two Ms, each holding a P, look for work and go idle in any
/// order. The last one to go idle reports the deadlock, in Go's words and
/// naming the blocked goroutine; it reports it once.
#[test]
fn fires_when_every_goroutine_is_blocked() {
    check("deadlock: fires when every G is blocked", || {
        let w = World::new(2);
        w.blocked_g(WaitReason::Semacquire);
        let ms = [w.spawn_finder_m(), w.spawn_finder_m()];
        for m in ms {
            m.join().unwrap();
        }
        let report = rt::deadlock_report(w.sched).expect("the detector did not fire");
        assert!(
            report.text.starts_with(
                "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [semacquire]:\n"
            ),
            "unexpected report:\n{}",
            report.text
        );
        assert_eq!(w.runs.load(Ordering::Relaxed), 0);
    });
}

/// A goroutine sleeps on a timer (`add_pending_wakeup`, then it blocks);
/// the only M with a P goes idle, so every M sleeps and no G is runnable —
/// but the timer will fire. The timer side (this thread, which is no M)
/// readies the G and then drops the pending count (`ready_pending`). The
/// detector never fires, and the G runs.
#[test]
fn never_fires_while_a_timer_is_pending() {
    check("deadlock: quiet while a timer is pending", || {
        let w = World::new(1);
        let g = w.blocked_g(WaitReason::Sleep);
        w.sched.add_pending_wakeup();
        let m0 = w.spawn_finder_m();
        // `ready_pending`'s `wakep` may find M0 between giving up its P and
        // parking; then it starts this one.
        let m1 = w.spawn_idle_m();

        // The timer fires.
        w.sched.ready_pending(g, None);

        m0.join().unwrap();
        m1.join().unwrap();
        w.assert_no_report();
        assert_eq!(w.runs.load(Ordering::Relaxed), 1, "the sleeper must run");
    });
}

/// M0 (this thread) runs goroutine G2, which readies the blocked G1 (into
/// M0's `runnext`, as `wg.done()` would) and then blocks itself, while M1
/// looks for work and goes idle. At every moment some G is running or
/// runnable, so the detector never fires; G1 runs, on M0 or stolen by M1.
#[test]
fn never_fires_while_a_goroutine_runs_or_is_runnable() {
    check("deadlock: quiet while a G runs or is runnable", || {
        let w = World::new(2);
        let g1 = w.blocked_g(WaitReason::Semacquire);
        let m0 = rt::new_m(w.sched);
        let p0 = rt::acquire_idle_p(w.sched, m0);
        let g2 = rt::new_g(w.sched);
        rt::set_status(g2, Status::Runnable, Status::Running);
        let m1 = w.spawn_finder_m();
        let m2 = w.spawn_idle_m();

        // G2, running on M0: wake G1, then block.
        w.sched.ready(g1, Some(p0));
        rt::park_g(g2, WaitReason::Semacquire);
        // M0 goes back to its scheduler loop.
        w.run_m(m0);

        m1.join().unwrap();
        m2.join().unwrap();
        w.assert_no_report();
        assert_eq!(w.runs.load(Ordering::Relaxed), 1, "G1 must run");
    });
}
