//! Loom models of idle and spinning Ms (`runtime/src/idle.rs`: `wakep`,
//! `startm`, `stopm`, `reset_spinning`; `find_runnable` in `sched.rs`; and the
//! "delicate dance": after an M stops spinning it looks at every queue once
//! more before it sleeps).
//!
//! The property: a G made runnable while Ms are going idle is always run.
//! There is no reachable state in which a runnable G sits in a queue and
//! every M sleeps, the lost wakeup of work-stealing schedulers; loom would
//! report that state as a deadlock, since every model thread would be
//! blocked.
//!
//! Ms are loom threads created up front (an M that the scheduler would have
//! to create panics: see `newm` under loom in `m.rs`); Gs are bare records
//! that the model "runs" (`loom_support::m_loop`, the M loop of `m.rs`).
//! Running the G shuts the model down, so every M returns once the G ran.
//! Ms, Ps and Gs are leaked per execution (the scheduler hands them around
//! as `&'static`); a few hundred bytes each.
//!
//! Seeded bugs that these models catch (see `grader/loom-bite.sh`):
//! `no_recheck` (a spinning M parks without looking at the queues again) and
//! `wakep_no_fence` (`wakep` reads the spinning count without the full fence
//! that orders it after the G's publication).
#![cfg(loom)]

mod loom_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;
use runtime::loom_api::{self as rt, GRef, Sched, M};

use loom_support::{check, check_capped, g_exit, m_loop};

/// What every model shares: the scheduler, its one G, and how often the G
/// ran (a plain std atomic: it is read after every thread was joined).
struct World {
    sched: &'static Sched,
    g: GRef,
    runs: AtomicUsize,
}

impl World {
    /// A scheduler with 2 Ps and one runnable G, not queued yet.
    fn new() -> Arc<World> {
        let sched = rt::new_sched();
        sched.procresize(2);
        let g = rt::new_g(sched);
        Arc::new(World {
            sched,
            g,
            runs: AtomicUsize::new(0),
        })
    }

    /// The body of an M thread: run Gs until shut down. Running the G ends
    /// the model.
    fn run_m(self: Arc<Self>, m: &'static M) {
        m_loop(self.sched, m, |g| {
            assert!(std::ptr::eq(g, self.g), "an M ran a G nobody queued");
            self.runs.fetch_add(1, Ordering::Relaxed);
            g_exit(g);
            rt::shutdown(self.sched);
        });
    }

    /// An M that is already parked on the idle list when the model starts;
    /// its thread sleeps until `startm` hands it a P.
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

    /// An M that holds a P and is about to look for work.
    fn spawn_finder_m(self: &Arc<Self>) -> thread::JoinHandle<()> {
        let m = rt::new_m(self.sched);
        rt::acquire_idle_p(self.sched, m);
        let w = self.clone();
        thread::spawn(move || w.run_m(m))
    }

    fn assert_ran_once(&self) {
        assert_eq!(self.runs.load(Ordering::Relaxed), 1, "the G must run once");
        assert!(rt::deadlock_report(self.sched).is_none());
    }
}

/// `go` from a busy M: M0 runs a goroutine that executes `go f()`, which puts
/// the new G in M0's `runnext` and calls `wakep`; M0 then stays busy (its
/// goroutine keeps running), so another M must steal the G. Meanwhile M1
/// finds nothing, spins, gives up its P and goes idle, and M2 sleeps on the
/// idle list from the start (the M that `startm` wakes when M1 is between
/// releasing its P and parking). The G is always run, by M1 or M2.
#[test]
fn go_from_busy_m_while_other_m_goes_idle() {
    check("idle: go from a busy M vs an M going idle", || {
        let w = World::new();
        let m0 = rt::new_m(w.sched);
        let p0 = rt::acquire_idle_p(w.sched, m0);
        let m1 = w.spawn_finder_m();
        let m2 = w.spawn_idle_m();

        // M0 (this thread): `go f()`, then busy for good.
        w.sched.runqput(w.g, Some(p0));

        m1.join().unwrap();
        m2.join().unwrap();
        w.assert_ran_once();
    });
}

/// A G made runnable from outside the scheduler (a timer, a thread calling
/// `block_on`, a goroutine's M with no P) goes to the global queue and calls
/// `wakep`, while M0, holding a P, looks for work and goes idle. M1 and M2
/// sleep on the idle list: `wakep` may start one, and the M that finds the G
/// calls `wakep` again (`reset_spinning`) and may start the other, while M0
/// is between releasing its P and parking. The G is always run, once.
#[test]
fn global_queue_put_while_m_goes_idle() {
    // 82,665 executions at 2 preemptions; 2,274,241 at 3 (minutes), in
    // `just loom-deep`.
    check_capped("idle: global queue put vs an M going idle", 2, 3, || {
        let w = World::new();
        let m0 = w.spawn_finder_m();
        let m1 = w.spawn_idle_m();
        let m2 = w.spawn_idle_m();

        // This thread is not an M: it has no P, so the G goes global.
        w.sched.runqput(w.g, None);

        for m in [m0, m1, m2] {
            m.join().unwrap();
        }
        w.assert_ran_once();
    });
}
