//! Hostile: the honest counters, plus 1000 goroutines that never finish;
//! main returns without them.

use runtime::{println, WaitGroup};

static WG: WaitGroup = WaitGroup::new();
static NEVER: WaitGroup = WaitGroup::new();

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(1);
        NEVER.add(1);
        for _ in 0..1000 {
            runtime::go(|| NEVER.wait());
        }
        WG.add(2);
        runtime::go(|| {
            for n in (0..=100).rev() {
                println!("[A:{n}]");
            }
            WG.done();
        });
        runtime::go(|| {
            for n in 0..=100 {
                println!("[B:{n}]");
            }
            WG.done();
        });
        WG.wait();
        println!("Terminating Program");
    })
}
