//! Stack compaction (`runtime/src/compact.rs`): a goroutine whose stack is
//! compacted and restored thousands of times computes the same results:
//! values on its stack, pointers into its stack, and a panic that unwinds
//! across frames that were compacted and restored.
//!
//! Each program runs in a child (`RUNTIME_SCENARIO=<name>`, as in
//! `process.rs`), so that the bite can run it with a deliberately wrong
//! restore (`RUNTIME_COMPACT_BITE=skip-copy-back`: the saved bytes are
//! dropped instead of copied back) and show that the test notices, and so
//! that the `mprotect` guard layout can be checked as well. Compaction is
//! Linux-only (it needs `membarrier`); elsewhere these tests check that
//! `compact_stacks` compacts nothing.

#[cfg(not(loom))]
mod child_harness;

#[cfg(not(loom))]
mod scenarios {
    use std::process::ExitCode;
    use std::sync::Arc;
    use std::time::Duration;

    use assert_cmd::Command;
    use runtime::WaitGroup;

    use crate::child_harness::ENV;

    /// Compact-and-restore cycles in the test (the soak run does a million).
    const CYCLES: u64 = 3_000;
    /// Every this many cycles, the cycle also unwinds a panic across the
    /// compacted frames.
    const PANIC_EVERY: u64 = 10;

    fn scenario(name: &str) {
        match name {
            "compact-restore" => runtime::main(|| {
                let n = compact_restore_cycles();
                println!("compacted {n} times");
            }),
            other => panic!("unknown scenario {other}"),
        }
    }

    /// One wait of the worker: a WaitGroup main releases once it has
    /// compacted the worker's stack (WaitGroup waits can be compacted;
    /// channel waits cannot: their sudogs are on the stack).
    type Gate = Arc<WaitGroup>;

    /// A parked goroutine, compacted by `compact_stacks` every time it
    /// waits, checks its stack each time it wakes. Returns how many
    /// compactions there were.
    fn compact_restore_cycles() -> u64 {
        let gates = runtime::chan::<Gate>(0);
        let gates_rx = gates.clone();
        let done = runtime::chan::<u64>(1);
        let done_tx = done.clone();
        runtime::go(move || {
            let mut checked = 0;
            for i in 0..CYCLES {
                checked += cycle(i, &gates_rx);
                if i % PANIC_EVERY == 0 {
                    checked += unwind_cycle(i, &gates_rx);
                }
            }
            done_tx.send(checked);
        });
        let waits = CYCLES + CYCLES / PANIC_EVERY;
        let mut compactions = 0;
        for _ in 0..waits {
            let gate: Gate = Arc::new(WaitGroup::new());
            gate.add(1);
            gates.send(gate.clone());
            if cfg!(target_os = "linux") {
                // The worker blocks on the gate right after taking it: wait
                // until it has, then compact it (the only other goroutine).
                loop {
                    let n = runtime::compact_stacks() as u64;
                    if n > 0 {
                        compactions += n;
                        break;
                    }
                    runtime::gosched();
                }
            } else {
                assert_eq!(runtime::compact_stacks(), 0, "compaction is Linux-only");
            }
            gate.done();
        }
        assert_eq!(done.recv(), Some(waits), "waits checked");
        if cfg!(target_os = "linux") {
            assert!(compactions >= waits, "only {compactions} compactions");
        }
        compactions
    }

    /// Values and pointers on the stack, across one compacted wait.
    #[inline(never)]
    fn cycle(i: u64, gates: &runtime::Chan<Gate>) -> u64 {
        let mut frame = [0u64; 96];
        for (k, v) in frame.iter_mut().enumerate() {
            *v = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k as u64;
        }
        let inner: &u64 = &frame[41];
        let cell = std::hint::black_box(&frame as *const [u64; 96]);
        let got = wait_deep(3, i, gates);
        assert_eq!(got, i, "the value computed across the wait");
        for (k, v) in frame.iter().enumerate() {
            assert_eq!(
                *v,
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ k as u64,
                "cycle {i}: word {k} on the stack"
            );
        }
        assert_eq!(*inner, frame[41], "cycle {i}: a reference into the stack");
        assert_eq!(std::ptr::addr_of!(frame), cell, "the stack did not move");
        1
    }

    /// Wait a few frames deeper, each frame holding a value and a pointer
    /// to it, and return `i` computed from what survived the wait.
    #[inline(never)]
    fn wait_deep(depth: u64, i: u64, gates: &runtime::Chan<Gate>) -> u64 {
        let mine = std::hint::black_box([depth ^ i; 8]);
        let ptr: &u64 = &mine[5];
        if depth == 0 {
            let gate = gates.recv().expect("gates is never closed");
            gate.wait();
        } else {
            let got = wait_deep(depth - 1, i, gates);
            assert_eq!(got, i);
        }
        assert!(mine.iter().all(|&v| v == depth ^ i), "depth {depth}");
        *ptr ^ depth
    }

    /// A panic raised after a compacted wait unwinds through the restored
    /// frames (their `Drop`s run) and is caught inside the goroutine.
    #[inline(never)]
    fn unwind_cycle(i: u64, gates: &runtime::Chan<Gate>) -> u64 {
        struct Count<'a>(&'a std::cell::Cell<u64>, u64);
        impl Drop for Count<'_> {
            fn drop(&mut self) {
                self.0.set(self.0.get() + self.1);
            }
        }
        let dropped = std::cell::Cell::new(0);
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _outer = Count(&dropped, 1);
            let frame = std::hint::black_box([i; 32]);
            let _inner = Count(&dropped, 10);
            let got = wait_deep(2, i, gates);
            if got == frame[17] {
                panic!("unwind {i}");
            }
        }));
        let payload = caught.expect_err("the panic is caught inside the goroutine");
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert_eq!(msg, format!("unwind {i}"));
        assert_eq!(dropped.get(), 11, "both guards dropped while unwinding");
        1
    }

    fn run(name: &str) -> Command {
        let mut c = Command::new(std::env::current_exe().expect("test binary path"));
        c.env(ENV, name)
            .env_remove("GOMAXPROCS")
            .env_remove("RUNTIME_STACK_COMPACT")
            .env_remove("RUNTIME_COMPACT_BITE")
            .env_remove("RUNTIME_GUARD")
            .timeout(Duration::from_secs(120));
        c
    }

    fn tests() -> Vec<(&'static str, fn())> {
        vec![
            (
                "a stack compacted and restored thousands of times keeps its values, pointers and unwinding",
                || {
                    for procs in ["1", "2"] {
                        let out = run("compact-restore").env("GOMAXPROCS", procs).assert().success();
                        let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
                        assert!(stdout.contains("compacted "), "{stdout}");
                    }
                },
            ),
            ("the same with mprotect guards (macOS's and older kernels' layout)", || {
                run("compact-restore")
                    .env("RUNTIME_GUARD", "mprotect")
                    .assert()
                    .success();
            }),
            ("bite: a restore that skips the copy-back fails the test", || {
                if !cfg!(target_os = "linux") {
                    return; // nothing is compacted: nothing to bite
                }
                let out = run("compact-restore")
                    .env("RUNTIME_COMPACT_BITE", "skip-copy-back")
                    .assert()
                    .failure();
                let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
                assert!(!stdout.contains("compacted "), "the bite went unnoticed: {stdout}");
            }),
        ]
    }

    pub fn main() -> ExitCode {
        crate::child_harness::main("compaction", scenario, tests())
    }
}

#[cfg(not(loom))]
fn main() -> std::process::ExitCode {
    scenarios::main()
}

#[cfg(loom)]
fn main() {}
