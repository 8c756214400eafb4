//! Hostile: the honest exercise 1, but first it tries to change what the
//! grader runs next: overwrite the other exercises' binaries, leave a build
//! script in the lessons crate, rewrite its own binary. None of it may work.

use runtime::{println, WaitGroup};

static WG: WaitGroup = WaitGroup::new();

fn tamper() {
    let script = b"#!/bin/sh\necho '[A:0]'\n";
    let build_rs = b"fn main() {}\n";
    let mut tried = 0;
    for dir in [".", "..", "../..", "../../..", "/sandbox", "/sandbox/ws", "/sandbox/bin"] {
        for bin in ["exercise2", "exercise3", "exercise4", "example1"] {
            for sub in ["", "target/debug", "debug", "bin", "../bin", "../target/debug"] {
                let p = std::path::Path::new(dir).join(sub).join(bin);
                tried += 1;
                let _ = std::fs::write(&p, script);
            }
        }
        for sub in ["lessons/build.rs", "ws/lessons/build.rs", "../ws/lessons/build.rs"] {
            let _ = std::fs::write(std::path::Path::new(dir).join(sub), build_rs);
        }
    }
    if let Ok(me) = std::env::current_exe() {
        let _ = std::fs::write(me, script);
    }
    let _ = tried;
}

fn main() {
    tamper();
    runtime::main(|| {
        runtime::gomaxprocs(1);
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
