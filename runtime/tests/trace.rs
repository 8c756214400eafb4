//! `RUNTIME_TRACE` and `RUNTIME_TRACE_OUT` on programs that end badly or run
//! many goroutines on several Ps, checked in child processes (the runtime
//! ends the process on a panic, as Go does). No libtest harness: `main`
//! dispatches, as in `process.rs`.

use std::process::ExitCode;

fn main() -> ExitCode {
    #[cfg(not(loom))]
    return imp::main();
    // Under `--cfg loom` the runtime has no executor to trace.
    #[cfg(loom)]
    ExitCode::SUCCESS
}

#[cfg(not(loom))]
mod imp {
    use std::collections::{BTreeMap, BTreeSet};
    use std::process::ExitCode;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use assert_cmd::Command;
    use runtime::WaitGroup;
    use serde_json::Value;

    const ENV: &str = "RUNTIME_SCENARIO";

    /// The programs the children run.
    fn scenario(name: &str) {
        match name {
            "panic-in-goroutine" => runtime::main(|| {
                static WG: WaitGroup = WaitGroup::new();
                WG.add(1);
                runtime::go(|| {
                    runtime::gosched();
                    panic!("boom from goroutine")
                });
                WG.wait();
            }),
            "many-on-two-ps" => runtime::main(|| {
                runtime::gomaxprocs(2);
                let wg = Arc::new(WaitGroup::new());
                for _ in 0..GOROUTINES {
                    wg.add(1);
                    let wg = wg.clone();
                    runtime::go(move || {
                        for _ in 0..3 {
                            runtime::gosched();
                        }
                        wg.done();
                    });
                }
                wg.wait();
            }),
            "syscall-hand-off" => runtime::main(|| {
                runtime::gomaxprocs(1);
                static WG: WaitGroup = WaitGroup::new();
                static FLAG: AtomicBool = AtomicBool::new(false);
                WG.add(2);
                // Created first, so it runs second: it can only run while the
                // other blocks in its syscall if sysmon hands P0 over.
                runtime::go(|| {
                    for _ in 0..200 {
                        runtime::gosched();
                    }
                    FLAG.store(true, Ordering::SeqCst);
                    WG.done();
                });
                runtime::go(|| {
                    runtime::syscall(|| {
                        let start = Instant::now();
                        while !FLAG.load(Ordering::SeqCst)
                            && start.elapsed() < Duration::from_secs(20)
                        {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    });
                    WG.done();
                });
                WG.wait();
            }),
            other => panic!("unknown scenario {other}"),
        }
    }

    const GOROUTINES: u64 = 40;

    /// Run a scenario with both trace outputs on; return its stderr and the
    /// parsed timeline.
    fn traced(name: &str, code: i32) -> (String, Value) {
        let path =
            std::env::temp_dir().join(format!("runtime-trace-{name}-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let out = Command::new(std::env::current_exe().unwrap())
            .env(ENV, name)
            .env("RUNTIME_TRACE", "1")
            .env("RUNTIME_TRACE_OUT", &path)
            .env_remove("GOMAXPROCS")
            .timeout(Duration::from_secs(60))
            .assert()
            .code(code)
            .get_output()
            .clone();
        let text = std::fs::read_to_string(&path).expect("trace file written");
        let _ = std::fs::remove_file(&path);
        let doc =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{text}"));
        (String::from_utf8(out.stderr).unwrap(), doc)
    }

    /// G runs per P track: P id → [(start, end, G name)], in ns, sorted.
    type RunsByP = BTreeMap<u64, Vec<(u64, u64, String)>>;

    /// The G runs of a timeline by P (checking no two overlap on one P), and
    /// the goroutines that have slices on M tracks.
    fn runs(doc: &Value) -> (RunsByP, BTreeSet<String>) {
        let ns = |v: &Value| (v.as_f64().expect("number") * 1000.0).round() as u64;
        let mut by_p = RunsByP::new();
        let mut on_m = BTreeSet::new();
        for e in doc["traceEvents"].as_array().expect("traceEvents") {
            assert!(["X", "i", "M"].contains(&e["ph"].as_str().unwrap()), "{e}");
            if e["ph"] != "X" {
                continue;
            }
            let name = e["name"].as_str().unwrap().to_string();
            let (start, dur) = (ns(&e["ts"]), ns(&e["dur"]));
            match e["pid"].as_u64() {
                Some(1) => by_p.entry(e["tid"].as_u64().unwrap()).or_default().push((
                    start,
                    start + dur,
                    name,
                )),
                Some(2) => {
                    on_m.insert(name);
                }
                _ => panic!("slice outside the P and M processes: {e}"),
            }
        }
        for (p, runs) in by_p.iter_mut() {
            runs.sort();
            for w in runs.windows(2) {
                assert!(w[0].1 <= w[1].0, "P{p}: {:?} overlaps {:?}", w[0], w[1]);
            }
        }
        (by_p, on_m)
    }

    fn names(by_p: &RunsByP) -> BTreeSet<String> {
        by_p.values().flatten().map(|(_, _, g)| g.clone()).collect()
    }

    fn panic_completes_the_trace() {
        let (stderr, doc) = traced("panic-in-goroutine", 2);
        assert!(stderr.contains("panic: boom from goroutine"), "{stderr}");
        assert!(stderr.contains("The program dies (status 2)"), "{stderr}");
        assert!(stderr.contains("G2 calls gosched()"), "{stderr}");
        let (by_p, on_m) = runs(&doc);
        let both: BTreeSet<String> = ["G1", "G2"].map(String::from).into();
        assert_eq!(names(&by_p), both);
        assert_eq!(on_m, both);
        // G2 yielded once, so it ran twice; the second run ends at the exit.
        let g2 = by_p.values().flatten().filter(|r| r.2 == "G2").count();
        assert_eq!(g2, 2, "{by_p:?}");
    }

    fn many_goroutines_on_two_ps() {
        let (stderr, doc) = traced("many-on-two-ps", 0);
        let (by_p, _) = runs(&doc);
        let all: BTreeSet<String> = (1..=GOROUTINES + 1).map(|g| format!("G{g}")).collect();
        assert_eq!(names(&by_p), all, "every goroutine that ran has slices");
        // Each worker ran at least 4 times (3 yields).
        let per_g = by_p.values().flatten().fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r.2.clone()).or_insert(0) += 1;
            m
        });
        assert!(
            per_g
                .iter()
                .filter(|(g, _)| *g != "G1")
                .all(|(_, n)| *n >= 4),
            "{per_g:?}"
        );
        assert!(stderr.contains("gomaxprocs(2)"), "{stderr}");
        assert!(stderr.lines().any(|l| l.starts_with("── #")), "{stderr}");
    }

    fn syscall_hands_the_p_off() {
        let (stderr, doc) = traced("syscall-hand-off", 0);
        let (by_p, on_m) = runs(&doc);
        assert_eq!(names(&by_p).len(), 3, "{by_p:?}");
        // G3 is the blocked one: its syscall is a slice on its M's track,
        // and G2 ran on P0 (under another M) inside that slice.
        assert!(on_m.contains("syscall G3"), "{on_m:?}");
        let events = doc["traceEvents"].as_array().unwrap();
        let ns = |v: &Value| (v.as_f64().unwrap() * 1000.0).round() as u64;
        let sys = events
            .iter()
            .find(|e| e["name"] == "syscall G3" && e["ph"] == "X")
            .unwrap();
        let (start, end) = (ns(&sys["ts"]), ns(&sys["ts"]) + ns(&sys["dur"]));
        assert!(
            by_p[&0]
                .iter()
                .any(|r| r.2 == "G2" && start <= r.0 && r.1 <= end),
            "{by_p:?}"
        );
        assert!(events.iter().any(|e| e["name"] == "hand-off P0"));
        // The pictures: the blocked M hangs beside P0 with its G, and the
        // 200 yields of G2 fold into one line.
        let titles: Vec<&str> = stderr.lines().filter(|l| l.starts_with("── #")).collect();
        for name in ["· syscall enter ·", "· hand-off ·", "· syscall exit ·"] {
            assert!(titles.iter().any(|t| t.contains(name)), "{name}:\n{stderr}");
        }
        assert!(stderr.contains("(syscall)"), "{stderr}");
        assert!(stderr.contains("  … ×"), "{stderr}");
        assert!(titles.len() < 100, "{} frames:\n{stderr}", titles.len());
    }

    fn tests() -> Vec<(&'static str, fn())> {
        vec![
            ("syscall_hands_the_p_off", syscall_hands_the_p_off),
            ("panic_completes_the_trace", panic_completes_the_trace),
            ("many_goroutines_on_two_ps", many_goroutines_on_two_ps),
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
        for (name, test) in tests() {
            if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
                continue;
            }
            match std::panic::catch_unwind(test) {
                Ok(()) => println!("test {name} ... ok"),
                Err(_) => {
                    failed += 1;
                    println!("test {name} ... FAILED");
                }
            }
        }
        if failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
