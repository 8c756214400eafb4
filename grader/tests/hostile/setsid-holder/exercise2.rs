//! Hostile: the honest exercise 2, but it first leaves a `setsid` child
//! holding its stdout and a child in its own process group with closed
//! stdio; both would outlive the run without a sandbox.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;

use runtime::{println, WaitGroup};

fn main() {
    let _ = Command::new("setsid").args(["sleep", "300"]).spawn();
    let _ = Command::new("sleep")
        .arg("301")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    runtime::main(|| {
        runtime::gomaxprocs(1);
        let wg = Arc::new(WaitGroup::new());
        for id in 1..=3 {
            wg.add(1);
            let wg = wg.clone();
            runtime::go(move || {
                for step in 1..=3 {
                    println!("worker {id}: step {step}");
                }
                wg.done();
            });
        }
        wg.wait();
        println!("Terminating Program");
    })
}
