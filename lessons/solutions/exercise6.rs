//! Exercise 6, reference solution: one `select!` waits on both producers;
//! a closed channel is swapped for one nobody sends on, so its case stops
//! firing (Go sets it to `nil`). See `lessons/exercises/exercise6.rs` for
//! the task.

use std::time::Duration;

use runtime::{chan, println, select, Chan};

/// Send `1..=count` on `ch`, one every `every`, then close `ch`.
fn produce(ch: Chan<u32>, count: u32, every: Duration) {
    runtime::go(move || {
        for n in 1..=count {
            runtime::time::sleep(every);
            ch.send(n);
        }
        ch.close();
    });
}

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(2);

        let mut fast = chan::<u32>(0);
        let mut slow = chan::<u32>(0);
        produce(fast.clone(), 8, Duration::from_millis(2));
        produce(slow.clone(), 4, Duration::from_millis(10));

        // A channel nobody sends on and nobody closes: a case on it never
        // fires, like a case on a nil channel in Go.
        let never = chan::<u32>(0);
        let mut open = 2;
        while open > 0 {
            select! {
                recv(fast) -> v => match v {
                    Some(n) => println!("fast {n}"),
                    None => {
                        fast = never.clone();
                        open -= 1;
                    }
                },
                recv(slow) -> v => match v {
                    Some(n) => println!("slow {n}"),
                    None => {
                        slow = never.clone();
                        open -= 1;
                    }
                },
            }
        }

        println!("Terminating Program");
    })
}
