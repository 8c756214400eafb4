//! Deterministic outputs, as snapshots: the GOMAXPROCS=1 lessons, the
//! reference solutions of the GOMAXPROCS=1 exercises, and the deadlock
//! reports frame by frame (goroutine ids and source locations filtered out,
//! as they move when the code is edited; function names kept).
//!
//! The binaries are built once in a worker copy of the workspace with the
//! solutions laid over the exercises, and driven with assert_cmd. On one P
//! the order is fixed by the scheduler's policy (`runnext`, FIFO local
//! queue); only a 10 ms time slice could change it, which a loaded machine
//! can trigger by pausing the thread, so each program runs three times and
//! the snapshot takes the output most runs agree on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use assert_cmd::Command;
use grader::build::{build, Built};
use grader::sandbox::Toolchain;
use grader::workspace::{Pristine, Submission, Worker};
use predicates::prelude::*;

const BINS: &[&str] = &[
    "example1",
    "forgot-wait",
    "forgot-done",
    "exercise1",
    "exercise2",
    "exercise3",
];

/// The built binaries. The worker stays locked for the life of the test
/// process, so no other grader rebuilds them under our feet. Workers 0 and
/// 1 are the ones `grader_cli.rs` uses too: sharing them saves two cold
/// builds of the runtime on a fresh clone.
fn bins() -> &'static (Worker, Built) {
    static BUILT: OnceLock<(Worker, Built)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("grader-tests/work");
        let worker = Worker::open(&work, 0).unwrap();
        let mut sub = Submission::read(&root.join("lessons/solutions"));
        sub.name = "solutions".into();
        worker
            .prepare(&pristine(root, "snapshots-0"), &sub)
            .unwrap();
        let built = build(&worker.root(), Some(&worker.target()), BINS);
        (worker, built)
    })
}

/// The pristine workspace copy (its `Cargo.lock` trimmed in a scratch
/// folder of its own).
fn pristine(root: &Path, name: &str) -> Pristine {
    let tc = Toolchain::find(root).unwrap();
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("grader-tests/{name}"));
    Pristine::of(root, &tc.cargo(), &scratch).unwrap()
}

fn exe(bin: &str) -> PathBuf {
    match &bins().1[bin] {
        Ok(p) => p.clone(),
        Err(e) => panic!("{bin}: {e}"),
    }
}

fn cmd(bin: &str) -> Command {
    let mut c = Command::new(exe(bin));
    c.current_dir(bins().0.root()).env_remove("GOMAXPROCS");
    c
}

/// Run `bin` three times; the (stdout, stderr, status) most runs agree on.
fn settled(bin: &str) -> (String, String, i32) {
    let mut seen: BTreeMap<(String, String, i32), usize> = BTreeMap::new();
    for _ in 0..3 {
        let out = cmd(bin).output().unwrap();
        let key = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code().unwrap_or(-1),
        );
        *seen.entry(key).or_insert(0) += 1;
    }
    seen.into_iter().max_by_key(|(_, n)| *n).unwrap().0
}

/// Replace goroutine ids and `file:line` locations with placeholders.
fn filter_report(stderr: &str) -> String {
    stderr
        .lines()
        .map(|l| {
            if let Some(rest) = l.strip_prefix("goroutine ") {
                let reason = rest.split_once(' ').map_or("", |(_, r)| r);
                format!("goroutine [id] {reason}")
            } else if let Some((by, _)) = l
                .strip_prefix("created by ")
                .and_then(|r| r.rsplit_once(" in goroutine "))
            {
                format!("created by {by} in goroutine [id]")
            } else if l.starts_with('\t') && l.contains(".rs:") {
                "\t[file]:[line]".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lesson 1's output, kept once, beside the lesson's own tests.
const LESSON1_STDOUT: &str = include_str!("../../lessons/tests/expected/example1.stdout");

#[test]
fn lesson1_on_one_p() {
    cmd("example1").assert().success().stderr("");
    let (stdout, _, _) = settled("example1");
    assert_eq!(stdout, LESSON1_STDOUT);
}

#[test]
fn forgot_wait_prints_no_letters() {
    cmd("forgot-wait")
        .assert()
        .success()
        .stdout(predicate::str::is_match("(?m)^[a-zA-Z] ").unwrap().not());
    let (stdout, _, _) = settled("forgot-wait");
    insta::assert_snapshot!("forgot-wait", stdout);
}

#[test]
fn forgot_done_reports_the_deadlock() {
    cmd("forgot-done")
        .assert()
        .code(2)
        .stderr(predicate::str::starts_with(
            "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [semacquire]:\n",
        ));
    let (stdout, stderr, code) = settled("forgot-done");
    assert_eq!(code, 2);
    // Lesson 1's letters, and main never gets past its wait.
    assert_eq!(
        Some(stdout.as_str()),
        LESSON1_STDOUT.strip_suffix("\nTerminating Program\n")
    );
    insta::assert_snapshot!("forgot-done.stderr", filter_report(&stderr));
}

#[test]
fn exercise_solutions_on_one_p() {
    for bin in ["exercise1", "exercise2", "exercise3"] {
        cmd(bin)
            .assert()
            .success()
            .stderr("")
            .stdout(predicate::str::ends_with("\nTerminating Program\n"));
        let (stdout, _, _) = settled(bin);
        insta::assert_snapshot!(bin, stdout);
    }
}

#[test]
fn the_deadlock_of_exercise3_as_shipped() {
    // The template's bug, built from the fixture (the template itself may
    // be solved by now in a student's workspace).
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forgot-done/exercise3.rs");
    let worker = Worker::open(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("grader-tests/work"),
        1,
    )
    .unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let sub = Submission {
        name: "forgot-done".into(),
        files: [("exercise3.rs".to_string(), std::fs::read(fixture).unwrap())].into(),
        ..Submission::default()
    };
    worker
        .prepare(&pristine(root, "snapshots-1"), &sub)
        .unwrap();
    let built = build(&worker.root(), Some(&worker.target()), &["exercise3"]);
    let exe = built["exercise3"].clone().unwrap();
    let out = Command::new(exe)
        .current_dir(worker.root())
        .assert()
        .code(2)
        .get_output()
        .clone();
    insta::assert_snapshot!(
        "exercise3-template.stderr",
        filter_report(&String::from_utf8_lossy(&out.stderr))
    );
}

#[test]
fn the_filter_only_hides_ids_and_places() {
    let raw = "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 12 [semacquire]:\nx::f()\n\tlessons/x.rs:28\ncreated by x::main in goroutine 1\n\tlessons/x.rs:9";
    assert_eq!(
        filter_report(raw),
        "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine [id] [semacquire]:\nx::f()\n\t[file]:[line]\ncreated by x::main in goroutine [id]\n\t[file]:[line]"
    );
}
