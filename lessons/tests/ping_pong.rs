//! Lesson 7 (`ping-pong`): both rows, with sensible numbers (no timing
//! thresholds: the machine may be busy).

use std::time::Duration;

use assert_cmd::Command;

/// A row of the table: ns per round trip, voluntary and involuntary switches.
fn row(out: &str, name: &str) -> (i64, i64, i64) {
    let line = out
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no row {name:?} in:\n{out}"));
    let nums: Vec<i64> = line[name.len()..]
        .split_whitespace()
        .filter(|w| *w != "+")
        .map(|w| w.replace(',', "").parse().expect("a number"))
        .collect();
    assert_eq!(nums.len(), 3, "ns, voluntary, involuntary in {line:?}");
    (nums[0], nums[1], nums[2])
}

#[test]
fn prints_both_rows_with_positive_numbers() {
    let out = Command::cargo_bin("ping-pong")
        .expect("lesson binary is built")
        .arg("2000")
        .env_remove("GOMAXPROCS")
        .timeout(Duration::from_secs(120))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let out = String::from_utf8(out).expect("utf-8 output");
    assert!(out.starts_with("ping-pong: 2,000 round trips"), "{out}");
    let (t_ns, t_vol, t_invol) = row(&out, "two OS threads");
    let (g_ns, g_vol, g_invol) = row(&out, "two goroutines, one P");
    assert!(t_ns > 0 && g_ns > 0, "{out}");
    assert!(
        t_vol >= 0 && t_invol >= 0 && g_vol >= 0 && g_invol >= 0,
        "{out}"
    );
    // Every threaded round trip blocks a thread in the kernel: thousands
    // of switches, against a handful for goroutines that never leave user
    // space. (Three orders of magnitude apart: safe on a busy machine.)
    assert!(t_vol + t_invol > 0, "{out}");
    assert!(g_vol + g_invol < t_vol + t_invol, "{out}");
}

#[test]
fn the_round_trip_count_is_an_argument() {
    let out = Command::cargo_bin("ping-pong")
        .expect("lesson binary is built")
        .arg("10")
        .timeout(Duration::from_secs(60))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).starts_with("ping-pong: 10 round trips"));
}
