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

# Watch mode: re-check the current exercise (the first failing, or N) on every save; keys h hint, l list, r run, t trace, c check, q quit (`--poll` where saves go unnoticed).
[no-exit-message]
watch *N:
    @cargo run -q -p grader --bin grader -- watch "$@"

# Which exercises pass so far: the progress bar and the first failing exercise.
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
    @# Release builds must show the same frames (lessons run in release).
    cargo test --release -q -p runtime --test process
    @just loom
    @just loom-bite
    @just cross

# Other platforms, as far as this machine can prove them: clippy for both Macs; the lessons' tests and tests/platforms.rs on aarch64 Linux under qemu-aarch64.
cross:
    #!/usr/bin/env bash
    set -euo pipefail
    # `.ci/run` installs what this needs and sets CROSS_REQUIRED=1, so in CI a
    # missing tool fails; elsewhere (a student's Mac) the step says what it
    # skipped and why.
    start=$SECONDS
    skip() {
        if [ -n "${CROSS_REQUIRED:-}" ]; then echo "cross: $1" >&2; exit 1; fi
        echo "cross: skipped: $1" >&2
    }
    installed=$(rustup target list --installed 2>/dev/null || true)
    # macOS (Apple Silicon, Intel): every crate and test type-checks and is
    # clippy-clean. Checking needs no Apple linker; running needs a Mac.
    for t in aarch64-apple-darwin x86_64-apple-darwin; do
        if grep -qx "$t" <<<"$installed"; then
            cargo clippy -q --target "$t" --workspace --all-targets -- -D warnings
            echo "cross: clippy clean for $t"
        else
            skip "no Rust target $t (rustup target add $t)"
        fi
    done
    # Linux on ARM: the lessons built for aarch64 (release: under emulation a
    # debug build is slow enough for sysmon to time-slice lesson 1), checked
    # by the x86_64 lesson tests through qemu-aarch64; then the runtime's unit
    # tests (OS layer, stack allocator) and tests/platforms.rs (guards, stack
    # overflow, 16 KiB layout) built for aarch64 and run there.
    t=aarch64-unknown-linux-gnu
    if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
        skip "aarch64 under qemu needs an x86_64 Linux host"
    elif ! grep -qx "$t" <<<"$installed"; then
        skip "no Rust target $t (rustup target add $t)"
    elif ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
        skip "no qemu-aarch64 or aarch64-linux-gnu-gcc (Debian: apt-get install qemu-user gcc-aarch64-linux-gnu)"
    else
        runner="qemu-aarch64 -L /usr/aarch64-linux-gnu"
        export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
        export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="$runner"
        cargo build -q --release --target "$t" -p lessons --bins
        # One test at a time: emulated lessons running side by side on a
        # small machine can be descheduled for a whole 10 ms time slice.
        CROSS_BIN_DIR="$PWD/target/$t/release" CROSS_RUNNER="$runner" \
            cargo test -q -p lessons --test lessons -- --test-threads=1
        CROSS_RUNNER="$runner" cargo test -q --target "$t" -p runtime --lib --test platforms
        echo "cross: lessons and platform tests pass on $t under qemu-aarch64"
    fi
    echo "cross: done in $((SECONDS - start)) s"

# Model-check the scheduler's synchronization core with loom (grader/tests/loom_*.rs); prints what each model explored.
loom:
    #!/usr/bin/env bash
    set -euo pipefail
    # A separate target dir: `--cfg loom` rebuilds everything, and must not
    # invalidate the normal build's cache. LOOM_SEEDED_BUG empty: no seeded bug.
    # LOOM_DEEP empty: the models too big for CI's budget keep their caps.
    export RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_SEEDED_BUG= LOOM_DEEP=
    export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
    cargo clippy -q --profile loom -p runtime -p grader --tests -- -D warnings
    cargo test -q --profile loom -p grader --test 'loom_*' -- --nocapture

# Prove each loom model bites: build with each seeded bug and require its model to fail.
loom-bite:
    grader/loom-bite.sh

# The loom models without CI's caps: the few that `just loom` explores at fewer preemptions to stay in its budget run at LOOM_MAX_PREEMPTIONS (default 3) too (about 10 minutes on a quiet 2-core machine).
loom-deep:
    #!/usr/bin/env bash
    set -euo pipefail
    export RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom LOOM_SEEDED_BUG= LOOM_DEEP=1
    export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
    cargo test -q --profile loom -p grader --test 'loom_*' -- --nocapture

# Benchmarks beside OS threads, tokio, may (and Go when `go` is on PATH): one table of medians and ratios.
bench *ARGS:
    cargo build -q --release -p bench --features peers
    ./target/release/bench "$@"

# Soak run (minutes): 1M goroutines at once, 10M channel operations, churn; checks RSS, num_goroutine, no lost message.
soak *ARGS:
    cargo build -q --release -p bench --bin soak
    ./target/release/soak "$@"
