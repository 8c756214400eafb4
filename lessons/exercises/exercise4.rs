//! Exercise 4: predict the schedule.
//!
//! Lesson 1 (`lessons/src/bin/example1.rs`) has three goroutines: `main`,
//! `lowercase` (the goroutine that prints a..z, created first) and
//! `uppercase` (prints A..Z, created second). It runs them on one P
//! (GOMAXPROCS=1), so only one runs at a time.
//!
//! *Before* running it, write down the order in which they run, from the
//! start of the program to its end: one name per stretch of running. A
//! goroutine that runs, stops and later runs again appears again. For
//! example, a program where main starts, hands over to a worker and finishes
//! after it would be `["main", "worker", "main"]`.
//!
//! Then explain your order in one line, naming the mechanism of the scheduler
//! that decides it.
//!
//! This program prints your prediction, one name per line, then
//! `why: <your explanation>`. The grader runs the real lesson 1 and compares.
//! Afterwards run `just lesson 1 --explain` and see if you were right.
//!
//! Then turn your explanation into a rule: `predict(n)` gives the order for
//! the same program with `n` goroutines `g1`..`gn` instead of two (created
//! in that order, each printing once, main waiting for all of them on one
//! P). `cargo run -q -p lessons --bin exercise4 -- 5` prints it. The grader
//! asks about a number it picks when grading, and runs that program for real.
//!
//! Graded: the order matches what the runtime does, for lesson 1 and for the
//! grader's `n`; the explanation is one line, names the reason, and the rule
//! it names predicts the grader's `n`.
//!
//! Check with `just check 4`; stuck? `just hint 4`.

/// Your prediction: goroutine names (`"main"`, `"lowercase"`, `"uppercase"`)
/// in the order they run.
const SCHEDULE: &[&str] = &[
    // TODO
];

/// One line: why this order?
const WHY: &str = "TODO";

/// The order for `n` goroutines `g1`..`gn` (names `"main"`, `"g1"`, ...),
/// one name per stretch of running, as in `SCHEDULE`.
fn predict(n: usize) -> Vec<String> {
    // TODO
    let _ = n;
    Vec::new()
}

fn main() {
    if let Some(n) = std::env::args().nth(1).and_then(|a| a.parse().ok()) {
        for name in predict(n) {
            println!("{name}");
        }
        return;
    }
    for name in SCHEDULE {
        println!("{name}");
    }
    println!("why: {WHY}");
}
