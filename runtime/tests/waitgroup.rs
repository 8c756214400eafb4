//! WaitGroup as Go's `sync.WaitGroup` behaves, run on real goroutines.

#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use runtime::WaitGroup;

#[test]
fn wait_returns_after_every_done_and_sees_their_writes() {
    for procs in [1, 2, 4] {
        let total = runtime::block_on(move || {
            runtime::gomaxprocs(procs);
            let wg = Arc::new(WaitGroup::new());
            let sum = Arc::new(AtomicUsize::new(0));
            for i in 1..=1000 {
                wg.add(1);
                let (wg, sum) = (wg.clone(), sum.clone());
                runtime::go(move || {
                    sum.fetch_add(i, Ordering::Relaxed);
                    wg.done();
                });
            }
            wg.wait();
            assert_eq!(wg.counter(), 0);
            sum.load(Ordering::Relaxed)
        });
        assert_eq!(total, 500_500, "GOMAXPROCS={procs}");
    }
}

#[test]
fn several_waiters_all_wake_and_the_group_can_be_reused() {
    runtime::block_on(|| {
        let wg = Arc::new(WaitGroup::new());
        let woke = Arc::new(AtomicUsize::new(0));
        for round in 1..=3 {
            let all = Arc::new(WaitGroup::new());
            wg.add(1);
            for _ in 0..5 {
                all.add(1);
                let (wg, woke, all) = (wg.clone(), woke.clone(), all.clone());
                runtime::go(move || {
                    wg.wait();
                    woke.fetch_add(1, Ordering::Relaxed);
                    all.done();
                });
            }
            // Let the waiters park before releasing them.
            while runtime::num_goroutine() < 6 {
                runtime::gosched();
            }
            for _ in 0..10 {
                runtime::gosched();
            }
            wg.done();
            all.wait();
            assert_eq!(woke.load(Ordering::Relaxed), 5 * round);
        }
    });
}

#[test]
fn wait_on_a_zero_counter_returns_at_once() {
    runtime::block_on(|| WaitGroup::new().wait());
}

#[test]
#[should_panic(expected = "sync: negative WaitGroup counter")]
fn done_without_add_panics_with_gos_message() {
    runtime::block_on(|| WaitGroup::new().done());
}

#[test]
#[should_panic(expected = "sync: negative WaitGroup counter")]
fn add_negative_panics_with_gos_message() {
    runtime::block_on(|| {
        let wg = WaitGroup::new();
        wg.add(2);
        wg.add(-3);
    });
}

#[test]
fn a_plain_thread_can_wait_for_goroutines() {
    static WG: WaitGroup = WaitGroup::new();
    static HITS: AtomicUsize = AtomicUsize::new(0);
    WG.add(3);
    for _ in 0..3 {
        runtime::go(|| {
            HITS.fetch_add(1, Ordering::Relaxed);
            WG.done();
        });
    }
    WG.wait();
    assert_eq!(HITS.load(Ordering::Relaxed), 3);
}
