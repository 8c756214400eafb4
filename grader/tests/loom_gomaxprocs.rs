//! Loom models of resizing GOMAXPROCS while Ms hand Ps around
//! (`Sched::procresize` in `runtime/src/sched.rs`, `retire_p`, and the
//! hand-off and destroy paths of sysmon's retake in `runtime/src/sysmon.rs`).
//!
//! Go stops the world to resize; we do not. A shrink destroys the idle Ps
//! beyond the new limit at once and leaves every other one to whoever owns
//! it next: the M running on it retires it at its next scheduling point
//! (`retire_p`), and sysmon destroys one it takes back from a system call.
//! A P in hand-off (taken off the idle list for an M that is waking up) is
//! owned by that M and must be left alone: a shrink that destroyed it once
//! left the woken M holding a dead P, silently killing that M.
//!
//! The properties: no M ever runs a G on a destroyed P, no G is stranded on
//! a destroyed P's queue (every G runs, exactly once), and at the end every
//! P beyond the limit is dead and every P within it is idle on the list.
//!
//! Seeded bugs that these models catch (see `grader/loom-bite.sh`):
//! `shrink_kills_handoff` (a shrink destroys every idle-looking P beyond the
//! limit, including one in hand-off to a waking M).
#![cfg(loom)]

mod loom_support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use loom::thread;
use runtime::loom_api::{self as rt, GRef, PStatus, Sched, Status, M, P};

use loom_support::{check_capped, g_exit, m_loop};

/// Two Ps. M0 holds P1 and runs G1, which is about to enter a system call
/// with G2 queued behind it on P1; P0 is idle; M1 and M2 sleep on the idle
/// list (enough for every hand-off and `wakep` of the model: with two Ps
/// the runtime would start a new M where a model has none left).
struct World {
    sched: &'static Sched,
    p1: &'static P,
    gs: [GRef; 2],
    /// How often each G ran.
    runs: [AtomicUsize; 2],
}

impl World {
    fn new() -> (Arc<World>, &'static M, [&'static M; 2]) {
        let sched = rt::new_sched();
        sched.procresize(2);
        let m0 = rt::new_m(sched);
        // `acquire_idle_p` pops the idle list: P1 first.
        let p1 = rt::acquire_idle_p(sched, m0);
        assert_eq!(p1.id, 1);
        let gs = [rt::new_g(sched), rt::new_g(sched)];
        rt::set_status(gs[0], Status::Runnable, Status::Running);
        rt::runqput(p1, gs[1], false, |_| unreachable!("one G fits"));
        let idle = [rt::new_m(sched), rt::new_m(sched)];
        for m in idle {
            assert!(rt::midle_enter(sched, m));
        }
        let w = Arc::new(World {
            sched,
            p1,
            gs,
            runs: [AtomicUsize::new(0), AtomicUsize::new(0)],
        });
        (w, m0, idle)
    }

    /// Run `g` on `m`: never on a dead P; the last G ends the model.
    fn run(&self, m: &'static M, g: GRef) {
        let p = m.p().expect("an M runs a G without a P");
        assert_ne!(p.status(), PStatus::Dead, "an M runs a G on a destroyed P");
        let i = self
            .gs
            .iter()
            .position(|x| std::ptr::eq(*x, g))
            .expect("an M ran a G nobody queued");
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

    /// M0: G1's system call returns; G1 runs on, on whatever P it got (it
    /// may be beyond the new limit: M0 retires it at its next scheduling
    /// point), or waits in the global queue while M0 goes idle.
    fn spawn_m0(self: &Arc<Self>, m0: &'static M) -> thread::JoinHandle<()> {
        let w = self.clone();
        thread::spawn(move || {
            let oldp = rt::entersyscall(w.sched, m0, w.gs[0]);
            if rt::exitsyscall(w.sched, m0, w.gs[0], oldp) {
                w.run(m0, w.gs[0]);
            } else {
                rt::exitsyscall0(w.sched, m0, w.gs[0]);
            }
            m_loop(w.sched, m0, |g| w.run(m0, g));
        })
    }

    /// An M asleep on the idle list until handed a P.
    fn spawn_idle_m(self: &Arc<Self>, m: &'static M) -> thread::JoinHandle<()> {
        let w = self.clone();
        thread::spawn(move || {
            if rt::mpark(w.sched, m) {
                m_loop(w.sched, m, |g| w.run(m, g));
            }
        })
    }

    /// M0 and the idle Ms, on their threads.
    fn spawn_ms(
        self: &Arc<Self>,
        m0: &'static M,
        idle: [&'static M; 2],
    ) -> Vec<thread::JoinHandle<()>> {
        let mut ms = vec![self.spawn_m0(m0)];
        ms.extend(idle.map(|m| self.spawn_idle_m(m)));
        ms
    }

    fn assert_done(&self, procs: usize) {
        let runs: Vec<usize> = self
            .runs
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .collect();
        assert_eq!(runs, [1, 1], "each G must run exactly once (a G stranded?)");
        assert_eq!(self.sched.gomaxprocs(), procs);
        let idle = rt::idle_ps(self.sched);
        for id in 0..2 {
            let p = self.sched.p(id).unwrap();
            if id < procs {
                assert!(idle.contains(&id), "P{id} is lost ({:?})", p.status());
            } else {
                assert_eq!(
                    p.status(),
                    PStatus::Dead,
                    "P{id} beyond GOMAXPROCS lives on"
                );
                assert!(!idle.contains(&id), "dead P{id} on the idle list");
            }
            assert_eq!(p.runq_len(), 0, "a G stranded on P{id}");
        }
        assert!(rt::deadlock_report(self.sched).is_none());
    }
}

/// `gomaxprocs(1)` (this thread) while G1 is in a system call on P1, which
/// is now beyond the limit, and sysmon takes P1 back: sysmon destroys it
/// (its queue goes global) or hands it off, or M0's fast path takes it back
/// and M0 retires it, or the shrink comes last and finds it idle.
#[test]
fn shrink_races_exitsyscall_and_retake() {
    // 26,497 executions at 2 preemptions; 521,900 at 3, in `just loom-deep`.
    check_capped("gomaxprocs: shrink vs exitsyscall vs retake", 2, 3, || {
        let (w, m0, idle) = World::new();
        let mut threads = w.spawn_ms(m0, idle);
        threads.push({
            let w = w.clone();
            thread::spawn(move || {
                rt::retake(w.sched, w.p1);
            })
        });
        rt::gomaxprocs(w.sched, 1);
        for t in threads {
            t.join().unwrap();
        }
        w.assert_done(1);
    });
}

/// Shrink to 1 and grow back to 2 (this thread) while G1's system call on
/// P1 returns: M0 keeps P1 and, at its next scheduling point, retires it if
/// the limit is still 1, or keeps it if it grew back; the grow revives P1
/// if it died meanwhile, or leaves it to its M. Either way P1 ends up alive
/// and idle, and both Gs run.
#[test]
fn shrink_and_grow_race_retire() {
    // 1,188 executions at 1 preemption; 123,660 at 2, in `just loom-deep`
    // (at 3 the model runs out of idle Ms).
    check_capped("gomaxprocs: shrink and grow vs retire", 1, 2, || {
        let (w, m0, idle) = World::new();
        let threads = w.spawn_ms(m0, idle);
        rt::gomaxprocs(w.sched, 1);
        rt::gomaxprocs(w.sched, 2);
        for t in threads {
            t.join().unwrap();
        }
        w.assert_done(2);
    });
}
