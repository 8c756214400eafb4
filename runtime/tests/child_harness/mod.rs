//! The harness of the test files whose programs run in child processes.
//!
//! The runtime ends the process on a panic, a deadlock or a stack overflow,
//! as Go does, so those files (`process.rs`, `go_semantics.rs`, `compaction.rs`,
//! `platforms.rs`) cannot use libtest: each is its own `main`, which either
//! plays one scenario (when the environment names it; the tests re-run
//! this binary for that) or runs its tests and prints cargo's kind of
//! summary.

use std::process::ExitCode;

/// The environment variable that names the scenario a child plays.
pub const ENV: &str = "RUNTIME_SCENARIO";

/// Be the child `scenario` if [`ENV`] names one (scenarios end the
/// process); otherwise run `tests` (those whose name contains one of the
/// non-flag arguments, or all) and report `N <what> tests, M failed`.
pub fn main(what: &str, scenario: fn(&str), tests: Vec<(&'static str, fn())>) -> ExitCode {
    if let Ok(name) = std::env::var(ENV) {
        scenario(&name);
        unreachable!("scenarios end the process");
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let mut failed = 0;
    let mut ran = 0;
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                failed += 1;
                println!("test {name} ... FAILED");
            }
        }
    }
    println!("\n{ran} {what} tests, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
