//! Never finishes compiling: a loop the compiler evaluates.
#![allow(long_running_const_eval)]

const fn spin() -> u64 {
    let mut i: u64 = 0;
    loop {
        i = i.wrapping_add(1);
        if i == u64::MAX {
            return i;
        }
    }
}

const FOREVER: u64 = spin();

fn main() {
    println!("{FOREVER}");
}
