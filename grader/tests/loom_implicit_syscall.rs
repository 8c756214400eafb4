//! Loom model of the implicit hand-off (`runtime/src/implicit_syscall.rs`):
//! sysmon takes the P of a goroutine whose thread blocked outside the
//! runtime, while that goroutine may be entering the runtime at that very
//! moment.
//!
//! G1 runs its own code on M0 with P0 (G2 queued behind it). Then its thread
//! "returns" into the runtime: the fast side of the handshake (store
//! `in_user = false`, a fence, load `handoff`). Meanwhile sysmon (this
//! thread) claims G1 (`handoff` NONE -> LOOKING, the barrier, re-read
//! `in_user`, LOOKING -> CONVERTING, G1 and P0 to `Syscall`) and, if it won,
//! hands P0 off (`sysmon::retake_p`) to an idle M that runs G2. G1, having
//! seen its P taken, lets go of it and leaves the "syscall" as
//! `exitsyscall` does: P0 back, an idle P, or the global queue.
//!
//! In the runtime the goroutine's fence is only a compiler fence and sysmon's
//! barrier is `membarrier`, which makes it a real one; the model gives both
//! sides a SeqCst fence, which is what `membarrier` amounts to.
//!
//! The properties: P0 is never owned by two Ms at once (every M that runs a
//! G writes P0's owner-only state, a loom cell: two owners race on it),
//! never lost (idle, on the idle list once, at the end), and each G runs
//! exactly once, whether sysmon lost (G1 was already in the runtime, or
//! cancelled the claim), or won and G1 got a P back or had to queue.
//!
//! Seeded bug (see `grader/loom-bite.sh`): `implicit_no_recheck` (sysmon
//! does not re-read `in_user` after its barrier: a G that entered the
//! runtime between sysmon's first look and its flag keeps using a P that
//! sysmon hands to another M).
#![cfg(loom)]

mod loom_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;
use runtime::loom_api::{self as rt, GRef, PStatus, Sched, Status, M, P};

use loom_support::{check_capped, g_exit, m_loop, Data};

/// One P, held by M0, which runs G1's own code; G2 queued on the P; M1 and
/// M2 asleep on the idle list (as in `loom_syscall.rs`).
struct World {
    sched: &'static Sched,
    p0: &'static P,
    g1: GRef,
    g2: GRef,
    /// How often each G ran (plain std atomics: read after every join).
    runs: [AtomicUsize; 2],
    /// P0's owner-only state: written by every M that runs a G on it.
    p0_local: Data,
    /// 0: G1 kept its P; 1: taken, got one back; 2: taken, queued.
    outcome: AtomicUsize,
}

/// Which ways the race went, over all executions (bits of `World::outcome`).
static OUTCOMES: AtomicUsize = AtomicUsize::new(0);

impl World {
    fn new() -> (Arc<World>, &'static M, [&'static M; 2]) {
        let sched = rt::new_sched();
        sched.procresize(1);
        let m0 = rt::new_m(sched);
        let p0 = rt::acquire_idle_p(sched, m0);
        let g1 = rt::new_g(sched);
        rt::set_status(g1, Status::Runnable, Status::Running);
        rt::run_user_code(p0, g1);
        let g2 = rt::new_g(sched);
        rt::runqput(p0, g2, false, |_| unreachable!("one G fits"));
        let idle = [rt::new_m(sched), rt::new_m(sched)];
        for m in idle {
            assert!(rt::midle_enter(sched, m));
        }
        let w = Arc::new(World {
            sched,
            p0,
            g1,
            g2,
            runs: [AtomicUsize::new(0), AtomicUsize::new(0)],
            p0_local: Data::new(),
            outcome: AtomicUsize::new(0),
        });
        (w, m0, idle)
    }

    /// Run the rest of `g` on `m` (which holds a P): touch the P's
    /// owner-only state, count the run, finish the G; the last G to run
    /// stops the model.
    fn run(&self, m: &'static M, g: GRef) {
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

    /// M0: G1's own code blocked the thread; now it enters the runtime.
    fn spawn_m0(self: &Arc<Self>, m0: &'static M) -> thread::JoinHandle<()> {
        let w = self.clone();
        thread::spawn(move || {
            match rt::enter_runtime(m0, w.g1) {
                (true, _) => w.run(m0, w.g1),
                (false, oldp) => {
                    // sysmon took P0: G1 is in a syscall as far as the
                    // scheduler knows; leave it as `exitsyscall` does.
                    let oldp = oldp.expect("a taken P is named");
                    if rt::exitsyscall(w.sched, m0, w.g1, oldp) {
                        w.outcome.store(1, Ordering::Relaxed);
                        w.run(m0, w.g1);
                    } else {
                        w.outcome.store(2, Ordering::Relaxed);
                        rt::exitsyscall0(w.sched, m0, w.g1);
                    }
                }
            }
            m_loop(w.sched, m0, |g| w.run(m0, g));
        })
    }

    /// An M asleep on the idle list until someone hands it a P.
    fn spawn_idle_m(self: &Arc<Self>, m: &'static M) -> thread::JoinHandle<()> {
        let w = self.clone();
        thread::spawn(move || {
            if rt::mpark(w.sched, m) {
                m_loop(w.sched, m, |g| w.run(m, g));
            }
        })
    }

    fn assert_done(&self) {
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

/// G1 enters the runtime on M0 while sysmon claims it and, if it wins,
/// hands P0 off with G2 queued.
#[test]
fn sysmon_claim_races_runtime_entry() {
    // Five threads and the handshake's atomics: at 3 preemptions 1.4M
    // executions (3.5 min), too many for CI's budget; 2 reach every outcome
    // and the seeded bug.
    check_capped(
        "implicit syscall: sysmon's claim races the goroutine's runtime entry",
        2,
        3,
        || {
            let (w, m0, idle) = World::new();
            let mut ms = vec![w.spawn_m0(m0)];
            ms.extend(idle.map(|m| w.spawn_idle_m(m)));
            // sysmon: P0 ran G1 for a whole time slice and the kernel says
            // M0 is blocked.
            let claimed = rt::claim_blocked(w.g1, w.p0);
            if claimed {
                // G1 may take P0 back first (`exitsyscall`'s fast path).
                rt::retake(w.sched, w.p0);
            }
            for t in ms {
                t.join().unwrap();
            }
            w.assert_done();
            let outcome = w.outcome.load(Ordering::Relaxed);
            assert_eq!(claimed, outcome != 0, "G1 saw its P taken iff sysmon won");
            OUTCOMES.fetch_or(1 << outcome, Ordering::Relaxed);
        },
    );
    assert_eq!(
        OUTCOMES.load(Ordering::Relaxed),
        0b111,
        "the model must reach: G1 keeps its P, gets one back, and queues"
    );
}
