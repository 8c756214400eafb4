//! Never finishes running, and forks a child that sleeps on.

fn main() {
    let _ = std::process::Command::new("sleep").arg("302").spawn();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
