//! Property tests over the runtime: random goroutine programs against a
//! reference model.
//!
//! Each case generates a spawn tree (goroutines starting goroutines, each
//! group counted by a WaitGroup and waited for by its parent), sprinkles in
//! mistakes that deadlock (a forgotten `done`, a goroutine waiting for its
//! own group) and goroutines that block forever without stopping main, then
//! runs it with `goprog` at a random GOMAXPROCS in 1..=4 in a child process
//! (a deadlock ends the process, as in Go). The outcome must match
//! `grader::model`: every work item done exactly once, exit status 0 exactly
//! when main returns, and `all goroutines are asleep - deadlock!`, listing
//! exactly the goroutines the model says are stuck, exactly when the model
//! says the program cannot go on.
//!
//! To add operations (channels): a [`Stmt`] that lowers to the new
//! `Op`s, its rule in the model, its line in `goprog`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use grader::model::{expected, Ending, Expected};
use grader::program::{Op, Program};
use grader::run::{run, Limits, Outcome};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

/// A statement of the generated program, before numbering.
#[derive(Debug, Clone)]
enum Stmt {
    /// A work item.
    Work,
    /// `runtime::gosched()`.
    Yield,
    /// Start a goroutine that blocks forever on a WaitGroup nobody counts
    /// down: it must not stop main from returning.
    Leak,
    /// Start `children` and wait for them with a fresh WaitGroup, added to
    /// once up front or once before each `go`.
    Group {
        children: Vec<Child>,
        add_each: bool,
    },
}

/// One goroutine of a group.
#[derive(Debug, Clone)]
struct Child {
    body: Vec<Stmt>,
    /// Never calls `done`: the group's `wait` never returns.
    forgets_done: bool,
    /// Waits for its own group before `done`: never returns either.
    waits_own_group: bool,
}

fn stmt() -> impl Strategy<Value = Stmt> {
    let leaf = prop_oneof![
        6 => Just(Stmt::Work),
        1 => Just(Stmt::Yield),
        1 => Just(Stmt::Leak),
    ];
    leaf.prop_recursive(3, 40, 4, |inner| {
        let child = (
            prop::collection::vec(inner, 0..4),
            prop::bool::weighted(0.06),
            prop::bool::weighted(0.03),
        )
            .prop_map(|(body, forgets_done, waits_own_group)| Child {
                body,
                forgets_done,
                waits_own_group,
            });
        (prop::collection::vec(child, 1..4), any::<bool>())
            .prop_map(|(children, add_each)| Stmt::Group { children, add_each })
    })
}

fn program() -> impl Strategy<Value = Program> {
    prop::collection::vec(stmt(), 1..5).prop_map(|stmts| {
        let (mut work, mut wgs) = (0, 0);
        Program {
            main: lower(&stmts, &mut work, &mut wgs),
        }
    })
}

/// Number the work items and WaitGroups and spell the statements as `Op`s.
fn lower(stmts: &[Stmt], work: &mut u32, wgs: &mut usize) -> Vec<Op> {
    let mut ops = Vec::new();
    for s in stmts {
        match s {
            Stmt::Work => {
                *work += 1;
                ops.push(Op::Work(*work));
            }
            Stmt::Yield => ops.push(Op::Yield),
            Stmt::Leak => {
                let w = *wgs;
                *wgs += 1;
                ops.push(Op::Add(w, 1));
                ops.push(Op::Go(vec![Op::Wait(w)]));
            }
            Stmt::Group { children, add_each } => {
                let w = *wgs;
                *wgs += 1;
                if !add_each {
                    ops.push(Op::Add(w, children.len() as i32));
                }
                for c in children {
                    let mut body = lower(&c.body, work, wgs);
                    if c.waits_own_group {
                        body.push(Op::Wait(w));
                    }
                    if !c.forgets_done {
                        body.push(Op::Done(w));
                    }
                    if *add_each {
                        ops.push(Op::Add(w, 1));
                    }
                    ops.push(Op::Go(body));
                }
                ops.push(Op::Wait(w));
            }
        }
    }
    ops
}

/// Run `program` on the runtime with `procs` Ps.
fn run_on_runtime(program: &Program, procs: usize) -> Outcome {
    let goprog = assert_cmd::cargo::cargo_bin("goprog");
    let text = program.to_string();
    let procs = procs.to_string();
    let limits = Limits {
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    run(
        &goprog,
        &[&text],
        &[("GOMAXPROCS", &procs)],
        Path::new("."),
        limits,
    )
    .expect("goprog starts")
}

/// Does the runtime's outcome match the model's?
fn matches(model: &Expected, got: &Outcome) -> Result<(), String> {
    let mut work: BTreeMap<u32, usize> = BTreeMap::new();
    for line in got.stdout.lines() {
        let n = line
            .strip_prefix('w')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("stray output line {line:?}"))?;
        *work.entry(n).or_insert(0) += 1;
    }
    if work != model.work {
        return Err(format!("work done {work:?}, model says {:?}", model.work));
    }
    let code = match got.ending {
        grader::run::Ending::Exited(code) => code,
        _ => return Err(format!("the run {}", got.failure())),
    };
    match &model.ending {
        Ending::Exits if code == 0 && got.stderr.is_empty() => Ok(()),
        Ending::Exits => Err(format!(
            "model: exits 0; runtime: status {code}, stderr {:?}",
            got.stderr
        )),
        Ending::Deadlock { asleep } => {
            if code != 2
                || !got
                    .stderr
                    .starts_with("fatal error: all goroutines are asleep - deadlock!\n")
            {
                return Err(format!(
                    "model: deadlock; runtime: status {code}, stderr {:?}",
                    got.stderr
                ));
            }
            let listed = got
                .stderr
                .lines()
                .filter(|l| l.starts_with("goroutine "))
                .count();
            if listed != *asleep {
                return Err(format!(
                    "model: {asleep} goroutines asleep; the report lists {listed}:\n{}",
                    got.stderr
                ));
            }
            Ok(())
        }
        Ending::Panics(msg) => {
            if code == 2 && got.stderr.contains(&format!("panic: {msg}")) {
                Ok(())
            } else {
                Err(format!(
                    "model: panic {msg:?}; runtime: status {code}, stderr {:?}",
                    got.stderr
                ))
            }
        }
    }
}

/// Cases per run: `PROPTEST_CASES`, else 256 (about two seconds here).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(Config { cases: cases(), ..Config::default() })]

    #[test]
    fn runtime_agrees_with_the_model(program in program(), procs in 1usize..=4) {
        let model = expected(&program);
        let got = run_on_runtime(&program, procs);
        if let Err(why) = matches(&model, &got) {
            prop_assert!(false, "GOMAXPROCS={procs} goprog '{program}': {why}");
        }
    }
}

/// The generator makes both kinds of program, in useful numbers: a property
/// that only ever saw programs that exit would not test the detector.
#[test]
fn the_generator_makes_programs_that_exit_and_programs_that_deadlock() {
    let mut runner = TestRunner::deterministic();
    let (mut exits, mut deadlocks, mut leaks) = (0, 0, 0);
    for _ in 0..400 {
        let p = program().new_tree(&mut runner).unwrap().current();
        match expected(&p).ending {
            Ending::Exits => exits += 1,
            Ending::Deadlock { .. } => deadlocks += 1,
            Ending::Panics(m) => panic!("generated a program that panics: {m}"),
        }
        leaks += usize::from(p.to_string().contains("go{ wait("));
    }
    assert!(
        exits > 80 && deadlocks > 80,
        "exits {exits}, deadlocks {deadlocks}"
    );
    assert!(leaks > 40, "leaked goroutines in {leaks} programs");
}

/// The comparison bites: a real run does not match the model of a
/// different program.
#[test]
fn a_mismatch_is_caught() {
    let good: Program = "add(0,2) go{ work(1) done(0) } go{ work(2) done(0) } wait(0) work(3)"
        .parse()
        .unwrap();
    let forgot: Program = "add(0,2) go{ work(1) done(0) } go{ work(2) } wait(0) work(3)"
        .parse()
        .unwrap();
    let leak: Program = "add(0,1) go{ wait(0) } work(1) yield".parse().unwrap();
    for procs in [1, 3] {
        let ran_good = run_on_runtime(&good, procs);
        let ran_forgot = run_on_runtime(&forgot, procs);
        assert_eq!(matches(&expected(&good), &ran_good), Ok(()));
        assert_eq!(matches(&expected(&forgot), &ran_forgot), Ok(()));
        assert!(matches(&expected(&good), &ran_forgot).is_err());
        assert!(matches(&expected(&forgot), &ran_good).is_err());
        // Exits 0 although a goroutine is blocked forever: no false alarm.
        assert_eq!(
            matches(&expected(&leak), &run_on_runtime(&leak, procs)),
            Ok(())
        );
    }
}
