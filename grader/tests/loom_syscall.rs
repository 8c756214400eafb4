//! Loom models of the syscall hand-off (`runtime/src/syscall.rs`:
//! `entersyscall`, `exitsyscall` and its fast path, `exitsyscall0`; and
//! sysmon's retake step, `retake_p` in `runtime/src/sysmon.rs`).
//!
//! A goroutine entering a system call publishes `PStatus::Syscall` and its M
//! lets go of the P without giving it away. sysmon may then take the P (one
//! compare-and-swap `Syscall` -> `Idle`) and hand it to another M. When the
//! call returns, `exitsyscall` races sysmon for the P with its own
//! compare-and-swap `Syscall` -> `Running` (the fast path); if sysmon won, it
//! takes any idle P, or, failing that, queues its goroutine on the global
//! queue and stops its M (the slow path, Go's `exitsyscall0`). Go's own
//! history has bugs exactly here.
//!
//! The properties: a P is never owned by two Ms at once (each M that runs a
//! G writes the P's owner-only state, a loom cell: two owners race on it,
//! which loom reports), never lost (at the end every P is idle on the idle
//! list), and the goroutine of the syscall runs again exactly once, as does
//! the goroutine queued behind it, whichever side wins.
//!
//! Seeded bugs that these models catch (see `grader/loom-bite.sh`):
//! `exitsyscall_no_cas` (the fast path reads the P's status, then writes
//! `Running`: sysmon can retake the P in between and hand it to another M,
//! and both Ms own it).
#![cfg(loom)]

mod loom_support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;
use runtime::loom_api::{self as rt, GRef, PStatus, Sched, Status, M, P};

use loom_support::{check, g_exit, m_loop, Data};

/// A scheduler with one P, held by M0, whose goroutine G1 is about to enter
/// a system call while G2 waits in the P's run queue; M1 and M2 sleep on the
/// idle list (two: M0 may queue G1 and call `wakep` while the M that ran G2
/// has given up the P but is not on the idle list yet, and the runtime
/// would then start a new M).
struct World {
    sched: &'static Sched,
    p0: &'static P,
    g1: GRef,
    g2: GRef,
    /// How often each G ran (plain std atomics: read after every join).
    runs: [AtomicUsize; 2],
    /// The P's owner-only state: written by every M that runs a G on it.
    p0_local: Data,
    /// Did `exitsyscall` get a P (fast path or idle P)?
    exit_got_p: AtomicBool,
}

/// Which ways the race went, over all executions: bit 0, M0 kept its P;
/// bit 1, sysmon took it and M0 got it back idle; bit 2, sysmon took it and
/// M0 found no P (the slow path). The model must reach all three.
static OUTCOMES: AtomicUsize = AtomicUsize::new(0);

impl World {
    fn new() -> (Arc<World>, &'static M, [&'static M; 2]) {
        let sched = rt::new_sched();
        sched.procresize(1);
        let m0 = rt::new_m(sched);
        let p0 = rt::acquire_idle_p(sched, m0);
        let g1 = rt::new_g(sched);
        rt::set_status(g1, Status::Runnable, Status::Running);
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
            exit_got_p: AtomicBool::new(false),
        });
        (w, m0, idle)
    }

    /// Run `g` on `m` (which holds a P): touch the P's owner-only state,
    /// count the run, finish the G; the last G to run stops the model.
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

    /// M0: G1 enters a system call, which returns; G1 then runs on, on
    /// whatever P `exitsyscall` got, or waits in the global queue.
    fn spawn_m0(self: &Arc<Self>, m0: &'static M) -> thread::JoinHandle<()> {
        let w = self.clone();
        thread::spawn(move || {
            let oldp = rt::entersyscall(w.sched, m0, w.g1);
            // ... the system call blocks this thread ...
            if rt::exitsyscall(w.sched, m0, w.g1, oldp) {
                w.exit_got_p.store(true, Ordering::Relaxed);
                w.run(m0, w.g1);
            } else {
                // No P: G1 waits in the global queue; M0, holding no P,
                // stops in its next scheduling round until handed one.
                rt::exitsyscall0(w.sched, m0, w.g1);
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

/// G1 enters and leaves a system call on M0 while sysmon (this thread) runs
/// its retake step once on the P, with G2 queued behind G1. Depending on
/// who wins the P: M0 keeps it and runs G1 then G2 (fast path); or sysmon
/// hands it to an idle M, which runs G2, and M0 takes it back once idle, or
/// queues G1 for another M and goes idle (slow path).
#[test]
fn exitsyscall_races_retake() {
    check("syscall: exitsyscall races sysmon's retake", || {
        let (w, m0, idle) = World::new();
        let mut ms = vec![w.spawn_m0(m0)];
        ms.extend(idle.map(|m| w.spawn_idle_m(m)));
        // sysmon: one look at the P (it has seen this syscall long enough).
        let retaken = rt::retake(w.sched, w.p0);
        for t in ms {
            t.join().unwrap();
        }
        w.assert_done();
        let outcome = match (retaken, w.exit_got_p.load(Ordering::Relaxed)) {
            (false, got) => {
                assert!(got, "M0 lost a P nobody took");
                0
            }
            (true, true) => 1,
            (true, false) => 2,
        };
        OUTCOMES.fetch_or(1 << outcome, Ordering::Relaxed);
    });
    assert_eq!(
        OUTCOMES.load(Ordering::Relaxed),
        0b111,
        "the model must reach the fast path, the idle-P path and the slow path"
    );
}
