//! The world of the two hand-off models (`loom_syscall.rs`,
//! `loom_implicit_syscall.rs`): a scheduler with one P, held by M0, whose
//! goroutine G1 is about to leave it (a system call, or a thread blocked
//! outside the runtime) while G2 waits in the P's run queue; M1 and M2
//! sleep on the idle list (two: M0 may queue G1 and call `wakep` while the
//! M that ran G2 has given up the P but is not on the idle list yet, and
//! the runtime would then start a new M). Each model writes only M0's part
//! and sysmon's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;
use runtime::loom_api::{self as rt, GRef, PStatus, Sched, Status, M, P};

use super::{g_exit, m_loop, Data};

/// How G1 left its P, as M0 saw it.
pub const KEPT_P: usize = 0;
/// The P was taken (or given up), and `exitsyscall` got one back.
pub const GOT_P_BACK: usize = 1;
/// The P was taken, and G1 waits in the global queue (the slow path).
pub const QUEUED: usize = 2;

pub struct OneP {
    pub sched: &'static Sched,
    pub p0: &'static P,
    pub g1: GRef,
    pub g2: GRef,
    /// How often each G ran (plain std atomics: read after every join).
    runs: [AtomicUsize; 2],
    /// P0's owner-only state: written by every M that runs a G on it; two
    /// owners at once race on it, which loom reports.
    p0_local: Data,
    /// [`KEPT_P`], [`GOT_P_BACK`] or [`QUEUED`], stored by M0.
    pub outcome: AtomicUsize,
}

impl OneP {
    /// The world, G1 running on M0; `in_user_code`: G1 is running its own
    /// code (outside the runtime), as the implicit hand-off needs.
    pub fn new(in_user_code: bool) -> (Arc<OneP>, &'static M, [&'static M; 2]) {
        let sched = rt::new_sched();
        sched.procresize(1);
        let m0 = rt::new_m(sched);
        let p0 = rt::acquire_idle_p(sched, m0);
        let g1 = rt::new_g(sched);
        rt::set_status(g1, Status::Runnable, Status::Running);
        if in_user_code {
            rt::run_user_code(p0, g1);
        }
        let g2 = rt::new_g(sched);
        rt::runqput(p0, g2, false, |_| unreachable!("one G fits"));
        let idle = [rt::new_m(sched), rt::new_m(sched)];
        for m in idle {
            assert!(rt::midle_enter(sched, m));
        }
        let w = Arc::new(OneP {
            sched,
            p0,
            g1,
            g2,
            runs: [AtomicUsize::new(0), AtomicUsize::new(0)],
            p0_local: Data::new(),
            outcome: AtomicUsize::new(KEPT_P),
        });
        (w, m0, idle)
    }

    /// Run (the rest of) `g` on `m` (which holds a P): touch the P's
    /// owner-only state, count the run, finish the G; the last G to run
    /// stops the model.
    pub fn run(&self, m: &'static M, g: GRef) {
        let p = m.p().expect("an M runs a G without a P");
        assert!(std::ptr::eq(p, self.p0));
        self.p0_local.write(self.p0_local.read() + 1);
        let i = if std::ptr::eq(g, self.g1) {
            0
        } else {
            assert!(std::ptr::eq(g, self.g2), "an M ran a G nobody queued");
            1
        };
        self.runs[i].fetch_add(1, Ordering::Relaxed);
        g_exit(g);
        if self
            .runs
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .sum::<usize>()
            == 2
        {
            rt::shutdown(self.sched);
        }
    }

    /// M0 after G1's system call returned (`oldp`: the P it had): G1 runs
    /// on, on whatever P `exitsyscall` got, or waits in the global queue
    /// while M0, holding no P, stops in its next scheduling round until
    /// handed one. Records the outcome.
    pub fn leave_syscall(&self, m0: &'static M, oldp: &'static P) {
        if rt::exitsyscall(self.sched, m0, self.g1, oldp) {
            self.outcome.store(GOT_P_BACK, Ordering::Relaxed);
            self.run(m0, self.g1);
        } else {
            self.outcome.store(QUEUED, Ordering::Relaxed);
            rt::exitsyscall0(self.sched, m0, self.g1);
        }
    }

    /// An M asleep on the idle list until someone hands it a P.
    pub fn spawn_idle_m(self: &Arc<Self>, m: &'static M) -> thread::JoinHandle<()> {
        let w = self.clone();
        thread::spawn(move || {
            if rt::mpark(w.sched, m) {
                m_loop(w.sched, m, |g| w.run(m, g));
            }
        })
    }

    /// Each G ran once, and the P is idle, on the idle list once.
    pub fn assert_done(&self) {
        let runs: Vec<usize> = self
            .runs
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .collect();
        assert_eq!(runs, [1, 1], "each G must run exactly once (G1, G2)");
        assert_eq!(self.p0.status(), PStatus::Idle, "the P is lost");
        assert_eq!(
            rt::idle_ps(self.sched),
            [0],
            "the P must be on the idle list, once"
        );
        assert!(rt::deadlock_report(self.sched).is_none());
    }
}
