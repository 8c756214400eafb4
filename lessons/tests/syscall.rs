//! Lesson 6 (`syscall`): properties of its report, not timings.

use std::time::Duration;

use assert_cmd::Command;

/// Run the lesson with a 200 ms system call; its stdout.
fn run() -> String {
    let out = Command::cargo_bin("syscall")
        .expect("lesson binary is built")
        .arg("200")
        .env_remove("GOMAXPROCS")
        .timeout(Duration::from_secs(120))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(out).expect("utf-8 output")
}

/// The number after `label` on its line.
fn number_after(out: &str, label: &str) -> u64 {
    let line = out
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no line starting with {label:?} in:\n{out}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number in {line:?}"))
}

#[test]
fn a_second_m_takes_the_p_and_the_computation_goes_on() {
    let out = run();
    assert!(
        number_after(&out, "threads (Ms) created:") >= 2,
        "a second M must have been started:\n{out}"
    );
    assert!(
        number_after(&out, "G2 steps while G1 was in the call:") > 0,
        "G2 must have computed while G1 was blocked:\n{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("compute goroutine finished:") && l.ends_with("yes")),
        "{out}"
    );
    // The picture names the blocked M and a different one running G2.
    let during = out
        .lines()
        .find(|l| l.starts_with("During the call:"))
        .expect("a 'During the call' line");
    let ms: Vec<&str> = during
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1 && w.starts_with('M') && w[1..].chars().all(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(ms.len(), 2, "two Ms named in {during:?}");
    assert_ne!(
        ms[0], ms[1],
        "G2 runs on another M than the blocked one: {during:?}"
    );
}

#[test]
fn the_timeline_shows_g2_moving_to_another_m() {
    let out = run();
    let g2_ms: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("G2: computing on "))
        .map(|l| l.rsplit(' ').next().unwrap())
        .collect();
    assert!(g2_ms.len() >= 2, "G2 changed M at least once:\n{out}");
    assert_ne!(g2_ms[0], g2_ms[1]);
    assert!(out.contains("G1: back from the system call"), "{out}");
}
