//! Channel operations allocate nothing in steady state: a parked
//! goroutine's sudog lives on its own stack, the buffer is allocated once,
//! and the wait queues are intrusive lists. Checked by counting every
//! allocation of this test binary (it holds this one test only, so nothing
//! else allocates meanwhile).

// The executor (goroutines, block_on) is not built under loom.
#![cfg(not(loom))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn ping_pong_and_select_allocate_nothing_per_operation() {
    let per_phase = runtime::block_on(|| {
        runtime::gomaxprocs(1);
        let ping = runtime::chan::<u64>(0);
        let pong = runtime::chan::<u64>(0);
        // Nobody ever sends on `idle`: a select case that parks and is then
        // taken back from the queue.
        let idle = runtime::chan::<u64>(0);
        let (rx, tx, idle2) = (ping.clone(), pong.clone(), idle.clone());
        runtime::go(move || {
            for v in &rx {
                // Alternate the echo path: a plain send, then a select.
                if v % 2 == 0 {
                    tx.send(v + 1);
                } else {
                    runtime::select! {
                        send(tx, v + 1) => {},
                        recv(idle2) => unreachable!("nobody sends on idle"),
                    }
                }
            }
        });
        let round = |n: u64| {
            let before = ALLOCS.load(Ordering::SeqCst);
            let mut v = 0;
            for _ in 0..n {
                ping.send(v);
                v = runtime::select! {
                    recv(pong) -> x => x.unwrap(),
                    recv(idle) => unreachable!("nobody sends on idle"),
                };
            }
            ALLOCS.load(Ordering::SeqCst) - before
        };
        round(1_000); // warm up: stacks, run queues, lazily built state
        let allocs = [round(10_000), round(10_000)];
        ping.close();
        allocs
    });
    // An allocation per operation would count 20,000 or more per phase.
    // What may remain is the scheduler growing a queue once: the two
    // goroutines share one time slice (runnext), so sysmon preempts them
    // every 10 ms, and the first preemption grows the global run queue.
    for n in per_phase {
        assert!(
            n < 20,
            "{n} allocations during 10,000 round trips: {per_phase:?}"
        );
    }
}
