//! Hostile: plain println!, alternating two made-up Ms, no runtime at all.

fn main() {
    for n in 0..=100 {
        println!("[A:{} M0]", 100 - n);
        println!("[B:{n} M1]");
    }
    println!("Terminating Program");
}
