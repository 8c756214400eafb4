//! Exercise 5, reference solution: each stage closes the channel it sends
//! on when it is done, so the next stage's range ends. See
//! `lessons/exercises/exercise5.rs` for the task.

use std::time::Duration;

use runtime::{chan, println};

/// The generator sends 1..=N.
const N: u64 = 10;

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(2);

        let numbers = chan::<u64>(0);
        let squares = chan::<u64>(0);

        // The generator.
        let out = numbers.clone();
        runtime::go(move || {
            for n in 1..=N {
                out.send(n);
            }
            // Ends the squarer's range once it has taken every number.
            out.close();
        });

        // The squarer.
        let (input, out) = (numbers.clone(), squares.clone());
        runtime::go(move || {
            for v in &input {
                out.send(v * v);
            }
            // Ends main's range.
            out.close();
        });

        // Main: range over the squares and add them up.
        let mut sum = 0;
        for v in &squares {
            println!("got {v}");
            sum += v;
        }
        println!("sum = {sum}");
        println!("goroutines left: {}", goroutines_left());
        println!("Terminating Program");
    })
}

/// How many goroutines besides main are still alive. One that is just
/// finishing gets a moment to exit (Go's goleak retries the same way before
/// it reports a leak); one blocked for good on a channel stays. Leave this
/// function as it is: the grader reads its line.
fn goroutines_left() -> usize {
    for _ in 0..100 {
        if runtime::num_goroutine() == 1 {
            break;
        }
        runtime::time::sleep(Duration::from_millis(2));
    }
    runtime::num_goroutine() - 1
}
