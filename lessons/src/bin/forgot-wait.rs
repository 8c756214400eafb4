//! Lesson 4: lesson 1 without `wg.wait()`. Main returns at once, and when
//! main returns the program ends, whatever the other goroutines are doing:
//! on one P they never even got to run.

use runtime::{print, println, WaitGroup};

static WG: WaitGroup = WaitGroup::new();

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(1);

        WG.add(2);
        println!("Start Goroutines");

        runtime::go(|| {
            lowercase();
            WG.done();
        });

        runtime::go(|| {
            uppercase();
            WG.done();
        });

        println!("Waiting To Finish");
        // Forgot: WG.wait();

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
