# Goroutines, for real: a Go-style runtime in Rust and the lesson that uses it.
# `just` lists the recipes; see README.md.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments := true

# List the recipes.
default:
    @just --list --unsorted

# Run lesson N (number or name). `--explain` prints its note first (stderr); other arguments go to the program.
lesson N *ARGS:
    @cargo build -q --release -p lessons --bins
    @./target/release/lesson "$@"

# List the lessons.
lessons:
    @cargo build -q --release -p lessons --bin lesson
    @./target/release/lesson --list

# Everything CI runs: formatting, lints, the test suites.
test:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -q -- -D warnings
    cargo test --workspace -q
