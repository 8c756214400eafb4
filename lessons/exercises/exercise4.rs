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
//! Graded: the order matches what the runtime does; the explanation is one
//! line and names the reason.
//!
//! Check with `just check 4`; stuck? `just hint 4`.

/// Your prediction: goroutine names (`"main"`, `"lowercase"`, `"uppercase"`)
/// in the order they run.
const SCHEDULE: &[&str] = &[
    // TODO
];

/// One line: why this order?
const WHY: &str = "TODO";

fn main() {
    for name in SCHEDULE {
        println!("{name}");
    }
    println!("why: {WHY}");
}
