//! Loom models of a P's local run queue: `runnext` (`runtime/src/p.rs`) in
//! front of the lock-free ring (`runtime/src/runq.rs`, shrunk to
//! `LOCAL_QUEUE_SIZE` = 4 slots under loom so overflow and steal-half are a
//! few steps away).
//!
//! Only the P's owner pushes; the owner and thieves on other Ms take. The
//! property: every G put on the queue comes out exactly once — run by the
//! owner, stolen by the thief, or moved to the global queue by an overflow —
//! none lost, none twice.
//!
//! Seeded bug that these models catch (see `grader/loom-bite.sh`):
//! `runq_tail` (the owner publishes `tail` without Release, so a thief can
//! take a slot before the G in it is visible).
#![cfg(loom)]

mod loom_support;

use std::collections::HashMap;

use loom::thread;
use runtime::loom_api::{self as rt, GRef, LOCAL_QUEUE_SIZE, P};

use loom_support::check;

/// A leaked P (the scheduler hands Ps around as `&'static P`).
fn new_p(id: usize) -> &'static P {
    Box::leak(Box::new(P::new(id)))
}

/// Assert that `out` holds each of `gs` exactly once.
fn assert_exactly_once(gs: &[GRef], out: &[GRef]) {
    let mut seen: HashMap<u64, usize> = HashMap::new();
    for g in out {
        assert!(
            gs.iter().any(|x| std::ptr::eq(*x, *g)),
            "a G came out that was never put in (goid {})",
            g.goid()
        );
        *seen.entry(g.goid()).or_default() += 1;
    }
    for g in gs {
        let n = seen.get(&g.goid()).copied().unwrap_or(0);
        assert_eq!(n, 1, "G {} came out {n} times, not exactly once", g.goid());
    }
}

/// Everything the thief's P holds now (the thief owns it).
fn drain(p: &P) -> Vec<GRef> {
    std::iter::from_fn(|| rt::runqget(p).map(|(g, _)| g)).collect()
}

/// The owner makes `LOCAL_QUEUE_SIZE + 2` Gs runnable on its P the way `go`
/// does (`Sched::runqput`: into `runnext`, kicking the previous one into the
/// ring, a full ring sending half of itself plus one to the global queue),
/// then runs everything left on its P. Meanwhile a thief steals half of the
/// ring (or, when it is empty, `runnext`) into its own P and runs that.
/// Every G is run or found on the global queue exactly once.
#[test]
fn push_overflow_and_steal() {
    check("runq: runnext + ring + overflow vs steal", || {
        let sched = rt::new_sched();
        let (p0, p1) = (new_p(0), new_p(1));
        let n = LOCAL_QUEUE_SIZE as usize + 2;
        let gs: Vec<GRef> = (0..n).map(|_| rt::new_g(sched)).collect();

        let owner = {
            let gs = gs.clone();
            thread::spawn(move || {
                for g in gs {
                    sched.runqput(g, Some(p0));
                }
                drain(p0)
            })
        };
        let thief = thread::spawn(move || {
            let mut got: Vec<GRef> = rt::runqsteal(p1, p0, true).into_iter().collect();
            got.extend(drain(p1));
            got
        });

        let mut out = owner.join().unwrap();
        out.extend(thief.join().unwrap());
        out.extend(rt::globrunq_take_all(sched));
        assert_exactly_once(&gs, &out);
    });
}

/// The ring wraps around while two consumers race: the owner pushes two Gs
/// straight into the ring, takes them, pushes three more (reusing the slots
/// of the first two), and takes again, while a thief steals twice. A thief
/// that read a slot before the owner's write was visible, or claimed one
/// twice, would return a missing or repeated G.
#[test]
fn wraparound_pop_vs_steal() {
    check("runq: wrap-around, pop vs steal", || {
        let sched = rt::new_sched();
        let (p0, p1) = (new_p(0), new_p(1));
        let gs: Vec<GRef> = (0..5).map(|_| rt::new_g(sched)).collect();

        let owner = {
            let gs = gs.clone();
            thread::spawn(move || {
                let push = |&g: &GRef| rt::runqput(p0, g, false, |_| panic!("no overflow here"));
                let mut got = Vec::new();
                gs[..2].iter().for_each(push);
                got.extend(drain(p0));
                gs[2..].iter().for_each(push);
                got.extend(drain(p0));
                got
            })
        };
        let thief = thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..2 {
                got.extend(rt::runqsteal(p1, p0, false));
                got.extend(drain(p1));
            }
            got
        });

        let mut out = owner.join().unwrap();
        out.extend(thief.join().unwrap());
        assert_exactly_once(&gs, &out);
    });
}
