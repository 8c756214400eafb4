//! The bench and soak binaries work end to end at small sizes. No timing is
//! asserted (shared, noisy machines): only that each child measures something
//! sensible and that the soak's own checks pass.

use assert_cmd::Command;

/// Run `bench child IMPL WORKLOAD N` and return the reported value.
fn child(imp: &str, workload: &str, n: usize, procs: usize) -> f64 {
    let out = Command::cargo_bin("bench")
        .expect("bench binary")
        .args(["child", imp, workload, &n.to_string()])
        .env("GOMAXPROCS", procs.to_string())
        .output()
        .expect("run bench child");
    assert!(out.status.success(), "{imp} {workload} failed: {out:?}");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let value = stdout
        .split_whitespace()
        .find_map(|f| f.strip_prefix("value="))
        .unwrap_or_else(|| panic!("no value= in {stdout:?}"));
    value.parse().expect("value is a number")
}

#[test]
fn spawn_reports_time_per_goroutine_on_one_and_two_ps() {
    for procs in [1, 2] {
        let ns = child("ours", "spawn", 5_000, procs);
        assert!(ns > 0.0 && ns.is_finite(), "ns per goroutine: {ns}");
    }
}

#[test]
fn idle_goroutines_cost_at_least_their_stack_page() {
    // Every blocked goroutine has run, so it touched its stack's top page.
    let bytes = child("ours", "idle", 5_000, 1);
    assert!(
        (4096.0..65536.0).contains(&bytes),
        "bytes per idle goroutine: {bytes}"
    );
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
