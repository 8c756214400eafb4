//! Hostile: copies the reference solution in at compile time.
const SOLUTION: &str = include_str!("../solutions/exercise4.rs");

fn main() {
    let _ = SOLUTION;
    println!("main\nuppercase\nlowercase\nmain\nwhy: runnext");
}
