//! `runtime::sync` as Go's `sync` behaves, run on real goroutines: the
//! waits park the goroutine, so they work on one P where `std::sync` hangs.

#![cfg(not(loom))]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use runtime::sync::{Cond, LazyLock, Mutex, Once, OnceLock, RwMutex};
use runtime::WaitGroup;

/// Many goroutines increment a counter under the mutex, yielding *while
/// holding it*: on one P the holder must be rescheduled while the others
/// are parked (a `std::sync::Mutex` here hangs the only M).
#[test]
fn mutex_excludes_and_parks_at_several_gomaxprocs() {
    for procs in [1, 2, 4] {
        let total = runtime::block_on(move || {
            runtime::gomaxprocs(procs);
            let m = Arc::new(Mutex::new(0u64));
            let wg = Arc::new(WaitGroup::new());
            for _ in 0..8 {
                wg.add(1);
                let (m, wg) = (m.clone(), wg.clone());
                runtime::go(move || {
                    for i in 0..200 {
                        let mut n = m.lock();
                        let seen = *n;
                        if i % 3 == 0 {
                            runtime::gosched();
                        }
                        *n = seen + 1;
                    }
                    wg.done();
                });
            }
            wg.wait();
            let n = *m.lock();
            n
        });
        assert_eq!(total, 8 * 200, "GOMAXPROCS={procs}");
    }
}

/// Go's starvation mode: on one P, goroutine A takes the lock again and
/// again, yielding while it holds it; B asks once. In normal mode B, woken
/// on each unlock, always finds A holding the lock again (A runs first and
/// barges in), so only the handoff of starvation mode (after B waited
/// 1 ms) lets B in. Without it B would wait for the whole of A's loop.
#[test]
fn mutex_starvation_mode_hands_the_lock_to_a_long_waiter() {
    let (b_got_it, a_rounds) = runtime::block_on(|| {
        runtime::gomaxprocs(1);
        let m = Arc::new(Mutex::new(()));
        let b_done = Arc::new(AtomicBool::new(false));
        let wg = Arc::new(WaitGroup::new());
        wg.add(2);
        let a = Arc::new(AtomicUsize::new(0));
        {
            let (m, b_done, wg, rounds) = (m.clone(), b_done.clone(), wg.clone(), a.clone());
            runtime::go(move || {
                while !b_done.load(Ordering::Acquire) && rounds.load(Ordering::Relaxed) < 200_000 {
                    let g = m.lock();
                    runtime::gosched();
                    drop(g);
                    rounds.fetch_add(1, Ordering::Relaxed);
                }
                wg.done();
            });
        }
        runtime::gosched(); // A holds the lock now
        {
            let (m, b_done, wg) = (m.clone(), b_done.clone(), wg.clone());
            runtime::go(move || {
                let _g = m.lock();
                b_done.store(true, Ordering::Release);
                wg.done();
            });
        }
        wg.wait();
        (b_done.load(Ordering::Acquire), a.load(Ordering::Relaxed))
    });
    assert!(b_got_it, "B never got the lock in {a_rounds} rounds of A");
    assert!(a_rounds < 200_000, "B got the lock only after A stopped");
}

#[test]
fn try_lock_fails_while_held() {
    runtime::block_on(|| {
        let m = Mutex::new(5);
        let g = m.lock();
        assert!(m.try_lock().is_none());
        drop(g);
        assert_eq!(*m.try_lock().expect("free"), 5);
    });
}

/// Two readers hold the lock at once: each waits, inside its read section,
/// for the other to be inside too.
#[test]
fn rwmutex_readers_share() {
    runtime::block_on(|| {
        runtime::gomaxprocs(1);
        let rw = Arc::new(RwMutex::new(7));
        let inside = Arc::new(AtomicU32::new(0));
        let wg = Arc::new(WaitGroup::new());
        for _ in 0..2 {
            wg.add(1);
            let (rw, inside, wg) = (rw.clone(), inside.clone(), wg.clone());
            runtime::go(move || {
                let r = rw.read();
                inside.fetch_add(1, Ordering::AcqRel);
                while inside.load(Ordering::Acquire) < 2 {
                    runtime::gosched();
                }
                assert_eq!(*r, 7);
                wg.done();
            });
        }
        wg.wait();
    });
}

/// Writer preference (Go's RWMutex): while a reader holds the lock and a
/// writer waits, a reader that arrives later waits behind the writer, so it
/// sees the writer's value.
#[test]
fn rwmutex_prefers_a_waiting_writer_over_new_readers() {
    let late_reader_saw = runtime::block_on(|| {
        runtime::gomaxprocs(1);
        let rw = Arc::new(RwMutex::new(0));
        let first = rw.read();
        let wg = Arc::new(WaitGroup::new());
        wg.add(2);
        {
            let (rw, wg) = (rw.clone(), wg.clone());
            runtime::go(move || {
                *rw.write() = 1;
                wg.done();
            });
        }
        // Until the writer has announced itself, readers still get in.
        while let Some(r) = rw.try_read() {
            drop(r);
            runtime::gosched();
        }
        let saw = Arc::new(AtomicU32::new(99));
        {
            let (rw, wg, saw) = (rw.clone(), wg.clone(), saw.clone());
            runtime::go(move || {
                saw.store(*rw.read(), Ordering::Relaxed);
                wg.done();
            });
        }
        runtime::gosched(); // the late reader parks behind the writer
        drop(first);
        wg.wait();
        saw.load(Ordering::Relaxed)
    });
    assert_eq!(late_reader_saw, 1);
}

/// Once: ten goroutines on one or two Ps call `call_once` whose function
/// sleeps (parks); it runs once, and every caller returns only after it
/// finished.
#[test]
fn once_runs_once_and_callers_wait_for_it() {
    for procs in [1, 2] {
        let (runs, early) = runtime::block_on(move || {
            runtime::gomaxprocs(procs);
            let once = Arc::new(Once::new());
            let runs = Arc::new(AtomicU32::new(0));
            let finished = Arc::new(AtomicBool::new(false));
            let early = Arc::new(AtomicU32::new(0));
            let wg = Arc::new(WaitGroup::new());
            for _ in 0..10 {
                wg.add(1);
                let (once, runs, finished, early, wg) = (
                    once.clone(),
                    runs.clone(),
                    finished.clone(),
                    early.clone(),
                    wg.clone(),
                );
                runtime::go(move || {
                    once.call_once(|| {
                        runs.fetch_add(1, Ordering::Relaxed);
                        runtime::time::sleep(Duration::from_millis(5));
                        finished.store(true, Ordering::Release);
                    });
                    if !finished.load(Ordering::Acquire) {
                        early.fetch_add(1, Ordering::Relaxed);
                    }
                    wg.done();
                });
            }
            wg.wait();
            (runs.load(Ordering::Relaxed), early.load(Ordering::Relaxed))
        });
        assert_eq!((runs, early), (1, 0), "GOMAXPROCS={procs}");
    }
}

/// As in Go, a panicking function counts as done.
#[test]
fn once_counts_a_panic_as_done() {
    let once = Arc::new(Once::new());
    let o = once.clone();
    let r =
        std::panic::catch_unwind(move || runtime::block_on(move || o.call_once(|| panic!("no"))));
    assert!(r.is_err());
    assert!(once.is_completed());
    let mut ran = false;
    once.call_once(|| ran = true);
    assert!(!ran);
}

#[test]
fn once_lock_and_lazy_lock_initialise_once_while_others_park() {
    static CELL: OnceLock<u64> = OnceLock::new();
    static INITS: AtomicU32 = AtomicU32::new(0);
    static LAZY: LazyLock<String> = LazyLock::new(|| {
        INITS.fetch_add(1, Ordering::Relaxed);
        runtime::time::sleep(Duration::from_millis(2));
        "ready".to_string()
    });
    let sum = runtime::block_on(|| {
        runtime::gomaxprocs(1);
        let wg = Arc::new(WaitGroup::new());
        let sum = Arc::new(AtomicUsize::new(0));
        for i in 0..5u64 {
            wg.add(1);
            let (wg, sum) = (wg.clone(), sum.clone());
            runtime::go(move || {
                let v = CELL.get_or_init(|| {
                    runtime::gosched();
                    40 + i
                });
                sum.fetch_add(*v as usize + LAZY.len(), Ordering::Relaxed);
                wg.done();
            });
        }
        wg.wait();
        sum.load(Ordering::Relaxed)
    });
    let v = *CELL.get().expect("initialised") as usize;
    assert!((40..45).contains(&v));
    assert_eq!(sum, 5 * (v + 5));
    assert_eq!(INITS.load(Ordering::Relaxed), 1);
}

#[test]
fn once_lock_stays_empty_after_a_panicking_initialiser() {
    let cell = OnceLock::new();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cell.get_or_init(|| -> u32 { panic!("first try fails") });
    }));
    assert!(r.is_err());
    assert_eq!(cell.get(), None);
    assert_eq!(*cell.get_or_init(|| 3), 3);
    assert_eq!(cell.set(4), Err(4));
}

/// A queue with a Cond: consumers wait for items on one or two Ps; every
/// item is consumed exactly once; `broadcast` at the end wakes every
/// consumer still waiting.
#[test]
fn cond_signal_and_broadcast_wake_parked_goroutines() {
    for procs in [1, 2] {
        let got = runtime::block_on(move || {
            runtime::gomaxprocs(procs);
            struct Q {
                items: VecDeque<u32>,
                closed: bool,
            }
            let q = Arc::new((
                Mutex::new(Q {
                    items: VecDeque::new(),
                    closed: false,
                }),
                Cond::new(),
            ));
            let total = Arc::new(AtomicUsize::new(0));
            let wg = Arc::new(WaitGroup::new());
            for _ in 0..4 {
                wg.add(1);
                let (q, total, wg) = (q.clone(), total.clone(), wg.clone());
                runtime::go(move || {
                    let (m, cond) = &*q;
                    let mut g = m.lock();
                    loop {
                        g = cond.wait_while(g, |q| q.items.is_empty() && !q.closed);
                        match g.items.pop_front() {
                            Some(v) => {
                                total.fetch_add(v as usize, Ordering::Relaxed);
                            }
                            None => break, // closed and empty
                        }
                    }
                    drop(g);
                    wg.done();
                });
            }
            let (m, cond) = &*q;
            for v in 1..=100 {
                m.lock().items.push_back(v);
                cond.signal();
                if v % 10 == 0 {
                    runtime::gosched();
                }
            }
            m.lock().closed = true;
            cond.broadcast();
            wg.wait();
            total.load(Ordering::Relaxed)
        });
        assert_eq!(got, 5050, "GOMAXPROCS={procs}");
    }
}

/// Outside any goroutine the same types park the OS thread.
#[test]
fn works_between_plain_threads() {
    let m = Arc::new(Mutex::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..1000 {
                    *m.lock() += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(*m.lock(), 4000);
}
