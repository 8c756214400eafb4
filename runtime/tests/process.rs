//! How a program ends: exit codes and messages, checked in child processes.
//!
//! The runtime ends the whole process on a panic, a deadlock or a stack
//! overflow, exactly as Go does, so each scenario runs in a child: this test
//! binary re-executes itself with `RUNTIME_SCENARIO=<name>` and the child runs
//! that scenario under `runtime::main`. (No libtest harness: `main` below
//! dispatches.)

// The loom build (`just loom` checks `-p runtime --tests`) has no executor.
#[cfg(not(loom))]
mod scenarios {
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use assert_cmd::Command;
    use predicates::prelude::*;
    use runtime::{println, WaitGroup};

    const ENV: &str = "RUNTIME_SCENARIO";

    /// The programs the children run.
    fn scenario(name: &str) {
        match name {
            "panic-in-goroutine" => runtime::main(|| {
                static WG: WaitGroup = WaitGroup::new();
                WG.add(1);
                runtime::go(|| panic!("boom from goroutine"));
                WG.wait();
            }),
            "panic-in-main" => runtime::main(|| panic!("main is unhappy: {}", 42)),
            "stack-overflow" => runtime::main(|| {
                static WG: WaitGroup = WaitGroup::new();
                WG.add(1);
                runtime::go(|| {
                    recurse(0);
                    WG.done();
                });
                WG.wait();
            }),
            "main-returns-early" => runtime::main(|| {
                for _ in 0..4 {
                    runtime::go(|| loop {
                        runtime::gosched();
                    });
                }
                println!("main done");
            }),
            "print-gomaxprocs" => runtime::main(|| println!("{}", runtime::gomaxprocs(0))),
            "gomaxprocs-resize" => runtime::main(|| {
                let before = runtime::gomaxprocs(3);
                let now = runtime::gomaxprocs(0);
                let wg = Arc::new(WaitGroup::new());
                let sum = Arc::new(AtomicUsize::new(0));
                for i in 0..1000 {
                    wg.add(1);
                    let (wg, sum) = (wg.clone(), sum.clone());
                    runtime::go(move || {
                        sum.fetch_add(i, Ordering::Relaxed);
                        runtime::gosched();
                        wg.done();
                    });
                    if i == 500 {
                        runtime::gomaxprocs(1);
                    }
                }
                wg.wait();
                println!(
                    "before={before} now={now} after={} sum={}",
                    runtime::gomaxprocs(0),
                    sum.load(Ordering::Relaxed)
                );
            }),
            "deadlock-three" => runtime::main(|| {
                static NEVER: WaitGroup = WaitGroup::new();
                NEVER.add(1);
                runtime::go(|| NEVER.wait());
                runtime::go(|| NEVER.wait());
                NEVER.wait();
            }),
            "busy-is-not-deadlock" => runtime::main(|| {
                runtime::gomaxprocs(2);
                static WG: WaitGroup = WaitGroup::new();
                WG.add(1);
                runtime::go(|| {
                    // 100 ms without a single runtime call: every other M is idle
                    // meanwhile, but this G is running, so no deadlock.
                    let start = Instant::now();
                    while start.elapsed() < Duration::from_millis(100) {
                        std::hint::spin_loop();
                    }
                    WG.done();
                });
                WG.wait();
                println!("finished");
            }),
            "gosched-alternates" => runtime::main(|| {
                runtime::gomaxprocs(1);
                static WG: WaitGroup = WaitGroup::new();
                for name in ["x", "y"] {
                    WG.add(1);
                    runtime::go(move || {
                        for i in 0..3 {
                            runtime::print!("{name}{i} ");
                            runtime::gosched();
                        }
                        WG.done();
                    });
                }
                WG.wait();
                println!();
            }),
            "negative-counter" => runtime::main(|| {
                let wg = WaitGroup::new();
                wg.add(1);
                wg.done();
                wg.done();
            }),
            other => panic!("unknown scenario {other}"),
        }
    }

    #[inline(never)]
    fn recurse(depth: u64) -> u64 {
        if depth == u64::MAX {
            return 0;
        }
        let frame = std::hint::black_box([depth; 64]);
        recurse(depth + 1) + frame[3]
    }

    fn run(name: &str) -> assert_cmd::assert::Assert {
        Command::new(std::env::current_exe().expect("test binary path"))
            .env(ENV, name)
            .env_remove("GOMAXPROCS")
            .timeout(Duration::from_secs(30))
            .assert()
    }

    fn tests() -> Vec<(&'static str, fn())> {
        vec![
            ("a goroutine's panic ends the program like Go", || {
                run("panic-in-goroutine").code(2).stderr(
                    predicate::str::starts_with(
                        "panic: boom from goroutine\n\ngoroutine 2 [running]:\n",
                    )
                    .and(predicate::str::contains("tests/process.rs:")),
                );
            }),
            ("a panic in main names goroutine 1", || {
                run("panic-in-main")
                    .code(2)
                    .stderr(predicate::str::starts_with(
                        "panic: main is unhappy: 42\n\ngoroutine 1 [running]:\n",
                    ));
            }),
            (
                "a stack overflow is a fatal error naming the goroutine",
                || {
                    run("stack-overflow").code(2).stderr(
                        predicate::str::contains(
                            "fatal error: stack overflow\n\ngoroutine 2 [running]:",
                        )
                        .and(predicate::str::contains("goroutine stack exceeds")),
                    );
                },
            ),
            ("main returning exits 0 while goroutines still run", || {
                run("main-returns-early").code(0).stdout("main done\n");
            }),
            ("GOMAXPROCS in the environment sets the Ps", || {
                Command::new(std::env::current_exe().unwrap())
                    .env(ENV, "print-gomaxprocs")
                    .env("GOMAXPROCS", "3")
                    .timeout(Duration::from_secs(30))
                    .assert()
                    .code(0)
                    .stdout("3\n");
            }),
            ("gomaxprocs grows and shrinks while goroutines run", || {
                let expected_sum: usize = (0..1000).sum();
                Command::new(std::env::current_exe().unwrap())
                    .env(ENV, "gomaxprocs-resize")
                    .env("GOMAXPROCS", "2")
                    .timeout(Duration::from_secs(30))
                    .assert()
                    .code(0)
                    .stdout(format!("before=2 now=3 after=1 sum={expected_sum}\n"));
            }),
            ("a deadlock lists every goroutine and exits 2", || {
                run("deadlock-three").code(2).stderr(
                    predicate::str::starts_with("fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [semacquire]:\n")
                        .and(predicate::str::contains("goroutine 2 [semacquire]:"))
                        .and(predicate::str::contains("goroutine 3 [semacquire]:"))
                        .and(predicate::str::contains("created by goroutine 1"))
                        .and(predicate::str::contains("goroutine 4").not()),
                );
            }),
            (
                "a goroutine busy without runtime calls is not a deadlock",
                || {
                    run("busy-is-not-deadlock").code(0).stdout("finished\n");
                },
            ),
            (
                "gosched sends the goroutine to the back: two goroutines alternate",
                || {
                    // y was created last, so it starts (runnext); each gosched puts
                    // the caller on the global queue behind the other one.
                    run("gosched-alternates")
                        .code(0)
                        .stdout("y0 x0 y1 x1 y2 x2 \n");
                },
            ),
            ("WaitGroup misuse panics with Go's message", || {
                run("negative-counter")
                    .code(2)
                    .stderr(predicate::str::starts_with(
                        "panic: sync: negative WaitGroup counter\n",
                    ));
            }),
        ]
    }

    pub fn main() -> ExitCode {
        if let Ok(name) = std::env::var(ENV) {
            scenario(&name);
            unreachable!("runtime::main never returns");
        }
        let filter: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with('-'))
            .collect();
        let mut failed = 0;
        let mut ran = 0;
        for (name, test) in tests() {
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
        println!("\n{ran} process tests, {failed} failed");
        if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(loom))]
fn main() -> std::process::ExitCode {
    scenarios::main()
}

#[cfg(loom)]
fn main() {}
