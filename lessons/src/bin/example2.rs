//! Lesson 2 (Go: `example2/example2.go`): goroutine time slicing. Two
//! goroutines each hash and print 50,000 numbers on one P; sysmon asks each
//! to yield after 10 ms, so the output switches between A and B.

use std::sync::Arc;

use runtime::{println, WaitGroup};
use sha1::{Digest, Sha1};

/// Lines each goroutine prints (the seed suggests 50,000 to see switches).
const COUNT: u32 = 50_000;

fn main() {
    runtime::main(|| {
        runtime::gomaxprocs(1);

        let wg = Arc::new(WaitGroup::new());
        wg.add(2);

        println!("Create Goroutines");

        let a = wg.clone();
        runtime::go(move || {
            print_hashes("A");
            a.done();
        });

        let b = wg.clone();
        runtime::go(move || {
            print_hashes("B");
            b.done();
        });

        println!("Waiting To Finish");
        wg.wait();

        println!("Terminating Program");
    })
}

/// Hash the decimal string of 1..=COUNT with SHA-1 and print each in hex.
/// Every `println!` is a preemption point: that is where the switch happens.
fn print_hashes(prefix: &str) {
    for i in 1..=COUNT {
        let num = i.to_string();
        let sum = Sha1::digest(num.as_bytes());
        println!("{prefix}: {i:05}: {}", hex(&sum));
    }
    println!("Completed {prefix}");
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
