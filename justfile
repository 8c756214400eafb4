# Goroutines, for real: a Go-style runtime in Rust and the lesson that uses it.
# `just` lists the recipes; see README.md.

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments := true

# List the recipes.
default:
    @just --list --unsorted

# Run lesson N (number or name). `--explain` prints its note first (stderr); `--trace` draws the scheduler (stderr); `--trace-out FILE` writes a Perfetto timeline; other arguments go to the program.
lesson N *ARGS:
    @cargo build -q --release -p lessons --bins
    @./target/release/lesson "$@"

# List the lessons.
lessons:
    @cargo build -q --release -p lessons --bin lesson
    @./target/release/lesson --list

# Grade exercise N (`just progress` lists them): each check with ✔/✘, points and why.
[no-exit-message]
check N:
    @cargo run -q -p grader --bin grader -- check "$1"

# Print the hint for exercise N.
[no-exit-message]
hint N:
    @cargo run -q -p grader --bin grader -- hint "$1"

# Which exercises pass so far.
[no-exit-message]
progress:
    @cargo run -q -p grader --bin grader -- progress

# Instructors: grade the workspace (`--gradescope PATH`, `--junit PATH`, `--submission DIR`), or a class: `just grade class DIR [--csv PATH] [--jobs N]`.
grade *ARGS:
    @cargo run -q -p grader --bin grader -- grade "$@"

# Instructors: write a copy of the repository for students into DIR (no solutions, no grader tests or fixtures); `just check` works there.
student-kit DIR:
    @cargo run -q -p grader --bin grader -- student-kit "$1"

# Everything CI runs: formatting, lints, the test suites, the loom models and their seeded bugs.
test:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -q -- -D warnings
    cargo test --workspace -q
    @just loom
    @just loom-bite

# Model-check the scheduler's synchronization core with loom (grader/tests/loom_*.rs); prints what each model explored.
loom:
    #!/usr/bin/env bash
    set -euo pipefail
    # A separate target dir: `--cfg loom` rebuilds everything, and must not
    # invalidate the normal build's cache. LOOM_SEEDED_BUG empty: no seeded bug.
    export RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_SEEDED_BUG=
    export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
    cargo clippy -q --profile loom -p runtime -p grader --tests -- -D warnings
    cargo test -q --profile loom -p grader --test 'loom_*' -- --nocapture

# Prove each loom model bites: build with each seeded bug and require its model to fail.
loom-bite:
    grader/loom-bite.sh

# Benchmarks beside OS threads, tokio, may (and Go when `go` is on PATH): one table of medians and ratios.
bench *ARGS:
    cargo build -q --release -p bench --features peers
    ./target/release/bench "$@"

# Soak run (minutes): 1M goroutines at once, 10M channel operations, churn; checks RSS, num_goroutine, no lost message.
soak *ARGS:
    cargo build -q --release -p bench --bin soak
    ./target/release/soak "$@"
