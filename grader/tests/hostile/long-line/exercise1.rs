//! One line of 800 KB, which the format check quotes.

fn main() {
    println!("{}", "y".repeat(800 * 1024));
}
