//! `time::sleep` parks goroutines on per-P timers.

// The executor (goroutines, block_on) is not built under loom.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime::{chan, WaitGroup};

#[test]
fn sleep_never_returns_early() {
    runtime::block_on(|| {
        for ms in [1, 3, 10] {
            let d = Duration::from_millis(ms);
            let start = Instant::now();
            runtime::time::sleep(d);
            assert!(start.elapsed() >= d, "woke before {ms} ms");
        }
        let start = Instant::now();
        runtime::time::sleep(Duration::ZERO);
        assert!(start.elapsed() < Duration::from_secs(5));
    });
}

#[test]
fn many_goroutines_sleep_at_the_same_time() {
    // 2,000 sleepers all asleep at once: sleeping holds no thread.
    let (most, total) = runtime::block_on(|| {
        let asleep = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let wg = Arc::new(WaitGroup::new());
        for _ in 0..2000 {
            wg.add(1);
            let (asleep, most, wg) = (asleep.clone(), most.clone(), wg.clone());
            runtime::go(move || {
                let n = asleep.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                runtime::time::sleep(Duration::from_millis(20));
                asleep.fetch_sub(1, Ordering::SeqCst);
                wg.done();
            });
        }
        wg.wait();
        (most.load(Ordering::SeqCst), asleep.load(Ordering::SeqCst))
    });
    assert_eq!(total, 0);
    // All were started within microseconds, long before the first 20 ms
    // alarm: nearly all must have been asleep together.
    assert!(most > 1000, "only {most} goroutines asleep at once");
}

#[test]
fn sleepers_wake_in_deadline_order() {
    let order = runtime::block_on(|| {
        let out = chan::<u32>(3);
        let start = Instant::now();
        // Deadlines 80, 0 and 40 ms after a common start.
        for k in [2u32, 0, 1] {
            let out = out.clone();
            runtime::go(move || {
                let deadline = start + Duration::from_millis(40 * k as u64);
                runtime::time::sleep(deadline.saturating_duration_since(Instant::now()));
                out.send(k);
            });
        }
        [out.recv(), out.recv(), out.recv()]
    });
    assert_eq!(order, [Some(0), Some(1), Some(2)]);
}

#[test]
fn plain_threads_sleep_their_thread() {
    let start = Instant::now();
    runtime::time::sleep(Duration::from_millis(2));
    assert!(start.elapsed() >= Duration::from_millis(2));
}
