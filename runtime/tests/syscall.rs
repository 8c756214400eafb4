//! `runtime::syscall`: a goroutine blocked in the kernel lends its P.
//!
//! Every test here wants a single P (so that without the hand-off nothing
//! else could run); they all set it, so running them in parallel is fine.

// The executor (goroutines, block_on) is not built under loom.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime::{chan, WaitGroup};

#[test]
fn returns_the_value_of_the_call() {
    assert_eq!(runtime::syscall(|| 6 * 7), 42, "outside a goroutine");
    let v = runtime::block_on(|| {
        runtime::gomaxprocs(1);
        runtime::syscall(|| runtime::syscall(|| "nested"))
    });
    assert_eq!(v, "nested");
}

#[test]
fn the_p_is_handed_off_while_the_syscall_blocks() {
    let (other_finished_first, threads) = runtime::block_on(|| {
        runtime::gomaxprocs(1);
        let finished = Arc::new(AtomicBool::new(false));
        let wg = Arc::new(WaitGroup::new());
        wg.add(2);
        let (f, w) = (finished.clone(), wg.clone());
        // Computes in small steps; on one P it can only run if the blocked
        // goroutine's P was handed to another M.
        runtime::go(move || {
            for _ in 0..1000 {
                runtime::gosched();
            }
            f.store(true, Ordering::SeqCst);
            w.done();
        });
        let (f, w) = (finished.clone(), wg.clone());
        let result = Arc::new(AtomicBool::new(false));
        let r = result.clone();
        runtime::go(move || {
            runtime::syscall(|| {
                // Block this thread until the other goroutine is done (or
                // give up after 20 s, so a broken hand-off fails, not hangs).
                let start = Instant::now();
                while !f.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(20) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
            r.store(f.load(Ordering::SeqCst), Ordering::SeqCst);
            w.done();
        });
        wg.wait();
        (result.load(Ordering::SeqCst), runtime::num_threads())
    });
    assert!(
        other_finished_first,
        "the other goroutine could not run while the syscall blocked"
    );
    assert!(threads >= 2, "a second M must have taken the P ({threads})");
}

#[test]
fn a_goroutine_back_from_a_syscall_without_a_p_waits_its_turn() {
    let back = runtime::block_on(|| {
        runtime::gomaxprocs(1);
        let back = Arc::new(AtomicU64::new(0));
        let done = chan::<()>(0);
        let (b, d) = (back.clone(), done.clone());
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        // Keeps the only P busy (yielding, so others get turns).
        runtime::go(move || {
            while !s.load(Ordering::SeqCst) {
                runtime::gosched();
            }
        });
        runtime::go(move || {
            // Long enough for sysmon to hand the P to the busy goroutine.
            runtime::syscall(|| std::thread::sleep(Duration::from_millis(50)));
            b.fetch_add(1, Ordering::SeqCst);
            d.send(());
        });
        done.recv();
        stop.store(true, Ordering::SeqCst);
        back.load(Ordering::SeqCst)
    });
    assert_eq!(back, 1);
}

#[test]
fn a_goroutine_in_a_syscall_is_not_deadlocked() {
    // main waits on a channel that only the syscalling goroutine will send
    // on: the detector must see that goroutine as able to wake main.
    let got = runtime::block_on(|| {
        runtime::gomaxprocs(1);
        let ch = chan::<&str>(0);
        let tx = ch.clone();
        runtime::go(move || {
            runtime::syscall(|| std::thread::sleep(Duration::from_millis(30)));
            tx.send("back");
        });
        ch.recv()
    });
    assert_eq!(got, Some("back"));
}
