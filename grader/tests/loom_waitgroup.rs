//! Loom models of `WaitGroup` and the semaphore under it
//! (`runtime/src/sync/waitgroup.rs`, `sema.rs`, `park.rs`).
//!
//! Under loom every goroutine is a loom thread and parking is a loom park
//! (`Waiter::Thread`), so these models run the WaitGroup code of the runtime
//! unchanged. Data written before `done`/`release` lives in a
//! `loom::cell::UnsafeCell`: if the code lacked the Release/Acquire pair that
//! orders it, loom would report the read after `wait` as a data race.
//!
//! Seeded bugs that these models catch (see `grader/loom-bite.sh`):
//! `waitgroup_relaxed`, `waitgroup_lost_wakeup`, `waiter_unpark_first`.
#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use runtime::g::WaitReason;
use runtime::loom_api::Sema;
use runtime::WaitGroup;

use loom_support::{catch, check, quiet_expected_panics, Data};

/// A WaitGroup and two plain (non-atomic) values whose writes it orders.
struct Shared {
    wg: WaitGroup,
    data: [Data; 2],
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            wg: WaitGroup::new(),
            data: [Data::new(), Data::new()],
        })
    }

    fn write(&self, i: usize, v: u32) {
        self.data[i].write(v);
    }

    fn read(&self, i: usize) -> u32 {
        self.data[i].read()
    }
}

/// `wait()` returns only after the *last* `done()`, and every write made
/// before any `done()` is visible after `wait()` (two workers, each writes
/// its own value then calls `done`; the waiter may find the counter at 2, 1
/// or 0, registering as a waiter or not).
#[test]
fn wait_returns_after_last_done_and_sees_its_writes() {
    check("waitgroup: wait after the last done", || {
        let s = Shared::new();
        s.wg.add(2);
        let workers: Vec<_> = (0..2)
            .map(|i| {
                let s = s.clone();
                thread::spawn(move || {
                    s.write(i, 10 + i as u32);
                    s.wg.done();
                })
            })
            .collect();
        s.wg.wait();
        assert_eq!(s.wg.counter(), 0, "wait returned with a non-zero counter");
        assert_eq!(
            (s.read(0), s.read(1)),
            (10, 11),
            "a write before done is missing"
        );
        for w in workers {
            w.join().unwrap();
        }
    });
}

/// Several waiters: two goroutines wait while a third calls the last
/// `done`. Whether each waiter registers before, while or after the counter
/// reaches zero, both wake (no lost wakeup: loom would report the sleeping
/// waiter as a deadlock) and both see the worker's write.
#[test]
fn every_waiter_wakes() {
    check("waitgroup: two waiters, no lost wakeup", || {
        let s = Shared::new();
        s.wg.add(1);
        let worker = {
            let s = s.clone();
            thread::spawn(move || {
                s.write(0, 7);
                s.wg.done();
            })
        };
        let waiter = {
            let s = s.clone();
            thread::spawn(move || {
                s.wg.wait();
                s.read(0)
            })
        };
        s.wg.wait();
        assert_eq!(s.read(0), 7);
        assert_eq!(waiter.join().unwrap(), 7);
        worker.join().unwrap();
    });
}

/// A WaitGroup can be reused once `wait` has returned: a second round of
/// `add`/`done`/`wait` behaves like the first (the waiter count was reset).
#[test]
fn reuse_after_wait() {
    check("waitgroup: reuse after wait", || {
        let s = Shared::new();
        for round in 0..2u32 {
            s.wg.add(1);
            let worker = {
                let s = s.clone();
                thread::spawn(move || {
                    s.write(0, round + 1);
                    s.wg.done();
                })
            };
            s.wg.wait();
            assert_eq!(s.read(0), round + 1, "round {round}");
            worker.join().unwrap();
        }
    });
}

/// Go's message for a counter that goes below zero.
const NEGATIVE: &str = "sync: negative WaitGroup counter";

/// One `add(1)`, two concurrent `done()`s: exactly one of them panics, with
/// Go's message, whichever comes second.
#[test]
fn negative_counter_panics() {
    quiet_expected_panics(&[NEGATIVE]);
    check("waitgroup: negative counter panics", || {
        let s = Shared::new();
        s.wg.add(1);
        let a = {
            let s = s.clone();
            thread::spawn(move || catch(|| s.wg.done()))
        };
        let b = catch(|| s.wg.done());
        let a = a.join().unwrap();
        let panics: Vec<String> = [a, b].into_iter().filter_map(Result::err).collect();
        assert_eq!(panics, [NEGATIVE], "exactly one done must panic");
    });
}

/// A semaphore release happens-before the acquire it satisfies returns, and
/// an acquirer that parks is always woken, whether the release comes before
/// it queues, while it parks, or after (the handoff under WaitGroup and
/// channels: `park.rs` raises the waiter's flag, then unparks it).
#[test]
fn sema_release_happens_before_acquire() {
    check("sema: release happens-before acquire", || {
        let s = Arc::new((Sema::new(), Data::new()));
        let releaser = {
            let s = s.clone();
            thread::spawn(move || {
                s.1.write(5);
                s.0.release();
            })
        };
        s.0.acquire(WaitReason::Semacquire);
        assert_eq!(s.1.read(), 5);
        releaser.join().unwrap();
    });
}
