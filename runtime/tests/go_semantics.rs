//! Go's semantics past the lesson (issue 12): the small programs a student
//! who experiments writes, each run in a child process and held to what Go
//! 1.19 does with the same program (or to the documented deviation).
//!
//! Organised like `process.rs`: this test binary re-executes itself with
//! `RUNTIME_SCENARIO=<name>` and the child runs that scenario. (No libtest
//! harness: `main` below dispatches.)

#[cfg(not(loom))]
mod child_harness;

#[cfg(not(loom))]
mod scenarios {
    use std::io::{BufRead, BufReader};
    use std::process::{ExitCode, Stdio};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use assert_cmd::Command;
    use predicates::prelude::*;
    use runtime::{println, Chan, WaitGroup};

    use crate::child_harness::ENV;

    /// A value whose drop is visible (Go: a deferred call).
    struct Deferred(&'static str);

    impl Drop for Deferred {
        fn drop(&mut self) {
            println!("deferred: {}", self.0);
        }
    }

    /// A value whose drop uses the channel it is sent on.
    struct TouchesChannel(Chan<TouchesChannel>);

    impl Drop for TouchesChannel {
        fn drop(&mut self) {
            println!("dropped; channel holds {}", self.0.len());
        }
    }

    fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
        e.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| e.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    }

    thread_local! {
        /// A thread-local whose destructor uses the runtime.
        static CHANNEL_IN_TLS: ChannelInTls = ChannelInTls(runtime::chan(1));
    }

    struct ChannelInTls(Chan<u8>);

    impl Drop for ChannelInTls {
        fn drop(&mut self) {
            self.0.send(1);
            self.0.send(2); // full: would park
        }
    }

    /// The programs the children run.
    fn scenario(name: &str) {
        match name {
            // Go: defer func() { recover() }() inside the goroutine.
            "recover-in-goroutine" => runtime::main(|| {
                static WG: WaitGroup = WaitGroup::new();
                WG.add(1);
                runtime::go(|| {
                    let r = std::panic::catch_unwind(|| panic!("oops"));
                    println!("recovered: {}", panic_text(&*r.unwrap_err()));
                    WG.done();
                });
                WG.wait();
                println!("main done");
            }),
            // Go: a deferred call runs, then the panic report.
            "drop-runs-on-panic" => runtime::main(|| {
                static WG: WaitGroup = WaitGroup::new();
                WG.add(1);
                runtime::go(|| {
                    let _d = Deferred("in goroutine");
                    panic!("boom");
                });
                WG.wait();
            }),
            // A Drop that parks while its goroutine unwinds.
            "drop-parks-while-unwinding" => runtime::main(|| {
                static WG: WaitGroup = WaitGroup::new();
                let ch = runtime::chan::<u32>(0);
                let rx = ch.clone();
                WG.add(1);
                runtime::go(move || {
                    runtime::time::sleep(Duration::from_millis(5));
                    println!("received {:?}", rx.recv());
                    WG.done();
                });
                struct SendOnDrop(Chan<u32>);
                impl Drop for SendOnDrop {
                    fn drop(&mut self) {
                        self.0.send(7); // parks until the receiver comes
                    }
                }
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let _s = SendOnDrop(ch);
                    panic!("unwinding");
                }));
                println!("caught: {}", panic_text(&*r.unwrap_err()));
                WG.wait();
                println!("main done");
            }),
            // Go's sync.Mutex held across a yield, on one P.
            "sync-mutex-across-gosched" => runtime::main(|| {
                runtime::gomaxprocs(1);
                static M: runtime::sync::Mutex<u32> = runtime::sync::Mutex::new(0);
                static WG: WaitGroup = WaitGroup::new();
                WG.add(2);
                for _ in 0..2 {
                    runtime::go(|| {
                        let mut g = M.lock();
                        runtime::gosched();
                        println!("holding");
                        *g += 1;
                        drop(g);
                        WG.done();
                    });
                }
                WG.wait();
                println!("count {}", *M.lock());
            }),
            // Go's sync.Once (OnceValue) whose function sleeps, on one P.
            "sync-lazylock-sleeps" => runtime::main(|| {
                runtime::gomaxprocs(1);
                static V: runtime::sync::LazyLock<u32> = runtime::sync::LazyLock::new(|| {
                    runtime::time::sleep(Duration::from_millis(10));
                    42
                });
                static WG: WaitGroup = WaitGroup::new();
                WG.add(2);
                for _ in 0..2 {
                    runtime::go(|| {
                        println!("{}", *V);
                        WG.done();
                    });
                }
                WG.wait();
            }),
            // A goroutine leaked by `block_on` is not a deadlock while the
            // calling thread goes on working.
            "block-on-leaks-a-goroutine" => {
                let ch = runtime::chan::<u8>(0);
                runtime::block_on(move || {
                    runtime::go(move || {
                        ch.recv();
                    });
                });
                std::thread::sleep(Duration::from_millis(300));
                std::println!("caller still working");
                std::process::exit(0);
            }
            // ... but everything stuck inside `block_on` still is one.
            "block-on-deadlocks" => {
                let ch = runtime::chan::<u8>(0);
                runtime::block_on(move || {
                    ch.recv();
                });
                unreachable!("deadlock must end the process");
            }
            // A thread-local whose destructor uses a channel; main returns.
            "tls-destructor-uses-runtime" => runtime::main(|| {
                CHANNEL_IN_TLS.with(|c| c.0.len());
                println!("main returns");
            }),
            // The doc of `syscall` promises the panic reaches the caller.
            "block-on-syscall-panic" => {
                let r = std::panic::catch_unwind(|| {
                    runtime::block_on(|| runtime::syscall(|| panic!("inside syscall")))
                });
                std::println!("caught: {}", panic_text(&*r.unwrap_err()));
                // The P came back: the runtime still runs goroutines.
                std::println!("again: {}", runtime::block_on(|| 6 * 7));
                std::process::exit(0);
            }
            "send-on-closed-drop-touches-channel" => runtime::main(|| {
                let ch = runtime::chan::<TouchesChannel>(1);
                ch.close();
                ch.send(TouchesChannel(ch.clone()));
            }),
            "nested-main" => runtime::main(|| runtime::main(|| println!("inner"))),
            "main-from-second-thread" => runtime::main(|| {
                let t = std::thread::spawn(|| runtime::main(|| println!("second main")));
                runtime::time::sleep(Duration::from_secs(2));
                drop(t);
                println!("first main done");
            }),
            "makechan-size-out-of-range" => runtime::main(|| {
                let _ch = runtime::chan::<u64>(usize::MAX);
            }),
            "makechan-out-of-memory" => runtime::main(|| {
                let _ch = runtime::chan::<u64>(1 << 40);
                println!("allocated");
            }),
            "gomaxprocs-out-of-range" => runtime::main(|| {
                let at_start = runtime::gomaxprocs(0);
                let before = runtime::gomaxprocs(100_000);
                println!("{at_start} {before} {}", runtime::gomaxprocs(0));
            }),
            "deadlock-on-mutex" => runtime::main(|| {
                static M: runtime::sync::Mutex<()> = runtime::sync::Mutex::new(());
                let _held = M.lock();
                runtime::go(|| drop(M.lock()));
                let _again = M.lock(); // Go: fatal error, all goroutines asleep
            }),
            "print-forever" => runtime::main(|| {
                for i in 0..10_000_000u64 {
                    println!("line {i}");
                }
            }),
            // Issue 12's table: std blocking inside goroutines on one P.
            // Go has no such calls (its sync parks); the programs finish
            // there, and here once sysmon hands the blocked thread's P off.
            "std-mutex-across-gosched" => runtime::main(|| {
                runtime::gomaxprocs(1);
                static M: std::sync::Mutex<u32> = std::sync::Mutex::new(0);
                static WG: WaitGroup = WaitGroup::new();
                WG.add(2);
                for _ in 0..2 {
                    runtime::go(|| {
                        let mut g = M.lock().unwrap();
                        runtime::gosched();
                        *g += 1;
                        drop(g);
                        println!("held once");
                        WG.done();
                    });
                }
                WG.wait();
                println!("count {}", *M.lock().unwrap());
            }),
            // One P: a goroutine waiting in the run queue while a sleeper
            // whose timer is always due keeps waking. Due sleepers go ahead
            // of the run queue, but at most 61 schedules in a row
            // (`WOKEN_FIRST_MAX`): the queued goroutine runs long before
            // the sleeper's 10,000 naps are over. (Go 1.19 gives it a turn
            // when sysmon preempts the sleeper's chain, after 10 ms.)
            "due-sleepers-leave-the-queue-a-turn" => runtime::main(|| {
                use std::sync::atomic::AtomicU32;
                const NAPS: u32 = 10_000;
                static NAPPED: AtomicU32 = AtomicU32::new(0);
                static WG: WaitGroup = WaitGroup::new();
                runtime::gomaxprocs(1);
                WG.add(2);
                // Spawned first: the sleeper below takes `runnext` and
                // kicks this one into the run queue.
                runtime::go(|| {
                    let napped = NAPPED.load(Ordering::SeqCst);
                    if napped < NAPS {
                        println!("queued goroutine ran while the sleeper napped");
                    } else {
                        println!("queued goroutine starved: ran after {napped} naps");
                    }
                    WG.done();
                });
                runtime::go(|| {
                    for _ in 0..NAPS {
                        // Due by the next schedule: the clock has moved.
                        runtime::time::sleep(Duration::from_nanos(1));
                        NAPPED.fetch_add(1, Ordering::SeqCst);
                    }
                    WG.done();
                });
                WG.wait();
            }),
            "std-lazylock-sleeps" => runtime::main(|| {
                runtime::gomaxprocs(1);
                static V: std::sync::LazyLock<u32> = std::sync::LazyLock::new(|| {
                    runtime::time::sleep(Duration::from_millis(10));
                    42
                });
                static WG: WaitGroup = WaitGroup::new();
                WG.add(2);
                for _ in 0..2 {
                    runtime::go(|| {
                        let v = *V;
                        println!("{v}");
                        WG.done();
                    });
                }
                WG.wait();
            }),
            "std-mpsc-between-goroutines" => runtime::main(|| {
                runtime::gomaxprocs(1);
                let (tx, rx) = std::sync::mpsc::channel::<u32>();
                static WG: WaitGroup = WaitGroup::new();
                WG.add(1);
                runtime::go(move || {
                    let sum: u32 = (0..3).map(|_| rx.recv().unwrap()).sum();
                    println!("sum {sum}");
                    WG.done();
                });
                runtime::go(move || {
                    for i in 1..=3 {
                        tx.send(i).unwrap();
                        runtime::gosched();
                    }
                });
                WG.wait();
            }),
            "block-on-inside-goroutine" => runtime::main(|| {
                runtime::gomaxprocs(1);
                let inner = runtime::block_on(|| 6 * 7);
                println!("inner {inner}");
            }),
            // The hand-off's own test: on one P, a goroutine sleeps 200 ms in
            // a std call; the other must make progress meanwhile (counted,
            // never timed). `RUNTIME_IMPLICIT_HANDOFF=0` is the bite.
            "std-sleep-blocks-one-goroutine" => runtime::main(|| {
                use std::sync::atomic::AtomicU64;
                runtime::gomaxprocs(1);
                static TICKS: AtomicU64 = AtomicU64::new(0);
                static STOP: AtomicBool = AtomicBool::new(false);
                static WG: WaitGroup = WaitGroup::new();
                WG.add(2);
                runtime::go(|| {
                    while !STOP.load(Ordering::Relaxed) {
                        TICKS.fetch_add(1, Ordering::Relaxed);
                        runtime::gosched();
                    }
                    WG.done();
                });
                runtime::go(|| {
                    let before = TICKS.load(Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(200));
                    let during = TICKS.load(Ordering::Relaxed) - before;
                    STOP.store(true, Ordering::Relaxed);
                    println!("progressed: {}", during > 0);
                    WG.done();
                });
                WG.wait();
            }),
            other => panic!("unknown scenario {other}"),
        }
    }

    fn run(name: &str) -> assert_cmd::assert::Assert {
        Command::new(std::env::current_exe().expect("test binary path"))
            .env(ENV, name)
            .env_remove("GOMAXPROCS")
            .timeout(Duration::from_secs(30))
            .assert()
    }

    /// sysmon's note about a goroutine that blocked its thread, printed
    /// exactly once.
    fn note_once() -> impl predicates::Predicate<str> {
        predicate::function(|err: &str| {
            err.matches("blocked its thread outside the runtime")
                .count()
                == 1
                && err.contains("runtime::sync instead of std::sync")
                && err.contains("runtime::syscall")
        })
    }

    fn tests() -> Vec<(&'static str, fn())> {
        vec![
            ("catch_unwind in a goroutine is Go's recover", || {
                run("recover-in-goroutine")
                    .code(0)
                    .stdout("recovered: oops\nmain done\n")
                    .stderr(predicate::str::contains("panic:").not());
            }),
            (
                "a panic runs the goroutine's drops, then Go's report",
                || {
                    run("drop-runs-on-panic")
                        .code(2)
                        .stdout("deferred: in goroutine\n")
                        .stderr(predicate::str::starts_with(
                            "panic: boom\n\ngoroutine 2 [running]:\n",
                        ));
                },
            ),
            ("a drop may park while its goroutine unwinds", || {
                run("drop-parks-while-unwinding").code(0).stdout(
                    predicate::str::contains("received Some(7)\n")
                        .and(predicate::str::contains("caught: unwinding\n"))
                        .and(predicate::str::ends_with("main done\n")),
                );
            }),
            ("runtime::sync::Mutex held across gosched on one P", || {
                run("sync-mutex-across-gosched")
                    .code(0)
                    .stdout("holding\nholding\ncount 2\n");
            }),
            ("runtime::sync::LazyLock whose init sleeps, one P", || {
                run("sync-lazylock-sleeps").code(0).stdout("42\n42\n");
            }),
            ("a std::sync::Mutex held across gosched on one P", || {
                run("std-mutex-across-gosched")
                    .code(0)
                    .stdout("held once\nheld once\ncount 2\n")
                    .stderr(note_once());
            }),
            (
                "a stream of due sleepers leaves the run queue a turn, one P",
                || {
                    run("due-sleepers-leave-the-queue-a-turn")
                        .code(0)
                        .stdout("queued goroutine ran while the sleeper napped\n");
                },
            ),
            ("a std LazyLock whose init sleeps, one P", || {
                run("std-lazylock-sleeps")
                    .code(0)
                    .stdout("42\n42\n")
                    .stderr(note_once());
            }),
            ("std::sync::mpsc between two goroutines on one P", || {
                run("std-mpsc-between-goroutines")
                    .code(0)
                    .stdout("sum 6\n")
                    .stderr(note_once());
            }),
            ("block_on inside a goroutine, one P", || {
                run("block-on-inside-goroutine")
                    .code(0)
                    .stdout("inner 42\n")
                    .stderr(note_once());
            }),
            (
                "a goroutine blocked in a std call does not stall its P",
                || {
                    run("std-sleep-blocks-one-goroutine")
                        .code(0)
                        .stdout("progressed: true\n")
                        .stderr(note_once());
                },
            ),
            ("without the hand-off, the P stalls (the bite)", || {
                Command::new(std::env::current_exe().expect("test binary path"))
                    .env(ENV, "std-sleep-blocks-one-goroutine")
                    .env("RUNTIME_IMPLICIT_HANDOFF", "0")
                    .env_remove("GOMAXPROCS")
                    .timeout(Duration::from_secs(30))
                    .assert()
                    .code(0)
                    .stdout("progressed: false\n")
                    .stderr("");
            }),
            ("a goroutine leaked by block_on is not a deadlock", || {
                run("block-on-leaks-a-goroutine")
                    .code(0)
                    .stdout("caller still working\n");
            }),
            ("everything stuck inside block_on is a deadlock", || {
                run("block-on-deadlocks")
                    .code(2)
                    .stderr(predicate::str::starts_with(
                        "fatal error: all goroutines are asleep - deadlock!\n",
                    ));
            }),
            (
                "exit does not run a goroutine M's thread-local destructors",
                || {
                    run("tls-destructor-uses-runtime")
                        .code(0)
                        .stdout("main returns\n")
                        .stderr("");
                },
            ),
            ("a panic inside syscall reaches block_on's caller", || {
                run("block-on-syscall-panic")
                    .code(0)
                    .stdout("caught: inside syscall\nagain: 42\n");
            }),
            (
                "send on closed channel drops the value outside the lock",
                || {
                    run("send-on-closed-drop-touches-channel")
                        .code(2)
                        .stdout("dropped; channel holds 0\n")
                        .stderr(predicate::str::starts_with(
                            "panic: send on closed channel\n",
                        ));
                },
            ),
            ("a nested runtime::main is a fatal error naming it", || {
                run("nested-main")
                    .code(2)
                    .stdout("")
                    .stderr(predicate::str::starts_with(
                        "fatal error: runtime::main called while the runtime's main is running",
                    ));
            }),
            (
                "runtime::main from a second thread is a fatal error",
                || {
                    run("main-from-second-thread").code(2).stdout("").stderr(
                        predicate::str::starts_with(
                            "fatal error: runtime::main called while the runtime's main is running",
                        ),
                    );
                },
            ),
            ("makechan: size out of range", || {
                run("makechan-size-out-of-range")
                    .code(2)
                    .stderr(predicate::str::starts_with(
                        "panic: makechan: size out of range\n",
                    ));
            }),
            ("a channel buffer larger than memory: out of memory", || {
                // 8 TiB: refused by the kernel unless overcommit is
                // unlimited (vm.overcommit_memory=1), where Go too gets it.
                let unlimited = std::fs::read_to_string("/proc/sys/vm/overcommit_memory")
                    .is_ok_and(|s| s.trim() == "1");
                if unlimited {
                    run("makechan-out-of-memory").code(0);
                } else {
                    run("makechan-out-of-memory")
                        .code(2)
                        .stdout("")
                        .stderr("fatal error: out of memory\n");
                }
            }),
            (
                "GOMAXPROCS out of range: ignored as Go, or clamped to 256",
                || {
                    // What the runtime makes of "no GOMAXPROCS": the CPUs it may use.
                    let out = Command::new(std::env::current_exe().unwrap())
                        .env(ENV, "gomaxprocs-out-of-range")
                        .env_remove("GOMAXPROCS")
                        .timeout(Duration::from_secs(30))
                        .output()
                        .unwrap();
                    let cpus: usize = String::from_utf8_lossy(&out.stdout)
                        .split(' ')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .expect("the scenario prints GOMAXPROCS first");
                    for (env, start) in [
                        ("abc", cpus),
                        ("0", cpus),
                        ("-1", cpus),
                        ("99999999999", cpus), // not an int32: Go ignores it
                        ("3", 3),
                        ("100000", 256), // Go would make 100000 Ps; we clamp
                    ] {
                        Command::new(std::env::current_exe().unwrap())
                            .env(ENV, "gomaxprocs-out-of-range")
                            .env("GOMAXPROCS", env)
                            .timeout(Duration::from_secs(30))
                            .assert()
                            .code(0)
                            .stdout(format!("{start} {start} 256\n"));
                    }
                },
            ),
            (
                "a deadlock on runtime::sync::Mutex shows Go's wait reason",
                || {
                    run("deadlock-on-mutex").code(2).stderr(
                    predicate::str::starts_with(
                        "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [sync.Mutex.Lock]:\n",
                    )
                    .and(predicate::str::contains("goroutine 2 [sync.Mutex.Lock]:")),
                );
                },
            ),
            (
                "writing to a closed stdout kills the program with SIGPIPE",
                || {
                    use std::os::unix::process::ExitStatusExt;
                    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                        .env(ENV, "print-forever")
                        .stdout(Stdio::piped())
                        .spawn()
                        .expect("spawn");
                    let mut first = String::new();
                    BufReader::new(child.stdout.take().unwrap())
                        .read_line(&mut first)
                        .unwrap();
                    assert_eq!(first, "line 0\n");
                    // The reader is gone (dropped above): the next write fails.
                    let done = Arc::new(AtomicBool::new(false));
                    let watchdog = {
                        let done = done.clone();
                        let pid = child.id() as i32;
                        std::thread::spawn(move || {
                            for _ in 0..300 {
                                if done.load(Ordering::Relaxed) {
                                    return;
                                }
                                std::thread::sleep(Duration::from_millis(100));
                            }
                            // SAFETY: killing our own child, still unreaped.
                            unsafe { libc::kill(pid, libc::SIGKILL) };
                        })
                    };
                    let status = child.wait().unwrap();
                    done.store(true, Ordering::Relaxed);
                    watchdog.join().unwrap();
                    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}");
                },
            ),
        ]
    }

    pub fn main() -> ExitCode {
        crate::child_harness::main("Go-semantics", scenario, tests())
    }
}

#[cfg(not(loom))]
fn main() -> std::process::ExitCode {
    scenarios::main()
}

#[cfg(loom)]
fn main() {}
