//! Exercise 6: fan-in with `select!`.
//!
//! Two producers send at different speeds, each on its own channel, and
//! close it when done: `fast` sends 1..=8, one every 2 ms; `slow` sends
//! 1..=4, one every 10 ms. Main must merge both streams into one, printing
//! each value *as it arrives*, tagged with its producer, until both channels
//! are closed, and then print `Terminating Program`:
//!
//! ```text
//! fast 1
//! fast 2
//! fast 3
//! fast 4
//! slow 1
//! fast 5
//! ...
//! fast 8
//! slow 2
//! slow 3
//! slow 4
//! Terminating Program
//! ```
//!
//! (the exact interleaving depends on timing; each producer's own values
//! come in order). Ranging over `fast` and then over `slow` would print
//! every value, but all of `slow`'s only after `fast` is finished: wait on
//! both channels at once with `runtime::select!` (Go's `select`). A closed
//! channel is always ready (it returns `None` at once), so stop waiting on
//! a channel once it is closed; Go sets it to `nil`, see the hint for
//! what to do here.
//!
//! Graded on two Ps (GOMAXPROCS=2): every value of both producers, exactly
//! once, each producer's in its order; the values interleaved as they were
//! sent, not one producer drained after the other; `Terminating Program`
//! last, after both channels are closed.
//!
//! Check with `just check 6`; stuck? `just hint 6`.

use std::time::Duration;

use runtime::{chan, println, Chan};

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

        let fast = chan::<u32>(0);
        let slow = chan::<u32>(0);
        produce(fast.clone(), 8, Duration::from_millis(2));
        produce(slow.clone(), 4, Duration::from_millis(10));

        // TODO: until both `fast` and `slow` are closed, take whichever value
        //       comes first and print it as `fast n` or `slow n`.

        println!("Terminating Program");
    })
}
