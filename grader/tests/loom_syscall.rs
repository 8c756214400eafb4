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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;
use runtime::loom_api::{self as rt, M};

use loom_support::one_p::{OneP, GOT_P_BACK, KEPT_P, QUEUED};
use loom_support::{check, m_loop};

/// Which ways the race went, over all executions: bit 0, M0 kept its P;
/// bit 1, sysmon took it and M0 got it back idle; bit 2, sysmon took it and
/// M0 found no P (the slow path). The model must reach all three.
static OUTCOMES: AtomicUsize = AtomicUsize::new(0);

/// M0 (world: `loom_support/one_p.rs`): G1 enters a system call, which
/// returns; G1 then runs on, on whatever P `exitsyscall` got, or waits in
/// the global queue.
fn spawn_m0(w: &Arc<OneP>, m0: &'static M) -> thread::JoinHandle<()> {
    let w = w.clone();
    thread::spawn(move || {
        let oldp = rt::entersyscall(w.sched, m0, w.g1);
        // ... the system call blocks this thread ...
        w.leave_syscall(m0, oldp);
        m_loop(w.sched, m0, |g| w.run(m0, g));
    })
}

/// G1 enters and leaves a system call on M0 while sysmon (this thread) runs
/// its retake step once on the P, with G2 queued behind G1. Depending on
/// who wins the P: M0 keeps it and runs G1 then G2 (fast path); or sysmon
/// hands it to an idle M, which runs G2, and M0 takes it back once idle, or
/// queues G1 for another M and goes idle (slow path).
#[test]
fn exitsyscall_races_retake() {
    check("syscall: exitsyscall races sysmon's retake", || {
        let (w, m0, idle) = OneP::new(false);
        let mut ms = vec![spawn_m0(&w, m0)];
        ms.extend(idle.map(|m| w.spawn_idle_m(m)));
        // sysmon: one look at the P (it has seen this syscall long enough).
        let retaken = rt::retake(w.sched, w.p0);
        for t in ms {
            t.join().unwrap();
        }
        w.assert_done();
        // M0 always "gets a P back" from its syscall; it kept it if sysmon
        // did not take it.
        let outcome = match (retaken, w.outcome.load(Ordering::Relaxed)) {
            (false, GOT_P_BACK) => KEPT_P,
            (false, _) => panic!("M0 lost a P nobody took"),
            (true, o) => o,
        };
        assert!(outcome == KEPT_P || outcome == GOT_P_BACK || outcome == QUEUED);
        OUTCOMES.fetch_or(1 << outcome, Ordering::Relaxed);
    });
    assert_eq!(
        OUTCOMES.load(Ordering::Relaxed),
        0b111,
        "the model must reach the fast path, the idle-P path and the slow path"
    );
}
