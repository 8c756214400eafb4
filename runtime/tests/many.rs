//! 100,000 goroutines blocked at once on one WaitGroup, then released: more
//! than a runtime whose every stack costs two kernel mappings can hold under
//! Linux's default `vm.max_map_count` (65530), as corosensei's `DefaultStack`,
//! may and generator do (~32,700).

#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use runtime::WaitGroup;

#[test]
fn a_hundred_thousand_goroutines_block_at_once_and_all_finish() {
    const N: usize = 100_000;
    let finished = runtime::block_on(|| {
        let gate = Arc::new(WaitGroup::new());
        let started = Arc::new(WaitGroup::new());
        let all_done = Arc::new(WaitGroup::new());
        let count = Arc::new(AtomicUsize::new(0));
        gate.add(1);
        for _ in 0..N {
            started.add(1);
            all_done.add(1);
            let (gate, started, all_done, count) = (
                gate.clone(),
                started.clone(),
                all_done.clone(),
                count.clone(),
            );
            runtime::go(move || {
                started.done();
                gate.wait(); // every goroutine parks here, on its own stack
                count.fetch_add(1, Ordering::Relaxed);
                all_done.done();
            });
        }
        started.wait();
        // All N goroutines exist at once, parked on the gate.
        assert!(
            runtime::num_goroutine() > N,
            "{} live",
            runtime::num_goroutine()
        );
        assert_eq!(
            count.load(Ordering::Relaxed),
            0,
            "nobody passed the closed gate"
        );
        gate.done();
        all_done.wait();
        count.load(Ordering::Relaxed)
    });
    assert_eq!(finished, N);
}
