#!/usr/bin/env bash
# Gradescope image setup: bubblewrap for the sandbox, a Rust toolchain that
# every uid can read (the sandbox uid builds with it: /opt, not /root), and
# the workspace built once so that grading a submission only compiles the
# student's files.
set -euo pipefail
apt-get update -q
apt-get install -y -q curl build-essential bubblewrap util-linux
export RUSTUP_HOME=/opt/rustup CARGO_HOME=/opt/cargo
curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --no-modify-path
chmod -R a+rX /opt/rustup /opt/cargo
export PATH="/opt/cargo/bin:$PATH"
cd /autograder/source
cargo fetch
cargo build -q -p grader --bin grader
# Warm the grader's build copy with the templates (in the sandbox, as
# grading does).
./target/debug/grader grade --submission lessons/exercises --workspace . \
    --work-dir /autograder/grader-work >/dev/null || true
