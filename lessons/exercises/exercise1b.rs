//! Exercise 1b: the same two counters, now in parallel.
//!
//! Exercise 1 ran both goroutines on one P, so they took turns. Here they
//! must run at the same time, on two OS threads (Ms), as lesson 3 shows:
//!
//! - use two logical processors: `runtime::gomaxprocs(2)`;
//! - goroutine `A` counts down from 100 to 0, goroutine `B` counts up from 0
//!   to 100, as in exercise 1;
//! - before printing each number, call `work()` (below): a goroutine that
//!   does no work finishes its 101 lines before a second M has even started
//!   (lesson 3's note tells why), and nothing would run at the same time;
//! - print each number with the name *and the M running the goroutine*
//!   (`runtime::current_m_id()`, an `Option<u64>`; print the number inside):
//!
//! ```text
//! [A:100 M0]
//! [B:0 M1]
//! [A:99 M0]
//! ...
//! Terminating Program
//! ```
//!
//! `main` waits for both, then prints `Terminating Program` last. Print
//! nothing else.
//!
//! Graded: as exercise 1, plus proof of parallelism: while one goroutine
//! kept printing from one M, the other printed from a different M.
//!
//! Check with `just check 1b`; stuck? `just hint 1b`.

use std::time::{Duration, Instant};

use runtime::{println, WaitGroup};

static WG: WaitGroup = WaitGroup::new();

fn main() {
    runtime::main(|| {
        // TODO: two logical processors.

        // TODO: WG.add, then start goroutines A and B. Each calls `work()`
        //       before printing `[A:n Mk]` (or `[B:n Mk]`), where k is
        //       `runtime::current_m_id()`, and calls `WG.done()` at the end.

        WG.wait();
        println!("Terminating Program");
    })
}

/// About half a millisecond of CPU work with no runtime call in it. Call it
/// once per number.
#[allow(dead_code)] // TODO: remove this line once you call `work()`.
fn work() {
    let start = Instant::now();
    while start.elapsed() < Duration::from_micros(500) {
        std::hint::spin_loop();
    }
}
