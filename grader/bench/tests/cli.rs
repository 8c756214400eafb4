//! The bench and soak binaries work end to end at small sizes. No timing is
//! asserted (shared, noisy machines): only that each child measures something
//! sensible and that the soak's own checks pass.

use assert_cmd::Command;

/// Run `bench child IMPL WORKLOAD N` and return the reported value.
fn child(imp: &str, workload: &str, n: usize, procs: usize) -> f64 {
    child_fields(imp, workload, n, procs, &[])[0]
}

/// Run `bench child IMPL WORKLOAD N` with `env` and return the reported
/// `value=` and, if any, `peak=`.
fn child_fields(
    imp: &str,
    workload: &str,
    n: usize,
    procs: usize,
    env: &[(&str, &str)],
) -> Vec<f64> {
    let out = Command::cargo_bin("bench")
        .expect("bench binary")
        .args(["child", imp, workload, &n.to_string()])
        .env("GOMAXPROCS", procs.to_string())
        .envs(env.iter().copied())
        .output()
        .expect("run bench child");
    assert!(out.status.success(), "{imp} {workload} failed: {out:?}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    ["value=", "peak=", "pte="]
        .iter()
        .filter_map(|key| {
            stdout
                .split_whitespace()
                .find_map(|f| f.strip_prefix(key))
                .map(|v| v.parse().expect("a number"))
        })
        .collect()
}

#[test]
fn spawn_reports_time_per_goroutine_on_one_and_two_ps() {
    for procs in [1, 2] {
        let ns = child("ours", "spawn", 5_000, procs);
        assert!(ns > 0.0 && ns.is_finite(), "ns per goroutine: {ns}");
    }
}

#[test]
fn idle_goroutines_cost_at_least_their_stack_page_when_not_compacted() {
    // Every blocked goroutine has run, so it touched its stack's top page;
    // with compaction off (it would release that page after 20 ms), the page
    // stays.
    let bytes = child_fields(
        "ours",
        "idle",
        5_000,
        1,
        &[("RUNTIME_STACK_COMPACT", "off")],
    )[0];
    assert!(
        (4096.0..65536.0).contains(&bytes),
        "bytes per idle goroutine: {bytes}"
    );
}

#[test]
fn alive_reports_wall_time_peak_resident_size_and_page_tables() {
    for procs in [1, 2] {
        let fields = child_fields("ours", "alive", 5_000, procs, &[]);
        let (secs, peak) = (fields[0], fields[1]);
        assert!(secs > 0.0 && secs.is_finite(), "seconds: {secs}");
        // At least one stack page per goroutine was touched at some point
        // (each ran), and nothing near a gigabyte for 5,000.
        assert!((5_000.0 * 4096.0..1e9).contains(&peak), "peak: {peak}");
        if cfg!(target_os = "linux") {
            // With all 5,000 alive, their stacks' top pages sit a stack
            // reservation apart: a page of page-table entries per 2 MiB.
            let per_pte_page = (2 << 20) / runtime::stack::STACK_SIZE;
            let pte = fields[2];
            assert!(
                (5_000.0 / per_pte_page as f64 * 4096.0..1e9).contains(&pte),
                "page tables: {pte}"
            );
        }
    }
}

#[test]
fn a_peer_not_built_in_is_reported_unavailable() {
    if cfg!(feature = "peers") {
        return;
    }
    Command::cargo_bin("bench")
        .expect("bench binary")
        .args(["child", "tokio-mt", "spawn", "10"])
        .assert()
        .code(3);
}

#[test]
fn soak_passes_its_own_checks_when_small() {
    Command::cargo_bin("soak")
        .expect("soak binary")
        .args(["--scale", "1000"])
        .assert()
        .success()
        .stderr(predicates::str::contains("PASS"));
}

#[test]
fn bad_arguments_print_usage() {
    Command::cargo_bin("bench")
        .expect("bench binary")
        .args(["child", "ours", "nope", "10"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("usage"));
}

/// `bench burn` (the driver's CPU burner) computes until it is stopped.
#[test]
fn a_burner_runs_until_killed() {
    let mut burner = std::process::Command::new(assert_cmd::cargo::cargo_bin("bench"))
        .arg("burn")
        .spawn()
        .expect("start bench burn");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let early_exit = burner.try_wait().expect("poll the burner");
    let _ = burner.kill();
    let _ = burner.wait();
    assert_eq!(early_exit, None, "the burner stopped by itself");
}

/// A burner whose parent died stops by itself, so that a crashed benchmark
/// never leaves the machine busy.
#[cfg(target_os = "linux")]
#[test]
fn a_burner_stops_when_its_parent_dies() {
    let bench = assert_cmd::cargo::cargo_bin("bench");
    // `sh` starts the burner in the background, naming itself as the
    // parent to watch (as the driver does), prints its pid and exits.
    let out = std::process::Command::new("sh")
        .args(["-c", "\"$0\" burn $$ >/dev/null 2>&1 & echo $!"])
        .arg(&bench)
        .output()
        .expect("run sh");
    let pid: u32 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the burner's pid");
    // Gone, or a zombie waiting for its new parent to reap it.
    let stopped = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
    };
    for _ in 0..1000 {
        if stopped() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // SAFETY: kill(2) on a pid we started; a stale pid at worst gets ESRCH.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    panic!("the orphaned burner {pid} was still running after 10 s");
}
