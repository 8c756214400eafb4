//! Timers and the deadlock detector, in child processes (a deadlock ends the
//! process, as in Go): a stopped timer is no longer a coming wake-up, a
//! pending one is. Each program is held to what Go 1.19 does with the same
//! program (written beside it in the comments).
//!
//! Organised like `process.rs`: this test binary re-executes itself with
//! `RUNTIME_SCENARIO=<name>` and the child runs that scenario.

#[cfg(not(loom))]
mod child_harness;

#[cfg(not(loom))]
mod scenarios {
    use std::process::ExitCode;
    use std::time::Duration;

    use assert_cmd::Command;
    use predicates::prelude::*;
    use runtime::time::{after, after_func, Timer};
    use runtime::{chan, println, select};

    use crate::child_harness::ENV;

    const HOUR: Duration = Duration::from_secs(3600);
    const DEADLOCK: &str = "fatal error: all goroutines are asleep - deadlock!\n";

    /// The programs the children run.
    fn scenario(name: &str) {
        match name {
            // t := time.NewTimer(time.Hour); busy 5 ms; t.Stop(); <-make(chan int)
            // Go: the deadlock report at once.
            "stopped-timer-deadlocks" => runtime::main(|| {
                let t = Timer::new(HOUR);
                // Stay busy (holding the P) while, with 2 Ps, the other M
                // finds nothing to do and sleeps until the timer.
                std::thread::sleep(Duration::from_millis(5));
                println!("stopped: {}", t.stop());
                chan::<u32>(0).recv();
            }),
            // The same with a stopped AfterFunc, from a second goroutine,
            // while main waits on a WaitGroup.
            "stopped-after-func-deadlocks" => runtime::main(|| {
                static WG: runtime::WaitGroup = runtime::WaitGroup::new();
                WG.add(1);
                runtime::go(|| {
                    let t = after_func(HOUR, || println!("fired"));
                    println!("stopped: {}", t.stop());
                    chan::<u32>(0).recv();
                });
                WG.wait();
            }),
            // select { case <-never: case <-time.After(20ms): fmt.Println("timeout") }
            // Go: the pending timer keeps the program alive; "timeout".
            "pending-after-is-not-a-deadlock" => runtime::main(|| {
                let never = chan::<u32>(0);
                select! {
                    recv(never) => println!("received"),
                    recv(after(Duration::from_millis(20))) => println!("timeout"),
                }
            }),
            // c := time.After(20ms); _ = c; <-make(chan int)
            // Go: alive until the timer fires, then the deadlock report
            // (its value sits in the channel; nobody will receive it).
            "fired-after-then-deadlock" => runtime::main(|| {
                let _c = after(Duration::from_millis(20));
                println!("waiting");
                chan::<u32>(0).recv();
            }),
            // t := time.AfterFunc(5ms, f); t.Stop(); time.Sleep(30ms)
            // Go: f never runs when Stop returned true.
            "stopped-after-func-never-runs" => runtime::main(|| {
                let t = after_func(Duration::from_millis(5), || println!("fired"));
                let stopped = t.stop();
                runtime::time::sleep(Duration::from_millis(30));
                println!("stopped: {stopped}");
                println!("main done");
            }),
            other => panic!("unknown scenario {other}"),
        }
    }

    fn run(name: &str, procs: usize) -> assert_cmd::assert::Assert {
        Command::new(std::env::current_exe().expect("test binary path"))
            .env(ENV, name)
            .env("GOMAXPROCS", procs.to_string())
            .timeout(Duration::from_secs(30))
            .assert()
    }

    fn tests() -> Vec<(&'static str, fn())> {
        vec![
            (
                "a stopped timer is no pending wake-up: deadlock at once",
                || {
                    // With 2 Ps an M sleeps until the timer (the timer M):
                    // the stop must wake it, or the report would wait an
                    // hour (the test's 30 s timeout fails it).
                    for procs in [1, 2] {
                        run("stopped-timer-deadlocks", procs)
                            .code(2)
                            .stdout("stopped: true\n")
                            .stderr(predicate::str::starts_with(format!(
                                "{DEADLOCK}\ngoroutine 1 [chan receive]:\n"
                            )));
                    }
                },
            ),
            ("a stopped after_func is no pending wake-up either", || {
                for procs in [1, 2] {
                    run("stopped-after-func-deadlocks", procs)
                        .code(2)
                        .stdout("stopped: true\n")
                        .stderr(
                            predicate::str::starts_with(format!(
                                "{DEADLOCK}\ngoroutine 1 [semacquire]:\n"
                            ))
                            .and(predicate::str::contains("[chan receive]:")),
                        );
                }
            }),
            (
                "a pending time::after keeps the program alive (select timeout)",
                || {
                    for procs in [1, 2] {
                        run("pending-after-is-not-a-deadlock", procs)
                            .code(0)
                            .stdout("timeout\n");
                    }
                },
            ),
            ("a fired time::after no longer keeps it alive", || {
                for procs in [1, 2] {
                    run("fired-after-then-deadlock", procs)
                        .code(2)
                        .stdout("waiting\n")
                        .stderr(predicate::str::starts_with(format!(
                            "{DEADLOCK}\ngoroutine 1 [chan receive]:\n"
                        )));
                }
            }),
            ("a stopped after_func never runs", || {
                for procs in [1, 2] {
                    run("stopped-after-func-never-runs", procs)
                        .code(0)
                        .stdout(predicate::str::ends_with("main done\n"))
                        .stdout(predicate::function(|out: &str| {
                            // The function ran exactly when `stop` came too
                            // late (the timer had fired: Go's Stop is false).
                            let fired = out.contains("fired");
                            let stopped = out.contains("stopped: true");
                            fired != stopped && out.matches("fired").count() <= 1
                        }));
                }
            }),
        ]
    }

    pub fn main() -> ExitCode {
        crate::child_harness::main("timer-program", scenario, tests())
    }
}

#[cfg(not(loom))]
fn main() -> std::process::ExitCode {
    scenarios::main()
}

#[cfg(loom)]
fn main() {}
