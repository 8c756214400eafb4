//! Exercise 3, reference solution: every goroutine reports `done`. See
//! `lessons/exercises/exercise3.rs` for the task.

use runtime::{println, WaitGroup};

static WG: WaitGroup = WaitGroup::new();

/// The n of each goroutine.
const NS: [u64; 3] = [10, 100, 1000];

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(1);

        WG.add(NS.len() as i32);
        for n in NS {
            runtime::go(move || {
                let sum: u64 = (1..=n).sum();
                println!("sum of 1..={n} = {sum}");
                // The fix: without it the counter never reaches zero.
                WG.done();
            });
        }

        WG.wait();
        println!("Terminating Program");
    })
}
