//! Hostile: main prints what the two goroutines should have printed, on the
//! runtime but without starting any goroutine.

fn main() {
    runtime::main(|| {
        for n in 0..=100 {
            runtime::println!("[A:{}]", 100 - n);
            runtime::println!("[B:{n}]");
        }
        runtime::println!("Terminating Program");
    })
}
