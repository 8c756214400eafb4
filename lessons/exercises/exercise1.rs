//! Exercise 1: two goroutines counting, and main waiting for both.
//!
//! The lesson's classic, with numbers instead of letters. Start two
//! goroutines:
//!
//! - goroutine `A` counts *down* from 100 to 0,
//! - goroutine `B` counts *up* from 0 to 100,
//!
//! each printing every number on its own line, tagged with its name:
//!
//! ```text
//! [A:100]
//! [A:99]
//! ...
//! [B:0]
//! [B:1]
//! ...
//! Terminating Program
//! ```
//!
//! `main` waits for both goroutines (a `WaitGroup`) and only then prints
//! `Terminating Program`, as the very last line. Print nothing else. Keep the
//! one logical processor of lesson 1 (`runtime::gomaxprocs(1)`).
//!
//! Graded: each counter's own order, every number exactly once,
//! `Terminating Program` last, a clean exit (status 0).
//!
//! Check with `just check 1`; stuck? `just hint 1`.

use runtime::{println, WaitGroup};

/// Counts the goroutines main waits for (Go: `var wg sync.WaitGroup`).
static WG: WaitGroup = WaitGroup::new();

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(1);

        // TODO: tell WG how many goroutines main will wait for.

        // TODO: start goroutine A: print `[A:n]` for n = 100, 99, ..., 0,
        //       then tell WG it is done.

        // TODO: start goroutine B: print `[B:n]` for n = 0, 1, ..., 100,
        //       then tell WG it is done.

        WG.wait();
        println!("Terminating Program");
    })
}
