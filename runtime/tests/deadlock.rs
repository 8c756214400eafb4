//! Deadlocks on channels, `select!` and timers end the program as in Go:
//! `fatal error: all goroutines are asleep - deadlock!`, every goroutine with
//! its wait reason, exit status 2.
//!
//! The runtime exits the process on a deadlock, as Go does, so each scenario
//! runs in a child process: this test binary runs itself again with
//! `--exact child` and the scenario's name in `SCENARIO`, and the `child`
//! test below plays it (it does nothing in a normal test run).

// The executor (goroutines, block_on) is not built under loom.
#![cfg(not(loom))]

use std::time::Duration;

use assert_cmd::Command;
use predicates::prelude::*;
use runtime::chan;

const FATAL: &str = "fatal error: all goroutines are asleep - deadlock!";

/// The programs played in the child process, each on one P.
fn scenario(name: &str) {
    match name {
        // main waits for a value nobody will send.
        "recv" => {
            let ch = chan::<i32>(0);
            let _keep = ch.clone();
            ch.recv();
        }
        // main sends on an unbuffered channel nobody reads.
        "send" => {
            let ch = chan::<i32>(0);
            ch.send(1);
        }
        // a full buffer: the second send blocks forever.
        "send-full" => {
            let ch = chan::<i32>(1);
            ch.send(1);
            ch.send(2);
        }
        // a goroutine blocks receiving, main blocks sending elsewhere.
        "two" => {
            let a = chan::<i32>(0);
            let b = chan::<i32>(0);
            let rx = a.clone();
            runtime::go(move || {
                rx.recv();
            });
            runtime::gosched();
            b.send(1);
        }
        // a select whose channels nobody uses.
        "select" => {
            let a = chan::<i32>(0);
            let b = chan::<i32>(0);
            runtime::select! {
                recv(a) => {},
                send(b, 1) => {},
            }
        }
        // Go's `select {}`.
        "select-nocases" => runtime::select! {},
        // Everyone else is blocked while main sleeps: a pending timer means
        // someone will wake up, so this is not a deadlock.
        "sleep" => {
            let ch = chan::<i32>(0);
            let rx = ch.clone();
            runtime::go(move || {
                rx.recv();
            });
            runtime::time::sleep(std::time::Duration::from_millis(30));
            runtime::println!("main woke up");
            std::process::exit(0);
        }
        // ... but once the timer fired, blocking is a deadlock again.
        "sleep-then-recv" => {
            let ch = chan::<i32>(0);
            runtime::time::sleep(std::time::Duration::from_millis(30));
            runtime::println!("main woke up");
            ch.recv();
        }
        // A goroutine must not park inside `runtime::syscall`: it has no P.
        "park-in-syscall" => {
            let ch = chan::<i32>(0);
            runtime::syscall(|| ch.recv());
        }
        other => panic!("unknown scenario {other:?}"),
    }
}

#[test]
fn child() {
    if let Ok(name) = std::env::var("SCENARIO") {
        runtime::main(move || {
            runtime::gomaxprocs(1);
            scenario(&name);
            runtime::println!("not deadlocked");
        })
    }
}

fn run(scenario: &str) -> assert_cmd::assert::Assert {
    let exe = std::env::current_exe().expect("test binary path");
    Command::new(exe)
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env("SCENARIO", scenario)
        .timeout(Duration::from_secs(60))
        .assert()
}

fn deadlocks(scenario: &str, dump: &[&str]) {
    let mut pred = predicate::str::starts_with(FATAL).boxed();
    for line in dump {
        pred = pred.and(predicate::str::contains(*line)).boxed();
    }
    run(scenario)
        .code(2)
        .stdout(predicate::str::contains("not deadlocked").not())
        .stderr(pred);
}

#[test]
fn receive_nobody_sends() {
    deadlocks(
        "recv",
        &["goroutine 1 [chan receive]:", "tests/deadlock.rs:"],
    );
}

#[test]
fn send_nobody_receives() {
    deadlocks("send", &["goroutine 1 [chan send]:"]);
}

#[test]
fn send_to_a_full_buffer() {
    deadlocks("send-full", &["goroutine 1 [chan send]:"]);
}

#[test]
fn every_blocked_goroutine_is_listed() {
    deadlocks(
        "two",
        &[
            "goroutine 1 [chan send]:",
            "goroutine 2 [chan receive]:",
            "created by deadlock::scenario in goroutine 1",
        ],
    );
}

#[test]
fn select_nobody_answers() {
    deadlocks("select", &["goroutine 1 [select]:", "tests/deadlock.rs:"]);
}

#[test]
fn empty_select_blocks_forever() {
    deadlocks("select-nocases", &["goroutine 1 [select (no cases)]:"]);
}

#[test]
fn a_pending_timer_is_not_a_deadlock() {
    run("sleep")
        .code(0)
        .stdout(predicate::str::contains("main woke up"))
        .stderr(predicate::str::contains("deadlock").not());
}

#[test]
fn after_the_timer_fires_a_deadlock_is_caught() {
    run("sleep-then-recv")
        .code(2)
        .stdout(predicate::str::contains("main woke up"))
        .stderr(
            predicate::str::starts_with(FATAL)
                .and(predicate::str::contains("goroutine 1 [chan receive]:")),
        );
}

#[test]
fn parking_inside_a_syscall_is_a_fatal_error() {
    run("park-in-syscall")
        .code(2)
        .stderr(predicate::str::starts_with(
            "fatal error: blocking runtime call (chan receive) inside runtime::syscall",
        ));
}
