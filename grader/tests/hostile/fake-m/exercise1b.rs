//! Hostile: real goroutines in parallel, but the M ids are made up.

use runtime::{println, WaitGroup};

static WG: WaitGroup = WaitGroup::new();

fn work() {
    let mut x = 0u64;
    for i in 0..20_000 {
        x = std::hint::black_box(x.wrapping_add(i));
    }
}

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(2);
        WG.add(2);
        runtime::go(|| {
            for n in (0..=100).rev() {
                work();
                println!("[A:{n} M7]");
            }
            WG.done();
        });
        runtime::go(|| {
            for n in 0..=100 {
                work();
                println!("[B:{n} M8]");
            }
            WG.done();
        });
        WG.wait();
        println!("Terminating Program");
    })
}
