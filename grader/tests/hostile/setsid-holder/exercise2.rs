//! Hostile: prints the right lines, but leaves a `setsid` child holding its
//! stdout and a child in its own process group with closed stdio; both
//! would outlive the run without a sandbox.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

fn main() {
    let _ = Command::new("setsid").args(["sleep", "300"]).spawn();
    let _ = Command::new("sleep")
        .arg("301")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    for step in 1..=3 {
        for id in 1..=3 {
            println!("worker {id}: step {step}");
        }
    }
    println!("Terminating Program");
}
