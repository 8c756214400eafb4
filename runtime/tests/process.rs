//! How a program ends: exit codes and messages, checked in child processes.
//!
//! The runtime ends the whole process on a panic, a deadlock or a stack
//! overflow, exactly as Go does, so each scenario runs in a child: this test
//! binary re-executes itself with `RUNTIME_SCENARIO=<name>` and the child runs
//! that scenario under `runtime::main`. (No libtest harness: `main` below
//! dispatches.)

// The loom build (`just loom` checks `-p runtime --tests`) has no executor.
#[cfg(not(loom))]
mod child_harness;

#[cfg(not(loom))]
mod scenarios {
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use assert_cmd::Command;
    use predicates::prelude::*;
    use runtime::{println, WaitGroup};

    use crate::child_harness::ENV;

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
                runtime::go(|| {
                    NEVER.wait();
                    not_reached();
                });
                runtime::go(|| {
                    NEVER.wait();
                    not_reached();
                });
                NEVER.wait(); // main waits here
                not_reached();
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
            // Three goroutines parked three ways and one spinning without
            // runtime calls; the test sends SIGQUIT once all are in place.
            "sigquit" => runtime::main(|| {
                runtime::gomaxprocs(2);
                static WG: WaitGroup = WaitGroup::new();
                WG.add(1);
                let ch = runtime::chan::<u32>(0);
                runtime::go(move || {
                    receive_forever(ch);
                    not_reached();
                });
                runtime::go(select_forever);
                runtime::go(spin);
                // Sleep, not gosched: a yielding main would stay on the
                // global queue, and the idle P would never steal the two
                // receivers queued behind the spinner.
                while READY.load(Ordering::SeqCst) < 3 {
                    runtime::time::sleep(Duration::from_millis(5));
                }
                // The two receivers park right after counting themselves.
                runtime::time::sleep(Duration::from_millis(50));
                println!("ready");
                WG.wait();
                not_reached();
            }),
            // A panic in main while another goroutine waits on a channel.
            "panic-with-others" => runtime::main(|| {
                let ch = runtime::chan::<u32>(0);
                runtime::go(move || {
                    receive_forever(ch);
                    not_reached();
                });
                while READY.load(Ordering::SeqCst) < 1 {
                    runtime::time::sleep(Duration::from_millis(5));
                }
                runtime::time::sleep(Duration::from_millis(20));
                panic_now();
                not_reached();
            }),
            other => panic!("unknown scenario {other}"),
        }
    }

    /// Goroutines of the SIGQUIT and panic scenarios that have started.
    static READY: AtomicUsize = AtomicUsize::new(0);

    /// Called after each blocking call of these scenarios, so that the call
    /// is not in tail position: an optimized build turns a call in tail
    /// position into a jump, and the caller's frame is gone from the stack
    /// (in Rust as in C; Go never does this). A report of such a goroutine
    /// then shows the line where it blocked instead of the caller's frame.
    #[inline(never)]
    fn not_reached() {
        println!("not reached");
    }

    #[inline(never)]
    fn receive_forever(ch: runtime::Chan<u32>) {
        READY.fetch_add(1, Ordering::SeqCst);
        ch.recv();
        not_reached();
    }

    #[inline(never)]
    fn select_forever() {
        let (a, b) = (runtime::chan::<u32>(0), runtime::chan::<u32>(0));
        READY.fetch_add(1, Ordering::SeqCst);
        runtime::select! {
            recv(a) => {},
            recv(b) => {},
        }
        not_reached();
    }

    #[inline(never)]
    fn spin() {
        READY.fetch_add(1, Ordering::SeqCst);
        #[allow(clippy::empty_loop)]
        loop {}
    }

    #[inline(never)]
    fn panic_now() {
        panic!("main is done");
    }

    /// A report with what changes from build to build hidden: line numbers
    /// (the frames must stay, one by one) and addresses.
    fn filtered(report: &str) -> String {
        let mut out = String::new();
        for line in report.lines() {
            let line = match line.find(".rs:") {
                Some(i) if line.starts_with('\t') => format!("{}.rs:[line]", &line[..i]),
                _ => line.to_string(),
            };
            let line = match line.strip_prefix("PC=0x") {
                Some(rest) => format!("PC=[pc]{}", &rest[rest.find(' ').unwrap_or(rest.len())..]),
                None => line,
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The line of `needle` in this file.
    fn line_of(needle: &str) -> usize {
        let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/process.rs"))
            .unwrap();
        src.lines()
            .position(|l| l.contains(needle))
            .expect("needle")
            + 1
    }

    fn stderr_of(a: &assert_cmd::assert::Assert) -> String {
        String::from_utf8_lossy(&a.get_output().stderr).into_owned()
    }

    /// Run the SIGQUIT scenario: wait for its `ready`, send SIGQUIT.
    fn run_sigquit() -> (Option<i32>, String) {
        use std::io::{BufRead, BufReader, Read};
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .env(ENV, "sigquit")
            .env_remove("GOMAXPROCS")
            .env_remove("GOTRACEBACK")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // A child that never gets ready is killed after a minute, so the
        // test fails instead of hanging.
        let pid = child.id() as libc::pid_t;
        let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watchdog = {
            let finished = finished.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                while !finished.load(Ordering::SeqCst) {
                    if start.elapsed() > Duration::from_secs(60) {
                        // SAFETY: our child has not been waited for yet, so
                        // its pid is still its own.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            })
        };
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        if line != "ready\n" {
            finished.store(true, Ordering::SeqCst);
            panic!("the child did not get ready: {line:?}");
        }
        // SAFETY: signalling our own child, which is still running (it
        // spins until the signal ends it).
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGQUIT) };
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        finished.store(true, Ordering::SeqCst);
        watchdog.join().unwrap();
        let status = child.wait().unwrap();
        (status.code(), stderr)
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
            .env_remove("GOTRACEBACK")
            .timeout(Duration::from_secs(30))
            .assert()
    }

    fn tests() -> Vec<(&'static str, fn())> {
        vec![
            ("a goroutine's panic ends the program like Go", || {
                let a = run("panic-in-goroutine").code(2);
                let stderr = stderr_of(&a);
                let line = line_of("panic!(\"boom from goroutine\")");
                // The panicking frame names the closure and its line, and
                // `created by` the function that ran `go`.
                assert!(
                    stderr.contains(&format!(
                        "process::scenarios::scenario::{{{{closure}}}}::{{{{closure}}}}()\n\t\
                         runtime/tests/process.rs:{line}\n"
                    )),
                    "{stderr}"
                );
                insta::assert_snapshot!("panic_in_goroutine", filtered(&stderr));
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
                let a = run("deadlock-three").code(2).stderr(
                    predicate::str::starts_with("fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [semacquire]:\n")
                        .and(predicate::str::contains("goroutine 2 [semacquire]:"))
                        .and(predicate::str::contains("goroutine 3 [semacquire]:"))
                        .and(predicate::str::contains("created by process::scenarios::scenario::{{closure}} in goroutine 1"))
                        .and(predicate::str::contains("goroutine 4").not()),
                );
                let stderr = stderr_of(&a);
                // Main's innermost frame of user code is its `wait()` line.
                let line = line_of("NEVER.wait(); // main waits here");
                assert!(
                    stderr.contains(
                        "goroutine 1 [semacquire]:\n\
                         runtime::sync::waitgroup::WaitGroup::wait()\n\
                         \truntime/src/sync/waitgroup.rs:"
                    ) && stderr.contains(&format!(
                        "process::scenarios::scenario::{{{{closure}}}}()\n\truntime/tests/process.rs:{line}\n"
                    )),
                    "{stderr}"
                );
                insta::assert_snapshot!("deadlock_three", filtered(&stderr));
            }),
            ("GOTRACEBACK=system adds the runtime's own frames", || {
                // The folding of runtime frames bites: the same deadlock
                // shows `gopark` and the semaphore only under `system`.
                let system = Command::new(std::env::current_exe().unwrap())
                    .env(ENV, "deadlock-three")
                    .env("GOTRACEBACK", "system")
                    .timeout(Duration::from_secs(30))
                    .assert()
                    .code(2);
                let system = stderr_of(&system);
                let default = stderr_of(&run("deadlock-three").code(2));
                for frame in ["runtime::proc::gopark()", "runtime::sema::Sema::acquire()"] {
                    assert!(system.contains(frame), "{system}");
                    assert!(!default.contains(frame), "{default}");
                }
                assert!(system.contains("process::scenarios::scenario::{{closure}}()"));
            }),
            (
                "GOTRACEBACK=none: a deadlock prints only the fatal line",
                || {
                    Command::new(std::env::current_exe().unwrap())
                        .env(ENV, "deadlock-three")
                        .env("GOTRACEBACK", "none")
                        .timeout(Duration::from_secs(30))
                        .assert()
                        .code(2)
                        .stderr("fatal error: all goroutines are asleep - deadlock!\n");
                },
            ),
            (
                "a panic shows the panicking goroutine only by default",
                || {
                    let a = run("panic-with-others").code(2);
                    let stderr = stderr_of(&a);
                    assert!(stderr.starts_with("panic: main is done\n\ngoroutine 1 [running]:\nprocess::scenarios::panic_now()\n"), "{stderr}");
                    assert!(!stderr.contains("goroutine 2"), "{stderr}");
                },
            ),
            ("GOTRACEBACK=all: a panic shows every goroutine", || {
                let a = Command::new(std::env::current_exe().unwrap())
                    .env(ENV, "panic-with-others")
                    .env("GOTRACEBACK", "all")
                    .timeout(Duration::from_secs(30))
                    .assert()
                    .code(2);
                insta::assert_snapshot!("panic_gotraceback_all", filtered(&stderr_of(&a)));
            }),
            ("GOTRACEBACK=none: a panic prints only its message", || {
                Command::new(std::env::current_exe().unwrap())
                    .env(ENV, "panic-with-others")
                    .env("GOTRACEBACK", "none")
                    .timeout(Duration::from_secs(30))
                    .assert()
                    .code(2)
                    .stderr("panic: main is done\n");
            }),
            (
                "SIGQUIT prints every goroutine with its frames and exits 2",
                || {
                    let (code, stderr) = run_sigquit();
                    assert_eq!(code, Some(2), "{stderr}");
                    insta::assert_snapshot!("sigquit", filtered(&stderr));
                },
            ),
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
        crate::child_harness::main("process", scenario, tests())
    }
}

#[cfg(not(loom))]
fn main() -> std::process::ExitCode {
    scenarios::main()
}

#[cfg(loom)]
fn main() {}
