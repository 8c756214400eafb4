//! The grader, graded: the real `grader` binary on the reference solutions
//! (every check passes), on the shipped templates (every check fails) and on
//! the known-wrong versions in `fixtures/` (exactly the expected checks
//! fail, each with the expected reason, and nothing else is lost).
//!
//! Builds happen in worker copies under cargo's test scratch directory, which
//! persists between runs, so a second run only recompiles what changed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use grader::catalog::{check, max_points, CHECKS, EXERCISES};
use predicates::prelude::*;

/// Each fixture: the checks it must fail, each with a piece of the reason.
const FIXTURES: &[(&str, &[(&str, &str)])] = &[
    (
        "forgot-wait",
        &[
            ("ex2.workers", "worker 1's lines: none printed"),
            ("ex2.terminating", "0 of their 9 lines"),
        ],
    ),
    (
        "forgot-done",
        &[
            ("ex3.no-deadlock", "deadlock (fatal error: all goroutines are asleep"),
            ("ex3.sums", "deadlock"),
            ("ex3.terminating", "deadlock"),
        ],
    ),
    (
        "wrong-range",
        &[
            ("ex1.countdown", "stops after line 100 ([A:1]): -[A:0]"),
            ("ex1.terminating", "201 of their 202"),
        ],
    ),
    (
        "missing-ids",
        &[
            ("ex1.countdown", "none printed"),
            ("ex1.countup", "none printed"),
            ("ex1.format", "is not [A:n], [B:n] or Terminating Program"),
            ("ex1.terminating", "0 of their 202"),
        ],
    ),
    ("serial", &[("ex1b.parallel", "every line came from one M")]),
    (
        "infinite-loop",
        &[
            ("ex2.workers", "did not finish within"),
            ("ex2.terminating", "did not finish within"),
        ],
    ),
    (
        "panic",
        &[
            ("ex3.no-deadlock", "panicked (panic: index out of bounds"),
            ("ex3.sums", "panicked"),
            ("ex3.terminating", "panicked"),
        ],
    ),
    (
        "compile-error",
        &[
            ("ex2.workers", "does not compile: error[E0425]"),
            ("ex2.terminating", "does not compile"),
        ],
    ),
    (
        "unbounded-spawn",
        &[
            ("ex3.no-deadlock", "killed"),
            ("ex3.sums", "killed"),
            ("ex3.terminating", "killed"),
        ],
    ),
    (
        "flood",
        &[
            ("ex1.countdown", "printed more than"),
            ("ex1.countup", "printed more than"),
            ("ex1.format", "printed more than"),
            ("ex1.terminating", "printed more than"),
        ],
    ),
    (
        "no-close",
        &[
            ("ex5.closed", "deadlock (fatal error: all goroutines are asleep"),
            ("ex5.values", "deadlock"),
            ("ex5.order", "deadlock"),
            ("ex5.finished", "deadlock"),
        ],
    ),
    (
        "leaked-squarer",
        &[("ex5.finished", "goroutines left: 1: a goroutine is still blocked")],
    ),
    ("reversed", &[("ex5.order", "`got 81` came after `got 100`")]),
    ("off-by-one", &[("ex5.values", "stops after line 9 (got 81): -got 100")]),
    (
        "drained-in-turn",
        &[("ex6.interleaved", "every fast value came before every slow value")],
    ),
    (
        "stop-at-first-close",
        &[
            // Which producer lost values depends on which closed first.
            ("ex6.complete", "values: stops after line"),
            ("ex6.terminating", "comes before both producers finished"),
        ],
    ),
    (
        "wrong-prediction",
        &[
            ("ex4.schedule", "predicted main → lowercase → uppercase → main, but lesson 1 ran main → uppercase → lowercase → main"),
            ("ex4.why", "does not name the mechanism"),
        ],
    ),
];

/// Hostile submissions (`hostile/`, and a few made by [`class_dir`]: odd
/// files cannot live in git): each laid over the solutions, with the checks
/// it must fail, each with a piece of the reason. Every other check must
/// still pass: the trick changed nothing else.
const HOSTILE: &[(&str, &[(&str, &str)])] = &[
    (
        "include-solution",
        &[
            ("ex4.schedule", "does not compile: error: couldn't read"),
            ("ex4.why", "does not compile"),
        ],
    ),
    (
        "include-grader",
        &[
            ("ex3.no-deadlock", "does not compile: error: couldn't read"),
            ("ex3.sums", "does not compile"),
            ("ex3.terminating", "does not compile"),
        ],
    ),
    // Tries to overwrite other binaries, leave lessons/build.rs, rewrite
    // itself: no effect on anything.
    ("tamper", &[]),
    (
        "env-leak",
        &[
            ("ex1.countdown", "none printed"),
            ("ex1.countup", "none printed"),
            ("ex1.format", "line 1 is not [A:n]"),
            ("ex1.terminating", "never printed"),
        ],
    ),
    // Leaves processes behind; they die with the run.
    ("setsid-holder", &[]),
    (
        "std-panic",
        &[
            (
                "ex3.no-deadlock",
                "panicked (no sums to print at lessons/exercises/exercise3.rs:",
            ),
            ("ex3.sums", "exit status 101"),
            ("ex3.terminating", "panicked"),
        ],
    ),
    (
        "stderr-flood",
        &[
            ("ex2.workers", "KiB on stderr"),
            ("ex2.terminating", "KiB on stderr"),
        ],
    ),
    (
        "long-line",
        &[
            ("ex1.countdown", "none printed"),
            ("ex1.countup", "none printed"),
            ("ex1.format", "more characters)"),
            ("ex1.terminating", "never printed"),
        ],
    ),
    (
        "ansi",
        &[
            ("ex1.countdown", "none printed"),
            ("ex1.countup", "none printed"),
            ("ex1.format", "\\u{1b}[2J"),
            ("ex1.terminating", "never printed"),
        ],
    ),
    (
        "misnamed",
        &[
            (
                "ex1.countdown",
                "found Exercise1.rs — the grader looks for exercise1.rs",
            ),
            ("ex1.countup", "found Exercise1.rs"),
            ("ex1.format", "found Exercise1.rs"),
            ("ex1.terminating", "found Exercise1.rs"),
        ],
    ),
    (
        "folder-named-rs",
        &[
            ("ex2.workers", "exercise2.rs is a folder, not a file"),
            ("ex2.terminating", "is a folder"),
        ],
    ),
    (
        "symlink",
        &[
            ("ex4.schedule", "exercise4.rs is a symbolic link"),
            ("ex4.why", "symbolic link"),
        ],
    ),
    (
        "println-only",
        &[
            ("ex1.countdown", "the runtime saw 0 goroutine(s) started"),
            ("ex1.countup", "0 goroutine(s)"),
            ("ex1.format", "0 goroutine(s)"),
            ("ex1.terminating", "0 goroutine(s)"),
            ("ex1b.countdown", "the runtime wrote no account of the run"),
            ("ex1b.countup", "no account"),
            ("ex1b.format", "no account"),
            ("ex1b.terminating", "no account"),
            ("ex1b.parallel", "no account"),
            ("ex2.workers", "no account"),
            ("ex2.terminating", "no account"),
            ("ex3.no-deadlock", "no account"),
            ("ex3.sums", "no account"),
            ("ex3.terminating", "no account"),
        ],
    ),
    (
        "std-thread",
        &[
            ("ex1.countdown", "0 goroutine(s)"),
            ("ex1.countup", "0 goroutine(s)"),
            ("ex1.format", "0 goroutine(s)"),
            ("ex1.terminating", "0 goroutine(s)"),
            ("ex1b.countdown", "0 goroutine(s)"),
            ("ex1b.countup", "0 goroutine(s)"),
            ("ex1b.format", "0 goroutine(s)"),
            ("ex1b.terminating", "0 goroutine(s)"),
            ("ex1b.parallel", "0 goroutine(s)|never at the same time"),
        ],
    ),
    (
        "fake-m",
        &[
            ("ex1b.countdown", "but no goroutine ran on M"),
            ("ex1b.countup", "but no goroutine ran on M"),
            ("ex1b.format", "but no goroutine ran on M"),
            ("ex1b.terminating", "but no goroutine ran on M"),
            (
                "ex1b.parallel",
                "but no goroutine ran on M|never at the same time",
            ),
        ],
    ),
    (
        "leak",
        &[
            (
                "ex1.countdown",
                "1000 goroutine(s) were still alive when main returned",
            ),
            ("ex1.countup", "1000 goroutine(s)"),
            ("ex1.format", "1000 goroutine(s)"),
            ("ex1.terminating", "1000 goroutine(s)"),
        ],
    ),
    (
        "run-lesson",
        &[
            ("ex4.schedule", "no prediction"),
            ("ex4.why", "does not name the mechanism"),
        ],
    ),
    (
        "copied-order",
        &[
            (
                "ex4.schedule",
                "a number the grader picked now), predicted main → uppercase",
            ),
            ("ex4.why", "a number the grader picked now"),
        ],
    ),
    ("odd-names", &[]),
];

fn hostile(name: &str) -> PathBuf {
    root().join("grader/tests/hostile").join(name)
}

/// Run the grader as the tests do: sandboxed where this machine can
/// (root), else saying loudly that it cannot and passing `--no-sandbox`.
fn sandbox_args() -> Vec<&'static str> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        Vec::new()
    } else {
        eprintln!("NOTE: not root: no sandbox possible here; grading with --no-sandbox");
        vec!["--no-sandbox"]
    }
}

/// Held by each test that grades in the sandbox, so that "no process of a
/// sandbox uid is left" is not disturbed by another test's grading.
static SANDBOXED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn sandboxed() -> std::sync::MutexGuard<'static, ()> {
    SANDBOXED.lock().unwrap_or_else(|e| e.into_inner())
}

/// No process of a sandbox uid whose slot no grader holds is left (other
/// graders on this machine, holding theirs, are not our business).
fn assert_no_sandbox_process() {
    let left: Vec<String> = grader::sandbox::orphans()
        .into_iter()
        .flat_map(|(uid, pids)| pids.into_iter().map(move |pid| (uid, pid)))
        .map(|(uid, pid)| {
            let cmd = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            format!("uid {uid} pid {pid}: {:?}", String::from_utf8_lossy(&cmd))
        })
        .collect();
    assert!(
        left.is_empty(),
        "processes of sandbox uids survived: {left:?}"
    );
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn scratch() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("grader-tests")
}

/// Worker copies for these tests (kept between runs).
fn work_dir() -> PathBuf {
    scratch().join("work")
}

fn solutions() -> PathBuf {
    root().join("lessons/solutions")
}

fn fixture(name: &str) -> PathBuf {
    root().join("grader/tests/fixtures").join(name)
}

fn copy_rs(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "rs") {
            fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

/// The shipped templates are only templates while nobody solved them.
fn templates_are_pristine() -> bool {
    let out = std::process::Command::new("git")
        .args(["status", "--porcelain", "--", "lessons/exercises"])
        .current_dir(root())
        .output();
    match out {
        Ok(o) if o.status.success() => o.stdout.is_empty(),
        _ => true,
    }
}

/// A class folder: the solutions, the templates, and each fixture laid over
/// the solutions.
fn class_dir() -> PathBuf {
    let dir = scratch().join("class");
    let _ = fs::remove_dir_all(&dir);
    copy_rs(&solutions(), &dir.join("solutions/lessons/exercises"));
    // Flat, as Gradescope hands files over.
    copy_rs(&root().join("lessons/exercises"), &dir.join("templates"));
    for (name, _) in FIXTURES {
        let ex = dir.join(name).join("lessons/exercises");
        copy_rs(&solutions(), &ex);
        copy_rs(&fixture(name), &ex);
    }
    for (name, _) in HOSTILE {
        let ex = dir.join(name).join("lessons/exercises");
        copy_rs(&solutions(), &ex);
        if hostile(name).is_dir() {
            copy_rs(&hostile(name), &ex);
        }
    }
    let ex = |name: &str| dir.join(name).join("lessons/exercises");
    fs::rename(
        ex("misnamed").join("exercise1.rs"),
        ex("misnamed").join("Exercise1.rs"),
    )
    .unwrap();
    fs::remove_file(ex("folder-named-rs").join("exercise2.rs")).unwrap();
    fs::create_dir_all(ex("folder-named-rs").join("exercise2.rs/inner")).unwrap();
    fs::remove_file(ex("symlink").join("exercise4.rs")).unwrap();
    std::os::unix::fs::symlink(
        solutions().join("exercise4.rs"),
        ex("symlink").join("exercise4.rs"),
    )
    .unwrap();
    // Names that are not UTF-8, a FIFO: nothing may crash.
    use std::os::unix::ffi::OsStrExt;
    let odd = ex("odd-names");
    fs::write(
        odd.join(std::ffi::OsStr::from_bytes(b"\xff\xfe.rs")),
        "fn main() {}",
    )
    .unwrap();
    let fifo = std::ffi::CString::new(odd.join("notes.rs").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) };
    dir
}

/// Split one CSV line (RFC 4180 quoting).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[test]
fn a_class_run_fails_exactly_the_expected_checks() {
    let _one_at_a_time = sandboxed();
    let dir = class_dir();
    let csv_path = scratch().join("grades.csv");
    let assert = Command::cargo_bin("grader")
        .unwrap()
        .args(["grade", "class"])
        .arg(&dir)
        .arg("--csv")
        .arg(&csv_path)
        .arg("--work-dir")
        .arg(work_dir())
        .args(["--jobs", "2", "--workspace"])
        .arg(root())
        .args(sandbox_args())
        .assert()
        .success()
        .stdout(predicate::str::starts_with("sandbox: "))
        .stdout(predicate::str::contains(format!(
            "{} submissions graded",
            FIXTURES.len() + HOSTILE.len() + 2
        )));
    assert_no_sandbox_process();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();

    let csv = fs::read_to_string(&csv_path).unwrap();
    let mut lines = csv.lines();
    let header = csv_fields(lines.next().unwrap());
    let ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
    assert_eq!(header[0], "student");
    assert_eq!(&header[1..=ids.len()], ids.as_slice());
    assert_eq!(header[ids.len() + 1..], ["total", "failed"]);
    let rows: BTreeMap<String, Vec<String>> = lines
        .map(|l| {
            let f = csv_fields(l);
            assert_eq!(f.len(), header.len(), "row {l}");
            (f[0].clone(), f)
        })
        .collect();
    let points = |row: &[String], i: usize| row[i + 1].parse::<u32>().unwrap();
    let total = |row: &[String]| row[ids.len() + 1].parse::<u32>().unwrap();
    let max: u32 = CHECKS.iter().map(|c| c.points).sum();

    let sol = &rows["solutions"];
    assert_eq!(total(sol), max, "the solutions pass everything: {stdout}");

    if templates_are_pristine() {
        let t = &rows["templates"];
        assert_eq!(total(t), 0, "every check fails on the templates: {stdout}");
    }

    for (name, must_fail) in FIXTURES.iter().chain(HOSTILE) {
        let row = &rows[*name];
        let failed = &row[ids.len() + 2];
        for (i, c) in CHECKS.iter().enumerate() {
            match must_fail.iter().find(|(id, _)| *id == c.id) {
                Some((id, why)) => {
                    assert_eq!(
                        points(row, i),
                        0,
                        "{name}: {id} must fail; failed: {failed}"
                    );
                    assert!(
                        failed.contains(&format!("{id}: "))
                            && why.split('|').any(|w| failed.contains(w)),
                        "{name}: {id} must fail because {why:?}; failed: {failed}"
                    );
                }
                None => assert_eq!(
                    points(row, i),
                    c.points,
                    "{name}: {} must still pass; failed: {failed}",
                    c.id
                ),
            }
        }
        assert_eq!(
            total(row),
            max - must_fail
                .iter()
                .map(|(id, _)| check(id).unwrap().points)
                .sum::<u32>()
        );
    }
    // What the hostile ones printed reached nobody's terminal raw, and told
    // nothing of the grader's environment.
    assert!(
        !csv.contains('\u{1b}') && !stdout.contains('\u{1b}'),
        "raw escapes"
    );
    let failed_of = |name: &str| rows[name][ids.len() + 2].clone();
    let leak = failed_of("env-leak");
    if unsafe { libc::geteuid() } == 0 {
        assert!(leak.contains("uid=611"), "runs as a sandbox uid: {leak}");
    }
    for secret in ["/root", "CARGO", "RUSTUP", "USER=", "net=open"] {
        assert!(
            !leak.contains(secret),
            "the environment leaked {secret}: {leak}"
        );
    }
    assert!(failed_of("long-line").len() < 2000, "reasons are cut");
}

#[test]
fn grade_writes_gradescope_results_and_junit() {
    let _one_at_a_time = sandboxed();
    let out = scratch().join("reports");
    fs::create_dir_all(&out).unwrap();
    let (json_path, xml_path) = (out.join("results.json"), out.join("junit.xml"));
    Command::cargo_bin("grader")
        .unwrap()
        .args(["grade", "--submission"])
        .arg(solutions())
        .arg("--gradescope")
        .arg(&json_path)
        .arg("--junit")
        .arg(&xml_path)
        .arg("--work-dir")
        .arg(work_dir())
        .arg("--workspace")
        .arg(root())
        .args(sandbox_args())
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "total: {max}/{max} points",
            max = max_points()
        )));
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(json["score"], max_points());
    let tests = json["tests"].as_array().unwrap();
    assert_eq!(tests.len(), CHECKS.len());
    for (t, c) in tests.iter().zip(CHECKS) {
        assert_eq!(t["status"], "passed");
        assert_eq!(t["score"], c.points);
        assert_eq!(t["max_score"], c.points);
        assert!(t["name"].as_str().unwrap().starts_with(c.id));
    }
    let xml = fs::read_to_string(&xml_path).unwrap();
    assert!(xml.contains(&format!("tests=\"{}\" failures=\"0\"", CHECKS.len())));

    // One wrong file, the rest not handed in: exit 1, and the reasons.
    Command::cargo_bin("grader")
        .unwrap()
        .args(["grade", "--submission"])
        .arg(fixture("wrong-range"))
        .arg("--gradescope")
        .arg(&json_path)
        .arg("--junit")
        .arg(&xml_path)
        .arg("--work-dir")
        .arg(work_dir())
        .arg("--workspace")
        .arg(root())
        .args(sandbox_args())
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!(
            "total: 3/{} points",
            max_points()
        )));
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(json["score"], 3);
    let by_id = |id: &str| {
        json["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["number"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("ex1.countdown")["status"], "failed");
    assert!(by_id("ex1.countdown")["output"]
        .as_str()
        .unwrap()
        .contains("-[A:0]"));
    assert_eq!(by_id("ex1.countup")["status"], "passed");
    assert_eq!(
        by_id("ex2.workers")["output"],
        "exercise2.rs was not submitted"
    );
    let xml = fs::read_to_string(&xml_path).unwrap();
    // Every check but ex1's two that pass fails.
    let failures = format!("failures=\"{}\"", CHECKS.len() - 2);
    assert!(xml.contains(&failures), "{xml}");
    assert!(xml.contains("<failure message=\"A&apos;s lines: stops after line 100"));
}

#[test]
fn students_commands_check_hint_and_progress() {
    // A workspace of the student's own, from the student kit (no
    // solutions in it): two exercises solved, three wrong.
    let kit = scratch().join("kit");
    let _ = fs::remove_dir_all(&kit);
    Command::cargo_bin("grader")
        .unwrap()
        .arg("student-kit")
        .arg(&kit)
        .arg("--workspace")
        .arg(root())
        .assert()
        .success()
        .stdout(predicate::str::contains("no solutions"));
    assert!(!kit.join("lessons/solutions").exists());
    assert!(!kit.join("grader/tests").exists());
    assert!(!kit.join("lessons/tests").exists());
    for (file, from) in [
        ("exercise1.rs", fixture("wrong-range")),
        ("exercise1b.rs", solutions()),
        ("exercise2.rs", solutions()),
        ("exercise3.rs", fixture("forgot-done")),
        ("exercise4.rs", fixture("wrong-prediction")),
    ] {
        fs::copy(from.join(file), kit.join("lessons/exercises").join(file)).unwrap();
    }
    let target = scratch().join("kit-target");
    let grader = || {
        let mut cmd = Command::cargo_bin("grader").unwrap();
        cmd.current_dir(kit.join("lessons"))
            .env("CARGO_TARGET_DIR", &target);
        cmd
    };

    grader()
        .args(["check", "2"])
        .assert()
        .success()
        .stdout(predicate::str::contains("✔  2/2  ex2.workers"))
        .stdout(predicate::str::contains("score 4/4: exercise 2 passes"));
    grader()
        .args(["check", "1"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("✘  0/2  ex1.countdown"))
        .stdout(predicate::str::contains(
            "→ A's lines: stops after line 100 ([A:1]): -[A:0]",
        ))
        .stdout(predicate::str::contains("✔  2/2  ex1.countup"))
        .stdout(predicate::str::contains("score 3/6; stuck? `just hint 1`"));
    grader()
        .args(["progress"])
        .assert()
        .success()
        .stdout(predicate::str::is_match(r"✘ exercise 1 +3/6").unwrap())
        .stdout(predicate::str::is_match(r"✔ exercise 1b +7/7").unwrap())
        .stdout(predicate::str::contains(format!(
            "] 2/{} exercises, 14/{} points",
            EXERCISES.len(),
            max_points()
        )))
        .stdout(predicate::str::contains(
            "next: exercise 1 (two goroutines count, main waits for both): `just watch 1`",
        ));
    grader()
        .args(["hint", "1b"])
        .assert()
        .success()
        .stdout(predicate::str::contains("runtime::current_m_id()"));
    grader()
        .args(["check", "7"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(format!(
            "the exercises are {}",
            EXERCISES
                .iter()
                .map(|e| e.key)
                .collect::<Vec<_>>()
                .join(", ")
        )));
}

#[test]
fn the_fixtures_readme_lists_every_fixture() {
    let readme = fs::read_to_string(root().join("grader/tests/fixtures/README.md")).unwrap();
    let folders: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(folder, _)| folder)
        .collect();
    let want: Vec<&str> = FIXTURES.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        folders, want,
        "grader/tests/fixtures/README.md, one row per fixture, in FIXTURES order"
    );
    for name in want {
        assert!(fixture(name).is_dir(), "{name}");
    }
    // And the hostile ones: every folder and every HOSTILE entry has a row.
    let readme = fs::read_to_string(root().join("grader/tests/hostile/README.md")).unwrap();
    let rows: Vec<&str> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(folder, _)| folder)
        .collect();
    for (name, _) in HOSTILE {
        assert!(
            rows.contains(name),
            "grader/tests/hostile/README.md has no row for {name}"
        );
    }
    for e in fs::read_dir(root().join("grader/tests/hostile")).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                rows.contains(&name.as_str()),
                "hostile/{name} has no row in its README"
            );
        }
    }
}

#[test]
fn list_shows_the_catalog() {
    let assert = Command::cargo_bin("grader")
        .unwrap()
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "total: {} points",
            max_points()
        )));
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for c in CHECKS {
        assert!(out.contains(c.id), "{} listed", c.id);
    }
}

#[test]
fn the_gradescope_script_writes_results_json() {
    let _one_at_a_time = sandboxed();
    let out = scratch().join("gradescope");
    let _ = fs::remove_dir_all(&out);
    // The script as Gradescope would run it, in a copy (a sandbox failure
    // must not let a submission change the repository's).
    let script = out.join("run_autograder");
    fs::create_dir_all(&out).unwrap();
    fs::copy(root().join("grader/gradescope/run_autograder"), &script).unwrap();
    let script_before = fs::read(&script).unwrap();
    let results = out.join("results/results.json");
    // Gradescope hands over the uploaded files as they are: flat. Exercise
    // 1 is honest, but also appends to the running script, writes
    // results.json and leaves a detached writer that tries again later.
    let upload = out.join("submission");
    copy_rs(&solutions(), &upload);
    fs::copy(
        fixture("serial").join("exercise1b.rs"),
        upload.join("exercise1b.rs"),
    )
    .unwrap();
    let honest = fs::read_to_string(solutions().join("exercise1.rs")).unwrap();
    let forged = r#"{"score": 25, "tests": []}"#;
    let attack = r#"
fn attack() {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open("SCRIPT") {
        let _ = f.write_all("echo 'FORGED' > 'RESULTS'\n".as_bytes());
    }
    let _ = std::fs::write("RESULTS", "FORGED");
    let _ = std::process::Command::new("setsid")
        .args(["sh", "-c", "sleep 2; echo 'FORGED' > 'RESULTS'"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
"#
    .replace("SCRIPT", &script.display().to_string())
    .replace("RESULTS", &results.display().to_string())
    .replace("FORGED", &forged.replace('"', "\\\""));
    let hostile = honest.replace("fn main() {", "fn main() {\n    attack();") + &attack;
    assert!(hostile.contains("attack();"));
    fs::write(upload.join("exercise1.rs"), hostile).unwrap();
    let grader_args = sandbox_args().join(" ");
    Command::new("bash")
        .arg(&script)
        .env("AUTOGRADER_SUBMISSION", &upload)
        .env("AUTOGRADER_RESULTS", &results)
        .env("GRADER_BIN", assert_cmd::cargo::cargo_bin("grader"))
        .env("GRADER_WORK_DIR", work_dir())
        .env("GRADER_ARGS", grader_args)
        .env("GRADER_WORKSPACE", root())
        .current_dir(root())
        .assert()
        .success()
        .stdout(predicate::str::starts_with("sandbox: "));
    assert_no_sandbox_process();
    let check = |what: &str| {
        let json: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&results).unwrap()).unwrap();
        assert_eq!(
            json["score"],
            max_points() - check("ex1b.parallel").unwrap().points,
            "{what}: {json}"
        );
        let failed: Vec<&str> = json["tests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] == "failed")
            .map(|t| t["number"].as_str().unwrap().to_string().leak() as &str)
            .collect();
        assert_eq!(failed, ["ex1b.parallel"], "{what}");
    };
    check("right after grading");
    // The detached writer would have struck by now.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    check("later");
    assert_eq!(
        fs::read(&script).unwrap(),
        script_before,
        "the script was changed"
    );

    // An upload the grader cannot use still gets a results file.
    let odd = out.join("odd");
    fs::create_dir_all(odd.join("exercise1.rs")).unwrap();
    Command::new("bash")
        .arg(&script)
        .env("AUTOGRADER_SUBMISSION", &odd)
        .env("AUTOGRADER_RESULTS", &results)
        .env("GRADER_BIN", assert_cmd::cargo::cargo_bin("grader"))
        .env("GRADER_WORK_DIR", work_dir())
        .env("GRADER_ARGS", sandbox_args().join(" "))
        .env("GRADER_WORKSPACE", root())
        .assert()
        .success();
    let json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&results).unwrap()).unwrap();
    assert_eq!(json["score"], 0);
    assert!(
        json.to_string().contains("exercise1.rs is a folder"),
        "{json}"
    );
}

#[test]
fn hangs_are_bounded() {
    // One submission that never finishes compiling (exercise 2) and never
    // finishes running (exercise 3): each costs its own time limit, the
    // rest is graded, nothing survives.
    let _one_at_a_time = sandboxed();
    let grade = |dir: &Path, extra: &[&str]| {
        Command::cargo_bin("grader")
            .unwrap()
            .args(["grade", "--submission"])
            .arg(dir)
            .arg("--work-dir")
            .arg(work_dir())
            .arg("--workspace")
            .arg(root())
            .args(sandbox_args())
            .args(extra)
            .assert()
    };
    // Warm: what a class run has built before.
    grade(&solutions(), &[]).success();
    let dir = scratch().join("hangs");
    let _ = fs::remove_dir_all(&dir);
    copy_rs(&solutions(), &dir);
    copy_rs(&hostile("const-loop"), &dir);
    copy_rs(&hostile("run-hang"), &dir);
    let start = std::time::Instant::now();
    let assert = grade(&dir, &["--build-timeout", "20"]).code(1);
    eprintln!(
        "one submission hanging at compile time (20 s limit) and at run time (10 s limit): graded in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let out = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    for c in CHECKS {
        let line = out
            .lines()
            .skip_while(|l| !l.contains(&format!(" {} ", c.id)))
            .take(2)
            .collect::<Vec<_>>()
            .join("\n");
        match c.exercise {
            "2" => assert!(
                line.contains("compilation did not finish within 20 s"),
                "{}: {line}",
                c.id
            ),
            "3" => assert!(
                line.contains("did not finish within 10.0 s"),
                "{}: {line}",
                c.id
            ),
            _ => assert!(line.contains('✔'), "{} must pass: {line}", c.id),
        }
    }
    assert_no_sandbox_process();
}
