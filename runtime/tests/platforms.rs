//! The other platforms' paths, exercised on this machine.
//!
//! - `RUNTIME_GUARD=mprotect` takes the guard path of macOS, WSL2 and Linux
//!   before 6.13 on a kernel that has guard regions: 20,000 goroutines live at
//!   once and a stack overflow, through classic guard pages.
//! - `RUNTIME_PAGE_SIZE=16384` lays stacks out as on Apple Silicon: 16 KiB
//!   guards, so 112 KiB of usable stack instead of 124 KiB.
//!
//! Each scenario runs in a child (this binary re-executed with
//! `RUNTIME_SCENARIO=<name>`, as `process.rs` does), because the layout is
//! chosen once per process and a stack overflow ends the process. Set
//! `CROSS_RUNNER` (e.g. `qemu-aarch64 -L /usr/aarch64-linux-gnu`) to run
//! the children through an emulator: `just cross` does, to run this file on
//! aarch64.

#[cfg(not(loom))]
mod child_harness;

#[cfg(not(loom))]
mod scenarios {
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use assert_cmd::Command;
    use predicates::prelude::*;
    use runtime::{println, WaitGroup};

    use crate::child_harness::ENV;
    /// Live goroutines in the mprotect scenario.
    const LIVE: usize = 20_000;

    /// Memory mappings of this process, where the platform lists them.
    fn mappings() -> Option<usize> {
        if cfg!(target_os = "linux") {
            std::fs::read_to_string("/proc/self/maps")
                .ok()
                .map(|m| m.lines().count())
        } else {
            None
        }
    }

    /// `LIVE` goroutines parked at once on a gate, then released; prints the
    /// guard layout and how many kernel mappings their stacks added.
    fn many_live(live: usize) {
        let before = mappings();
        let gate = Arc::new(WaitGroup::new());
        let started = Arc::new(WaitGroup::new());
        let all_done = Arc::new(WaitGroup::new());
        let passed = Arc::new(AtomicUsize::new(0));
        gate.add(1);
        for _ in 0..live {
            started.add(1);
            all_done.add(1);
            let (gate, started, all_done, passed) = (
                gate.clone(),
                started.clone(),
                all_done.clone(),
                passed.clone(),
            );
            runtime::go(move || {
                started.done();
                gate.wait();
                passed.fetch_add(1, Ordering::Relaxed);
                all_done.done();
            });
        }
        started.wait();
        let live = runtime::num_goroutine();
        let grew = match (before, mappings()) {
            (Some(b), Some(a)) => format!("{}", a.saturating_sub(b)),
            _ => "unknown".into(),
        };
        gate.done();
        all_done.wait();
        println!(
            "live={live} finished={} mprotect={} guard={} mappings_added={grew}",
            passed.load(Ordering::Relaxed),
            runtime::stack::uses_mprotect_guards(),
            runtime::stack::guard_size(),
        );
    }

    /// Recurse until `want` bytes of the goroutine's stack are in use
    /// (measured from the first frame's address), then print how many.
    #[inline(never)]
    fn use_stack(top: usize, want: usize) -> usize {
        let frame = std::hint::black_box([0u8; 512]);
        let here = frame.as_ptr() as usize;
        let used = top - here;
        if used >= want {
            return used;
        }
        use_stack(top, want) + usize::from(std::hint::black_box(frame[7]))
    }

    fn scenario(name: &str) {
        match name {
            "layout" => runtime::main(|| {
                // The layout is chosen with the first stack: main's.
                println!(
                    "mprotect={} guard={} usable={}",
                    runtime::stack::uses_mprotect_guards(),
                    runtime::stack::guard_size(),
                    runtime::stack::usable_size()
                );
            }),
            "many-live" => runtime::main(|| many_live(LIVE)),
            "past-the-map-limit" => runtime::main(|| many_live(40_000)),
            "stack-overflow" => runtime::main(|| {
                let wg = Arc::new(WaitGroup::new());
                wg.add(1);
                let done = wg.clone();
                runtime::go(move || {
                    let top = std::hint::black_box(0u8);
                    use_stack(&top as *const u8 as usize, usize::MAX);
                    done.done();
                });
                wg.wait();
            }),
            _ => {
                // "use-stack-N": a goroutine that uses N bytes of its stack.
                let want: usize = name
                    .strip_prefix("use-stack-")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("unknown scenario {name}"));
                runtime::main(move || {
                    let wg = Arc::new(WaitGroup::new());
                    wg.add(1);
                    let done = wg.clone();
                    runtime::go(move || {
                        let top = std::hint::black_box(0u8);
                        let used = use_stack(&top as *const u8 as usize, want);
                        println!("used {}", used >= want);
                        done.done();
                    });
                    wg.wait();
                })
            }
        }
    }

    /// This binary again, through `CROSS_RUNNER` when set.
    fn child(name: &str, env: &[(&str, &str)]) -> assert_cmd::assert::Assert {
        let exe = std::env::current_exe().expect("test binary path");
        let runner = std::env::var("CROSS_RUNNER").unwrap_or_default();
        let mut words = runner.split_whitespace();
        let mut cmd = match words.next() {
            Some(program) => {
                let mut cmd = Command::new(program);
                cmd.args(words).arg(exe);
                cmd
            }
            None => Command::new(exe),
        };
        if !runner.is_empty() {
            // Under qemu-user a guest thread also waits on the emulator's
            // own locks, so `/proc/.../stat` can show a goroutine that is
            // busy touching its stack as blocked for a whole time slice,
            // and sysmon's implicit hand-off prints its note ahead of the
            // overflow report (seen once in CI). These tests are about
            // stack layout, not hand-offs.
            cmd.env("RUNTIME_IMPLICIT_HANDOFF", "0");
        }
        cmd.env(ENV, name)
            .env_remove("GOMAXPROCS")
            .env_remove("RUNTIME_GUARD")
            .env_remove("RUNTIME_PAGE_SIZE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.timeout(Duration::from_secs(120)).assert()
    }

    fn stdout_of(assert: &assert_cmd::assert::Assert) -> String {
        String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
    }

    const MPROTECT: &[(&str, &str)] = &[("RUNTIME_GUARD", "mprotect")];
    const PAGE_16K: &[(&str, &str)] = &[("RUNTIME_PAGE_SIZE", "16384")];

    fn tests() -> Vec<(&'static str, fn())> {
        vec![
            (
                "RUNTIME_GUARD=mprotect takes the classic guard path",
                || {
                    let out = stdout_of(&child("layout", MPROTECT).code(0));
                    assert!(out.starts_with("mprotect=true "), "{out}");
                },
            ),
            (
                "20,000 live goroutines through mprotect guards: two mappings each",
                || {
                    let out = stdout_of(&child("many-live", MPROTECT).code(0));
                    let want = format!("live={} finished={LIVE} mprotect=true ", LIVE + 1);
                    assert!(out.starts_with(&want), "{out}");
                    // Each guard splits its stack's mapping: the proof that the
                    // guards really are `mprotect`ed pages, not guard regions.
                    if let Some(added) = out
                        .trim_end()
                        .rsplit_once("mappings_added=")
                        .and_then(|(_, n)| n.parse::<usize>().ok())
                    {
                        assert!(added >= 2 * LIVE - 1000, "{out}");
                    }
                },
            ),
            (
                "a stack overflow through an mprotect guard is Go's report",
                || {
                    child("stack-overflow", MPROTECT).code(2).stderr(
                        predicate::str::starts_with("runtime: goroutine stack exceeds ")
                            .and(predicate::str::contains(
                            "-byte limit\nfatal error: stack overflow\n\ngoroutine 2 [running]:\n",
                        )),
                    );
                },
            ),
            (
                "a stack overflow through the guard this machine chose is Go's report",
                || {
                    // Here a guard region; under qemu-user, whose madvise
                    // pretends, the probe must have chosen mprotect instead.
                    child("stack-overflow", &[]).code(2).stderr(
                        predicate::str::starts_with("runtime: goroutine stack exceeds ").and(
                            predicate::str::contains(
                                "fatal error: stack overflow\n\ngoroutine 2 [running]:\n",
                            ),
                        ),
                    );
                },
            ),
            ("16 KiB pages: 16 KiB guards, 112 KiB of stack", || {
                let out = stdout_of(&child("layout", PAGE_16K).code(0));
                assert!(out.ends_with(" guard=16384 usable=114688\n"), "{out}");
                let out = stdout_of(&child("layout", &[]).code(0));
                let page = runtime::os::page_size();
                let want = format!(
                    " guard={page} usable={}\n",
                    runtime::stack::STACK_SIZE - page
                );
                assert!(out.ends_with(&want), "{out}");
            }),
            (
                "16 KiB pages: a goroutine can use 100 KB of its stack",
                || {
                    child("use-stack-100000", PAGE_16K)
                        .code(0)
                        .stdout("used true\n");
                },
            ),
            (
                "16 KiB pages: 118 KB overflows into the guard (fits with 4 KiB pages)",
                || {
                    child("use-stack-118000", PAGE_16K).code(2).stderr(
                        predicate::str::starts_with(
                            "runtime: goroutine stack exceeds 114688-byte limit\n\
                             fatal error: stack overflow\n\ngoroutine 2 [running]:\n",
                        ),
                    );
                    if runtime::os::page_size() == 4096 {
                        child("use-stack-118000", &[]).code(0).stdout("used true\n");
                    }
                },
            ),
            (
                "16 KiB pages and mprotect guards together: 20,000 goroutines",
                || {
                    let env = [MPROTECT[0], PAGE_16K[0]];
                    let out = stdout_of(&child("many-live", &env).code(0));
                    let want = format!(
                        "live={} finished={LIVE} mprotect=true guard=16384 ",
                        LIVE + 1
                    );
                    assert!(out.starts_with(&want), "{out}");
                },
            ),
            (
                "past vm.max_map_count, mprotect guards fail naming the limit and the fix",
                || {
                    // 40,000 stacks need 80,000 mappings with mprotect guards.
                    let limit = std::fs::read_to_string("/proc/sys/vm/max_map_count")
                        .ok()
                        .and_then(|s| s.trim().parse::<u64>().ok());
                    if limit.is_none_or(|l| l >= 75_000) {
                        eprintln!("skipped: vm.max_map_count is {limit:?}, not the default");
                        return;
                    }
                    // Under an emulator the emulator's own mappings count
                    // against the same limit, and its allocator can fail
                    // before our guard does (seen on a fresh clone: qemu
                    // aborts with "memory allocation of 780 bytes failed"),
                    // so the message this test checks is not ours to give.
                    if std::env::var_os("CROSS_RUNNER").is_some_and(|r| !r.is_empty()) {
                        eprintln!(
                            "skipped under CROSS_RUNNER: the emulator shares the mapping limit"
                        );
                        return;
                    }
                    child("past-the-map-limit", MPROTECT).code(2).stderr(
                        predicate::str::starts_with(
                            "fatal error: cannot install a stack guard page: the process \
                             reached the kernel's limit on memory mappings (vm.max_map_count = ",
                        )
                        .and(predicate::str::contains(
                            "sudo sysctl -w vm.max_map_count=1048576",
                        )),
                    );
                },
            ),
            (
                "a bad RUNTIME_GUARD or RUNTIME_PAGE_SIZE is a fatal error",
                || {
                    child("layout", &[("RUNTIME_GUARD", "fence")])
                        .code(2)
                        .stderr(predicate::str::starts_with(
                            "fatal error: RUNTIME_GUARD=fence: want `mprotect`",
                        ));
                    child("layout", &[("RUNTIME_PAGE_SIZE", "1000")])
                        .code(2)
                        .stderr(predicate::str::starts_with(
                            "fatal error: RUNTIME_PAGE_SIZE=1000: want a power of two",
                        ));
                },
            ),
        ]
    }

    pub fn main() -> ExitCode {
        crate::child_harness::main("platform", scenario, tests())
    }
}

#[cfg(not(loom))]
fn main() -> std::process::ExitCode {
    scenarios::main()
}

#[cfg(loom)]
fn main() {}
