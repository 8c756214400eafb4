//! Exercise 1, reference solution: two goroutines counting, main waiting for
//! both. See `lessons/exercises/exercise1.rs` for the task.

use runtime::{println, WaitGroup};

/// Counts the goroutines main waits for (Go: `var wg sync.WaitGroup`).
static WG: WaitGroup = WaitGroup::new();

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(1);

        WG.add(2);

        runtime::go(|| {
            for n in (0..=100).rev() {
                println!("[A:{n}]");
            }
            WG.done();
        });

        runtime::go(|| {
            for n in 0..=100 {
                println!("[B:{n}]");
            }
            WG.done();
        });

        WG.wait();
        println!("Terminating Program");
    })
}
