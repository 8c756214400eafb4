//! Exercise 1b, reference solution: the two counters in parallel on two Ms.
//! See `lessons/exercises/exercise1b.rs` for the task.

use std::time::{Duration, Instant};

use runtime::{println, WaitGroup};

static WG: WaitGroup = WaitGroup::new();

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(2);

        WG.add(2);

        runtime::go(|| {
            for n in (0..=100).rev() {
                work();
                println!("[A:{n} M{}]", m());
            }
            WG.done();
        });

        runtime::go(|| {
            for n in 0..=100 {
                work();
                println!("[B:{n} M{}]", m());
            }
            WG.done();
        });

        WG.wait();
        println!("Terminating Program");
    })
}

/// The M running the calling goroutine.
fn m() -> u64 {
    runtime::current_m_id().expect("a goroutine always runs on an M")
}

/// About half a millisecond of CPU work with no runtime call in it. Call it
/// once per number.
fn work() {
    let start = Instant::now();
    while start.elapsed() < Duration::from_micros(500) {
        std::hint::spin_loop();
    }
}
