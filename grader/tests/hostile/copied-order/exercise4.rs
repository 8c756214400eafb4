//! Hostile: lesson 1's order copied from a run on the student's machine, a
//! keyword in the explanation, and no rule: asked about N goroutines, it
//! prints the same order again.

const SCHEDULE: &[&str] = &["main", "uppercase", "lowercase", "main"];

const WHY: &str = "runnext";

fn main() {
    for name in SCHEDULE {
        println!("{name}");
    }
    println!("why: {WHY}");
}
