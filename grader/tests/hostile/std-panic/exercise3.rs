//! A panic of Rust's standard library, outside the runtime (status 101).

fn main() {
    let sums: Vec<u64> = Vec::new();
    if sums.is_empty() {
        panic!("no sums to print");
    }
}
