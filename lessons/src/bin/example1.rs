//! Lesson 1 (Go: `example1/example1.go`): create two goroutines, wait for
//! both with a WaitGroup. Under GOMAXPROCS=1 the goroutine created *last*
//! runs first: it sits in the P's `runnext` slot.

use runtime::{print, println, WaitGroup};

/// Counts the goroutines main must wait for (Go: `var wg sync.WaitGroup`).
static WG: WaitGroup = WaitGroup::new();

fn main() {
    runtime::main(|| {
        // Go does this in `init()`: one logical processor.
        runtime::gomaxprocs(1);

        WG.add(2);
        println!("Start Goroutines");

        // Created first, but queued behind the next one.
        runtime::go(|| {
            lowercase();
            WG.done();
        });

        // Created last: goes into runnext, so it runs first.
        runtime::go(|| {
            uppercase();
            WG.done();
        });

        println!("Waiting To Finish");
        WG.wait();

        println!("\nTerminating Program");
    })
}

/// Display the alphabet in lowercase three times.
fn lowercase() {
    for _ in 0..3 {
        for r in 'a'..='z' {
            print!("{r} ");
        }
    }
}

/// Display the alphabet in uppercase three times.
fn uppercase() {
    for _ in 0..3 {
        for r in 'A'..='Z' {
            print!("{r} ");
        }
    }
}
