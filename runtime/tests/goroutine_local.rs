//! `goroutine_local!`: values keyed on the G survive moves between Ms.

#![cfg(not(loom))]

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use runtime::WaitGroup;

runtime::goroutine_local! {
    static MINE: Cell<u64> = Cell::new(0);
    static HISTORY: RefCell<Vec<u64>> = RefCell::new(Vec::new());
}

/// Many goroutines at several GOMAXPROCS yield thousands of times; each
/// checks, after every yield, that its own values are still its own,
/// whichever M it resumed on, and counts how often it changed M.
#[test]
fn values_follow_their_goroutine_across_migrations() {
    let mut total_migrations = 0;
    for procs in [1, 2, 4] {
        let (migrations, checked) = runtime::block_on(move || {
            runtime::gomaxprocs(procs);
            let wg = Arc::new(WaitGroup::new());
            let migrations = Arc::new(AtomicUsize::new(0));
            let checked = Arc::new(AtomicUsize::new(0));
            for id in 0..8u64 {
                wg.add(1);
                let (wg, migrations, checked) = (wg.clone(), migrations.clone(), checked.clone());
                runtime::go(move || {
                    let mut m = runtime::current_m_id();
                    for round in 0..1000u64 {
                        let want = id * 1_000_000 + round;
                        MINE.with(|v| {
                            assert_eq!(v.get(), if round == 0 { 0 } else { want - 1 });
                            v.set(want);
                        });
                        // Hold a borrow across the yield: it stays valid.
                        // Hold a borrow across runtime calls that park and
                        // yield (the goroutine resumes on whichever M picks
                        // it up): it stays valid.
                        HISTORY.with(|h| {
                            h.borrow_mut().push(want);
                            if round % 2 == 0 {
                                runtime::time::sleep(std::time::Duration::from_micros(20));
                            } else {
                                runtime::gosched();
                            }
                            assert_eq!(h.borrow().last(), Some(&want));
                        });
                        let now = runtime::current_m_id();
                        if now != m {
                            migrations.fetch_add(1, Ordering::Relaxed);
                            m = now;
                        }
                        MINE.with(|v| assert_eq!(v.get(), want, "goroutine {id}"));
                        checked.fetch_add(1, Ordering::Relaxed);
                    }
                    HISTORY.with(|h| {
                        let h = h.borrow();
                        assert_eq!(h.len(), 1000);
                        assert!(h
                            .iter()
                            .enumerate()
                            .all(|(i, v)| *v == id * 1_000_000 + i as u64));
                    });
                    wg.done();
                });
            }
            wg.wait();
            (
                migrations.load(Ordering::Relaxed),
                checked.load(Ordering::Relaxed),
            )
        });
        assert_eq!(checked, 8 * 1000, "GOMAXPROCS={procs}");
        eprintln!("GOMAXPROCS={procs}: {migrations} migrations");
        total_migrations += migrations;
    }
    // With 2 and 4 Ps, goroutines that yield to the global queue are picked
    // up by whichever M comes first: they change M all the time.
    assert!(
        total_migrations >= 1000,
        "only {total_migrations} migrations: the test did not exercise moves"
    );
}

/// Each goroutine starts with fresh values; they are dropped when it
/// returns, on its own stack, where their `Drop` may use the runtime.
#[test]
fn values_are_fresh_per_goroutine_and_dropped_at_its_end() {
    struct SendsOnDrop(Option<runtime::Chan<u64>>, u64);
    impl Drop for SendsOnDrop {
        fn drop(&mut self) {
            if let Some(ch) = &self.0 {
                ch.send(self.1); // may park: fine, we are the goroutine
            }
        }
    }
    runtime::goroutine_local! {
        static REPORTER: RefCell<SendsOnDrop> = RefCell::new(SendsOnDrop(None, 0));
    }
    let got = runtime::block_on(|| {
        let ch = runtime::chan::<u64>(0);
        for i in 1..=3 {
            let tx = ch.clone();
            runtime::go(move || {
                REPORTER.with(|r| {
                    let mut r = r.borrow_mut();
                    assert!(r.0.is_none(), "a new goroutine sees a fresh value");
                    *r = SendsOnDrop(Some(tx), i * 10);
                });
                runtime::gosched();
            });
        }
        let mut got: Vec<u64> = (0..3).map(|_| ch.recv().unwrap()).collect();
        got.sort();
        got
    });
    assert_eq!(got, [10, 20, 30]);
}

#[test]
fn outside_a_goroutine_it_panics_clearly() {
    let r = std::panic::catch_unwind(|| MINE.with(|v| v.get()));
    let e = r.unwrap_err();
    let msg = e
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(msg.contains("outside a goroutine"), "{msg}");
}
