//! Build script: seeded bugs for the loom suite.
//!
//! `LOOM_SEEDED_BUG=name` compiles this crate with
//! `--cfg loom_seeded_bugs="name"`, which swaps one memory ordering or one
//! wakeup of the scheduler for a wrong one (grep `loom_seeded_bugs`);
//! `grader/loom-bite.sh` uses it to prove that each loom model catches its
//! bug. Setting the cfg here instead of in `RUSTFLAGS` recompiles only this
//! crate and what depends on it, not loom and every other dependency, for
//! each seeded bug. Normal builds never set the variable.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=LOOM_SEEDED_BUG");
    match std::env::var("LOOM_SEEDED_BUG") {
        Ok(bug) if !bug.is_empty() => {
            println!("cargo::rustc-cfg=loom_seeded_bugs=\"{bug}\"");
        }
        _ => {}
    }
}
