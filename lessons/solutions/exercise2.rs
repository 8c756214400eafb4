//! Exercise 2, reference solution: main waits for the workers. See
//! `lessons/exercises/exercise2.rs` for the task.

use std::sync::Arc;

use runtime::{println, WaitGroup};

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(1);

        let wg = Arc::new(WaitGroup::new());
        for id in 1..=3 {
            wg.add(1);
            let wg = wg.clone();
            runtime::go(move || {
                for step in 1..=3 {
                    println!("worker {id}: step {step}");
                }
                wg.done();
            });
        }

        // The fix: hold main until every worker has called `done`.
        wg.wait();

        println!("Terminating Program");
    })
}
