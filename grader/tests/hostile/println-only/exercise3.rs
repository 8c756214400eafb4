//! Hostile: the sums, printed by main with plain println!.

fn main() {
    for n in [10u64, 100, 1000] {
        println!("sum of 1..={n} = {}", n * (n + 1) / 2);
    }
    println!("Terminating Program");
}
