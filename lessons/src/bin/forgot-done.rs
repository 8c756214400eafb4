//! Lesson 5: lesson 1 without `wg.done()`. Both goroutines print and finish,
//! but the counter never goes back to zero, so main waits forever. With no
//! goroutine left that could ever wake it, the runtime proves the program is
//! stuck and stops it: "all goroutines are asleep - deadlock!", exit 2.

use runtime::{print, println, WaitGroup};

static WG: WaitGroup = WaitGroup::new();

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(1);

        WG.add(2);
        println!("Start Goroutines");

        runtime::go(|| {
            lowercase();
            // Forgot: WG.done();
        });

        runtime::go(|| {
            uppercase();
            // Forgot: WG.done();
        });

        println!("Waiting To Finish");
        WG.wait();

        println!("\nTerminating Program");
    })
}

fn lowercase() {
    for _ in 0..3 {
        for r in 'a'..='z' {
            print!("{r} ");
        }
    }
}

fn uppercase() {
    for _ in 0..3 {
        for r in 'A'..='Z' {
            print!("{r} ");
        }
    }
}
