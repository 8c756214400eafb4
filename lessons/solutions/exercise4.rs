//! Exercise 4, reference solution: lesson 1's schedule under GOMAXPROCS=1.
//! See `lessons/exercises/exercise4.rs` for the task.

/// Your prediction: goroutine names (`"main"`, `"lowercase"`, `"uppercase"`)
/// in the order they run.
const SCHEDULE: &[&str] = &["main", "uppercase", "lowercase", "main"];

/// One line: why this order?
const WHY: &str = "go puts the new goroutine in the P's runnext slot, so the one created last (uppercase) runs first when main blocks in wait, and main runs again after the last done";

/// The order for `n` goroutines `g1`..`gn` (names `"main"`, `"g1"`, ...),
/// one name per stretch of running, as in `SCHEDULE`: each `go` puts its G
/// into `runnext` and pushes the one there to the tail of the local queue,
/// so when main waits, `gn` (in `runnext`) runs first, then `g1`..`g(n-1)`
/// in queue order, and the last `done` makes main runnable again.
fn predict(n: usize) -> Vec<String> {
    let mut order = vec!["main".to_string()];
    if n > 0 {
        order.push(format!("g{n}"));
        order.extend((1..n).map(|i| format!("g{i}")));
    }
    order.push("main".to_string());
    order
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
