//! Exercise 2: fix the program that forgot to wait.
//!
//! Three workers each print three steps, and main announces the end:
//!
//! ```text
//! worker 1: step 1
//! worker 1: step 2
//! ...
//! worker 3: step 3
//! Terminating Program
//! ```
//!
//! But run it (`cargo run -q -p lessons --bin exercise2`): only
//! `Terminating Program` comes out. Find out why (lesson 4, `just lesson 4
//! --explain`, is the same bug) and fix it, so that every worker prints its
//! three steps and `Terminating Program` is the last line. Change as little
//! as you can; do not add sleeps.
//!
//! Graded: every worker's three steps, in order, exactly once (the workers
//! may interleave in any order); `Terminating Program` last; exit status 0.
//!
//! Check with `just check 2`; stuck? `just hint 2`.

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

        println!("Terminating Program");
    })
}
