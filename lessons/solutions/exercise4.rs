//! Exercise 4, reference solution: lesson 1's schedule under GOMAXPROCS=1.
//! See `lessons/exercises/exercise4.rs` for the task.

/// Your prediction: goroutine names (`"main"`, `"lowercase"`, `"uppercase"`)
/// in the order they run.
const SCHEDULE: &[&str] = &["main", "uppercase", "lowercase", "main"];

/// One line: why this order?
const WHY: &str = "go puts the new goroutine in the P's runnext slot, so the one created last (uppercase) runs first when main blocks in wait, and main runs again after the last done";

fn main() {
    for name in SCHEDULE {
        println!("{name}");
    }
    println!("why: {WHY}");
}
