//! Prints to stderr without end (100 MB and more).

fn main() {
    let line = "x".repeat(1000);
    loop {
        eprintln!("{line}");
    }
}
