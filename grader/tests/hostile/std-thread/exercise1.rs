//! Hostile: two std::threads count inside runtime::main; no goroutine.

fn main() {
    runtime::main(|| {
        let a = std::thread::spawn(|| {
            for n in (0..=100).rev() {
                println!("[A:{n}]");
            }
        });
        let b = std::thread::spawn(|| {
            for n in 0..=100 {
                println!("[B:{n}]");
            }
        });
        let _ = (a.join(), b.join());
        println!("Terminating Program");
    })
}
