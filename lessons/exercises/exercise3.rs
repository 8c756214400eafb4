//! Exercise 3: fix the program that forgot `done`.
//!
//! Three goroutines each add up the numbers 1..=n for their own n and print
//! the sum; main waits for them and announces the end:
//!
//! ```text
//! sum of 1..=10 = 55
//! sum of 1..=100 = 5050
//! sum of 1..=1000 = 500500
//! Terminating Program
//! ```
//!
//! (the three sums may come in any order). But run it (`cargo run -q -p
//! lessons --bin exercise3`): the sums come out, then the runtime stops the
//! program with `fatal error: all goroutines are asleep - deadlock!` and exit
//! status 2. Read the report (which goroutine waits, and where?), compare with
//! lesson 5 (`just lesson 5 --explain`), and fix the program so it prints the
//! three sums and `Terminating Program`, and exits with status 0.
//!
//! Graded: no deadlock and exit status 0; every sum exactly once and right;
//! `Terminating Program` last.
//!
//! Check with `just check 3`; stuck? `just hint 3`.

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
            });
        }

        WG.wait();
        println!("Terminating Program");
    })
}
