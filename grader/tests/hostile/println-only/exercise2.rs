//! Hostile: the workers' lines, printed by main with plain println!.

fn main() {
    for step in 1..=3 {
        for id in 1..=3 {
            println!("worker {id}: step {step}");
        }
    }
    println!("Terminating Program");
}
