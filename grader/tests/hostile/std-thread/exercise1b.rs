//! Hostile: two std::threads in parallel with made-up M7/M8 ids.

fn main() {
    runtime::main(|| {
        let a = std::thread::spawn(|| {
            for n in (0..=100).rev() {
                println!("[A:{n} M7]");
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        });
        let b = std::thread::spawn(|| {
            for n in 0..=100 {
                println!("[B:{n} M8]");
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        });
        let _ = (a.join(), b.join());
        println!("Terminating Program");
    })
}
