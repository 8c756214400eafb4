//! The catalog: every exercise and every graded check.
//!
//! A check has an id (`ex1.countdown`), a title, points and a timeout, and a
//! `verify` function that looks at what the exercise printed. The checks of
//! one exercise share one run of its binary (run with the largest timeout
//! among them); a check whose property depends on timing (parallelism) may
//! ask for more attempts, each a fresh run, and passes if any attempt does.
//!
//! **Adding a check**: write a `fn(&mut Ctx) -> Result<(), String>` that
//! returns `Err(one-line reason)` when the property fails (the helpers in
//! `props.rs` quote the first difference), add a [`Check::new`] to
//! [`CHECKS`] with a new id, and make sure the reference solution passes it and some
//! wrong version in `grader/tests/fixtures/` fails it (`cargo test -p
//! grader` checks both).
//!
//! [`EXERCISES`] is the one list of exercises: `lessons/Cargo.toml`'s
//! `[[bin]]`s, the README's table and the usage text follow it
//! (`grader/tests/lists.rs`).

use std::time::Duration;

use crate::props::{
    collapse, first_difference, lines, overlap, parse_counter, terminating_last, CounterLine,
    TERMINATING,
};
use crate::schedule;

/// One exercise: a binary of the `lessons` package.
#[derive(Debug)]
pub struct Exercise {
    /// What students type: `just check 1b`.
    pub key: &'static str,
    /// The binary (and file stem): `exercise1b`.
    pub bin: &'static str,
    /// One line.
    pub title: &'static str,
    /// Lesson programs its checks run too (exercise 4 runs lesson 1's), so
    /// grading builds them with the exercise.
    pub lessons: &'static [&'static str],
}

impl Exercise {
    /// `exercise1b.rs`
    pub fn file_name(&self) -> String {
        format!("{}.rs", self.bin)
    }

    /// `exercise1b.hint.md`, beside the exercise.
    pub fn hint_name(&self) -> String {
        format!("{}.hint.md", self.bin)
    }

    /// The checks of this exercise, in catalog order.
    pub fn checks(&self) -> impl Iterator<Item = &'static Check> + '_ {
        CHECKS.iter().filter(move |c| c.exercise == self.key)
    }
}

/// Every exercise, in teaching order.
pub const EXERCISES: &[Exercise] = &[
    Exercise {
        key: "1",
        bin: "exercise1",
        title: "two goroutines count, main waits for both",
        lessons: &[],
    },
    Exercise {
        key: "1b",
        bin: "exercise1b",
        title: "the same two counters in parallel (GOMAXPROCS=2)",
        lessons: &[],
    },
    Exercise {
        key: "2",
        bin: "exercise2",
        title: "fix the program that forgot to wait",
        lessons: &[],
    },
    Exercise {
        key: "3",
        bin: "exercise3",
        title: "fix the program that forgot done (deadlock)",
        lessons: &[],
    },
    Exercise {
        key: "4",
        bin: "exercise4",
        title: "predict lesson 1's schedule under GOMAXPROCS=1",
        lessons: &[LESSON1],
    },
    Exercise {
        key: "5",
        bin: "exercise5",
        title: "a pipeline: generate, square, sum over channels",
        lessons: &[],
    },
    Exercise {
        key: "6",
        bin: "exercise6",
        title: "fan-in: merge two producers with select!",
        lessons: &[],
    },
];

/// Find an exercise by key (`1b`), binary name (`exercise1b`) or file name.
pub fn exercise(key: &str) -> Option<&'static Exercise> {
    let key = key.trim().trim_end_matches(".rs");
    EXERCISES
        .iter()
        .find(|e| e.key.eq_ignore_ascii_case(key) || e.bin == key)
}

/// The program lesson 1 is built from; exercise 4 runs it.
pub const LESSON1: &str = lessons::LESSONS[0].name;

/// The `[[bin]]` tables of `lessons/Cargo.toml` that build the exercises,
/// one per exercise in catalog order: the manifest must end with exactly
/// this text (`grader/tests/lists.rs` checks it and prints it when they
/// differ), so the catalog is the one list of exercises.
pub fn cargo_bins() -> String {
    EXERCISES
        .iter()
        .map(|e| {
            format!(
                "\n[[bin]]\nname = \"{}\"\npath = \"exercises/{}\"\n",
                e.bin,
                e.file_name()
            )
        })
        .collect()
}

/// What a check's `verify` sees: the exercise's runs, made on demand.
pub trait Ctx {
    /// Stdout of a clean run (status 0) of the exercise; `Err` with the
    /// reason when it did not build or did not run cleanly. Each attempt of
    /// a check gets a fresh run; checks share the first.
    fn output(&mut self) -> Result<String, String>;

    /// Stdout of the `nth` clean run of another binary of the `lessons`
    /// package (exercise 4 runs lesson 1).
    fn lesson_output(&mut self, bin: &str, nth: u32) -> Result<String, String>;

    /// Stdout of a clean run of the exercise with `args` (exercise 4 is
    /// asked about a goroutine count the grader picks).
    fn output_with(&mut self, args: &[&str]) -> Result<String, String>;
}

/// One graded check.
pub struct Check {
    /// Stable id, `ex<key>.<name>`: the column in CSVs, the name in
    /// Gradescope.
    pub id: &'static str,
    /// The exercise's key.
    pub exercise: &'static str,
    /// What passing means, in one line.
    pub title: &'static str,
    /// Points when it passes (zero otherwise).
    pub points: u32,
    /// Time limit of the exercise's run.
    pub timeout: Duration,
    /// Runs to try before failing (more than one only for timing-sensitive
    /// properties).
    pub attempts: u32,
    /// The property: `Err(one-line reason)` when it does not hold.
    pub verify: fn(&mut dyn Ctx) -> Result<(), String>,
}

/// How long an exercise may run unless its check says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl Check {
    /// A check worth `points`, with the default timeout and one attempt.
    pub const fn new(
        id: &'static str,
        exercise: &'static str,
        title: &'static str,
        points: u32,
        verify: fn(&mut dyn Ctx) -> Result<(), String>,
    ) -> Check {
        Check {
            id,
            exercise,
            title,
            points,
            timeout: DEFAULT_TIMEOUT,
            attempts: 1,
            verify,
        }
    }

    /// The same check, tried up to `attempts` fresh runs (for a property
    /// that depends on timing).
    pub const fn attempts(self, attempts: u32) -> Check {
        Check { attempts, ..self }
    }

    /// The same check, with a time limit other than [`DEFAULT_TIMEOUT`].
    pub const fn timeout(self, timeout: Duration) -> Check {
        Check { timeout, ..self }
    }
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("id", &self.id).finish()
    }
}

/// Find a check by id.
pub fn check(id: &str) -> Option<&'static Check> {
    CHECKS.iter().find(|c| c.id == id)
}

/// Sum of all points.
pub fn max_points() -> u32 {
    CHECKS.iter().map(|c| c.points).sum()
}

/// Every check, grouped by exercise.
pub const CHECKS: &[Check] = &[
    // Exercise 1.
    Check::new(
        "ex1.countdown",
        "1",
        "A prints 100 down to 0: in order, each number once",
        2,
        |c| counter(&c.output()?, false, 'A', (0..=100).rev().collect()),
    ),
    Check::new(
        "ex1.countup",
        "1",
        "B prints 0 up to 100: in order, each number once",
        2,
        |c| counter(&c.output()?, false, 'B', (0..=100).collect()),
    ),
    Check::new(
        "ex1.format",
        "1",
        "every line is [A:n], [B:n] or Terminating Program",
        1,
        |c| only_counter_lines(&c.output()?, false),
    ),
    Check::new(
        "ex1.terminating",
        "1",
        "Terminating Program once, last, after both counters finished",
        1,
        |c| counters_then_terminating(&c.output()?, false),
    ),
    // Exercise 1b.
    Check::new(
        "ex1b.countdown",
        "1b",
        "A prints 100 down to 0: in order, each number once",
        1,
        |c| counter(&c.output()?, true, 'A', (0..=100).rev().collect()),
    ),
    Check::new(
        "ex1b.countup",
        "1b",
        "B prints 0 up to 100: in order, each number once",
        1,
        |c| counter(&c.output()?, true, 'B', (0..=100).collect()),
    ),
    Check::new(
        "ex1b.format",
        "1b",
        "every line is [A:n Mk], [B:n Mk] or Terminating Program",
        1,
        |c| only_counter_lines(&c.output()?, true),
    ),
    Check::new(
        "ex1b.terminating",
        "1b",
        "Terminating Program once, last, after both counters finished",
        1,
        |c| counters_then_terminating(&c.output()?, true),
    ),
    Check::new(
        "ex1b.parallel",
        "1b",
        "A and B ran at the same time, on two Ms",
        3,
        |c| parallel(&c.output()?),
    )
    .attempts(3),
    // Exercise 2.
    Check::new(
        "ex2.workers",
        "2",
        "each worker prints its 3 steps, in order, exactly once",
        2,
        |c| workers(&c.output()?),
    ),
    Check::new(
        "ex2.terminating",
        "2",
        "Terminating Program once, last, after every worker finished",
        2,
        |c| {
            let out = c.output()?;
            let is_step = |l: &str| l.starts_with("worker ");
            terminating_last(&lines(&out), "the workers", is_step, 9)
        },
    ),
    // Exercise 3.
    Check::new(
        "ex3.no-deadlock",
        "3",
        "finishes without a deadlock, exit status 0",
        2,
        |c| c.output().map(drop),
    ),
    Check::new(
        "ex3.sums",
        "3",
        "each of the 3 sums printed exactly once, and right",
        1,
        |c| sums(&c.output()?),
    ),
    Check::new(
        "ex3.terminating",
        "3",
        "Terminating Program once, last, after every sum",
        1,
        |c| {
            let out = c.output()?;
            let is_sum = |l: &str| l.starts_with("sum of ");
            terminating_last(&lines(&out), "the goroutines", is_sum, 3)
        },
    ),
    // Exercise 4.
    Check::new(
        "ex4.schedule",
        "4",
        "the predicted order is the order lesson 1 really runs in, and with N goroutines",
        3,
        predicted_schedule,
    ),
    Check::new(
        "ex4.why",
        "4",
        "a one-line explanation naming the mechanism, and the rule it names predicts N goroutines",
        1,
        |c| {
            schedule::check_why(&schedule::parse_prediction(&c.output()?))?;
            general_case(c)
        },
    ),
    // Exercise 5.
    Check::new(
        "ex5.closed",
        "5",
        "ends without a deadlock: each channel closed, so each range ends",
        2,
        |c| c.output().map(drop),
    ),
    Check::new(
        "ex5.values",
        "5",
        "main gets each square of 1..=10 exactly once; sum = 385",
        2,
        |c| pipeline_values(&c.output()?),
    ),
    Check::new(
        "ex5.order",
        "5",
        "the squares arrive in the order they were generated",
        1,
        |c| pipeline_order(&c.output()?),
    ),
    Check::new(
        "ex5.finished",
        "5",
        "no goroutine left blocked when main is done (goroutines left: 0)",
        2,
        |c| goroutines_left(&c.output()?),
    ),
    // Exercise 6.
    Check::new(
        "ex6.complete",
        "6",
        "every value of both producers, once, each producer's in order",
        2,
        |c| fan_in_complete(&c.output()?),
    ),
    Check::new(
        "ex6.interleaved",
        "6",
        "values interleaved as sent, not one producer drained after the other",
        2,
        |c| fan_in_interleaved(&c.output()?),
    )
    .attempts(3),
    Check::new(
        "ex6.terminating",
        "6",
        "Terminating Program once, last, after both channels closed",
        1,
        |c| {
            let out = c.output()?;
            let is_value = |l: &str| fan_in_line(l).is_some();
            let count = FAN_IN.iter().map(|(_, n)| *n as usize).sum();
            terminating_last(&lines(&out), "both producers", is_value, count)
        },
    ),
];

fn counter_lines(out: &str, with_m: bool) -> Vec<CounterLine> {
    out.lines()
        .filter_map(|l| parse_counter(l, with_m))
        .collect()
}

/// Goroutine `name` printed exactly `expected`, in that order.
fn counter(out: &str, with_m: bool, name: char, expected: Vec<i64>) -> Result<(), String> {
    let mine: Vec<i64> = counter_lines(out, with_m)
        .iter()
        .filter(|l| l.name == name)
        .map(|l| l.n)
        .collect();
    let show = |v: &[i64]| -> Vec<String> {
        v.iter()
            .map(|n| {
                if with_m {
                    format!("[{name}:{n} M_]")
                } else {
                    format!("[{name}:{n}]")
                }
            })
            .collect()
    };
    match first_difference(&format!("{name}'s lines"), &show(&expected), &show(&mine)) {
        None => Ok(()),
        Some(diff) => Err(diff),
    }
}

fn only_counter_lines(out: &str, with_m: bool) -> Result<(), String> {
    let shape = if with_m {
        "[A:n Mk], [B:n Mk]"
    } else {
        "[A:n], [B:n]"
    };
    let mut counters = 0;
    for (i, line) in out.lines().enumerate() {
        match parse_counter(line, with_m) {
            Some(l) if l.name == 'A' || l.name == 'B' => counters += 1,
            _ if line == TERMINATING => {}
            _ => {
                return Err(format!(
                    "line {} is not {shape} or {TERMINATING}: {line:?}",
                    i + 1
                ))
            }
        }
    }
    if counters == 0 {
        return Err(format!("no line of the form {shape}"));
    }
    Ok(())
}

fn counters_then_terminating(out: &str, with_m: bool) -> Result<(), String> {
    let is_counter = |l: &str| parse_counter(l, with_m).is_some();
    terminating_last(&lines(out), "both counters", is_counter, 202)
}

fn parallel(out: &str) -> Result<(), String> {
    let lines = counter_lines(out, true);
    let ms: std::collections::BTreeSet<u64> = lines.iter().filter_map(|l| l.m).collect();
    if lines.is_empty() {
        return Err("no line of the form [A:n Mk]: cannot tell which M ran what".into());
    }
    if ms.len() < 2 {
        return Err(format!(
            "every line came from one M ({}): the goroutines took turns on one thread (is GOMAXPROCS 2?)",
            ms.iter()
                .map(|m| format!("M{m}"))
                .collect::<Vec<_>>()
                .join(",")
        ));
    }
    match overlap(&lines) {
        Some(_) => Ok(()),
        None => Err(format!(
            "the goroutines used Ms {} but never at the same time: one finished (or paused) before the other printed (does each number call work()?)",
            ms.iter()
                .map(|m| format!("M{m}"))
                .collect::<Vec<_>>()
                .join(",")
        )),
    }
}

fn workers(out: &str) -> Result<(), String> {
    for id in 1..=3 {
        let prefix = format!("worker {id}: ");
        let steps: Vec<String> = out
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .map(str::to_string)
            .collect();
        let expected: Vec<String> = (1..=3).map(|s| format!("{prefix}step {s}")).collect();
        if let Some(diff) = first_difference(&format!("worker {id}'s lines"), &expected, &steps) {
            return Err(diff);
        }
    }
    if let Some(stray) = out
        .lines()
        .find(|l| !l.starts_with("worker ") && *l != TERMINATING)
    {
        return Err(format!("unexpected line: {stray:?}"));
    }
    Ok(())
}

fn sums(out: &str) -> Result<(), String> {
    for n in [10u64, 100, 1000] {
        let prefix = format!("sum of 1..={n} = ");
        let found: Vec<&str> = out.lines().filter(|l| l.starts_with(&prefix)).collect();
        let want = format!("{prefix}{}", n * (n + 1) / 2);
        match found.as_slice() {
            [] => return Err(format!("missing: -{want}")),
            [one] if *one == want => {}
            [one] => return Err(format!("-{want} +{one}")),
            many => return Err(format!("{want:?} printed {} times", many.len())),
        }
    }
    Ok(())
}

/// Exercise 5's generator sends `1..=PIPELINE_N`.
const PIPELINE_N: u64 = 10;

/// The values of main's `got n` lines, in the order printed.
fn pipeline_got(out: &str) -> Vec<u64> {
    out.lines()
        .filter_map(|l| l.strip_prefix("got "))
        .filter_map(|n| n.trim().parse().ok())
        .collect()
}

fn pipeline_values(out: &str) -> Result<(), String> {
    let mut got = pipeline_got(out);
    if got.is_empty() {
        return Err("no line of the form `got n`".into());
    }
    got.sort_unstable();
    let want: Vec<u64> = (1..=PIPELINE_N).map(|n| n * n).collect();
    let show = |v: &[u64]| -> Vec<String> { v.iter().map(|n| format!("got {n}")).collect() };
    if let Some(diff) = first_difference("the squares main got, sorted", &show(&want), &show(&got))
    {
        return Err(diff);
    }
    let sum: u64 = want.iter().sum();
    let want_line = format!("sum = {sum}");
    match out
        .lines()
        .filter(|l| l.starts_with("sum = "))
        .collect::<Vec<_>>()[..]
    {
        [line] if line == want_line => Ok(()),
        [line] => Err(format!("-{want_line} +{line}")),
        [] => Err(format!("missing: -{want_line}")),
        ref many => Err(format!("`sum = ...` printed {} times", many.len())),
    }
}

fn pipeline_order(out: &str) -> Result<(), String> {
    let got = pipeline_got(out);
    if got.len() < 2 {
        return Err(format!(
            "{} `got n` line(s): too few to have an order",
            got.len()
        ));
    }
    match got.windows(2).find(|w| w[0] >= w[1]) {
        None => Ok(()),
        Some(w) => Err(format!(
            "`got {}` came after `got {}`: the squares left the generator as 1, 4, 9, ... and a channel keeps that order",
            w[1], w[0]
        )),
    }
}

fn goroutines_left(out: &str) -> Result<(), String> {
    let left: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("goroutines left: "))
        .collect();
    match left[..] {
        ["0"] => Ok(()),
        [n] => Err(format!(
            "goroutines left: {n}: a goroutine is still blocked when main is done (waiting in a range over a channel nobody closed?)"
        )),
        [] => Err("`goroutines left: n` is never printed (keep the template's `goroutines_left()` line)".into()),
        _ => Err("`goroutines left: n` is printed more than once".into()),
    }
}

/// Exercise 6's producers: name and how many values each sends.
const FAN_IN: [(&str, u32); 2] = [("fast", 8), ("slow", 4)];

/// `fast 3` → `("fast", 3)`.
fn fan_in_line(line: &str) -> Option<(&'static str, u32)> {
    let (name, n) = line.split_once(' ')?;
    let name = FAN_IN.iter().find(|(p, _)| *p == name)?.0;
    Some((name, n.trim().parse().ok()?))
}

fn fan_in_complete(out: &str) -> Result<(), String> {
    let values: Vec<(&str, u32)> = out.lines().filter_map(fan_in_line).collect();
    for (name, count) in FAN_IN {
        let mine: Vec<String> = values
            .iter()
            .filter(|(p, _)| *p == name)
            .map(|(p, n)| format!("{p} {n}"))
            .collect();
        let want: Vec<String> = (1..=count).map(|n| format!("{name} {n}")).collect();
        if let Some(diff) = first_difference(&format!("{name}'s values"), &want, &mine) {
            return Err(diff);
        }
    }
    if let Some(stray) = out
        .lines()
        .find(|l| fan_in_line(l).is_none() && *l != TERMINATING)
    {
        return Err(format!("unexpected line: {stray:?}"));
    }
    Ok(())
}

fn fan_in_interleaved(out: &str) -> Result<(), String> {
    let order: Vec<&str> = out
        .lines()
        .filter_map(fan_in_line)
        .map(|(p, _)| p)
        .collect();
    let runs = collapse(&order);
    match runs.len() {
        0 => Err("no line of the form `fast n` or `slow n`".into()),
        1 => Err(format!("only {} values arrived", runs[0])),
        2 => Err(format!(
            "every {} value came before every {} value: one producer was drained after the other (wait on both at once with select!)",
            runs[0], runs[1]
        )),
        _ => Ok(()),
    }
}

/// Runs of lesson 1 to try before saying the prediction is wrong: a run
/// that a time slice cut (a loaded machine) shows extra stretches, and the
/// prediction is about the undisturbed schedule.
const LESSON_RUNS: u32 = 3;

fn predicted_schedule(c: &mut dyn Ctx) -> Result<(), String> {
    lesson1_schedule(c)?;
    general_case(c)
}

/// Exercise 4 asked about `N` goroutines, `N` picked when grading starts:
/// an answer no run of lesson 1 shows.
fn general_case(c: &mut dyn Ctx) -> Result<(), String> {
    let n = schedule::grading_n();
    let out = c.output_with(&[&n.to_string()])?;
    let actual = schedule::real_order(n)?;
    schedule::check_general(&out, n, &actual)
}

fn lesson1_schedule(c: &mut dyn Ctx) -> Result<(), String> {
    let prediction = schedule::parse_prediction(&c.output()?);
    let mut first_err = None;
    for nth in 0..LESSON_RUNS {
        let lesson = c.lesson_output(LESSON1, nth)?;
        let actual = schedule::from_lesson_output(&lesson)?;
        match schedule::check_order(&prediction.order, &actual) {
            Ok(()) => return Ok(()),
            Err(e) if prediction.order.is_empty() => return Err(e),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_exercises_known() {
        let mut ids: Vec<_> = CHECKS.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CHECKS.len());
        for c in CHECKS {
            let ex = exercise(c.exercise).expect("check of a known exercise");
            assert!(c.id.starts_with(&format!("ex{}.", ex.key)), "{}", c.id);
            assert!(c.points > 0 && c.attempts > 0);
        }
        for ex in EXERCISES {
            assert!(ex.checks().count() >= 2, "exercise {} is graded", ex.key);
        }
        assert_eq!(exercise("exercise1b.rs").unwrap().key, "1b");
        assert_eq!(exercise("1B").unwrap().key, "1b");
        assert!(exercise("9").is_none());
    }

    fn ex1_output(
        order_a: impl Iterator<Item = i64>,
        order_b: impl Iterator<Item = i64>,
    ) -> String {
        let mut s = String::new();
        for n in order_b {
            s += &format!("[B:{n}]\n");
        }
        for n in order_a {
            s += &format!("[A:{n}]\n");
        }
        s + TERMINATING + "\n"
    }

    #[test]
    fn exercise1_properties() {
        let good = ex1_output((0..=100).rev(), 0..=100);
        assert_eq!(
            counter(&good, false, 'A', (0..=100).rev().collect()),
            Ok(())
        );
        assert_eq!(only_counter_lines(&good, false), Ok(()));
        assert_eq!(counters_then_terminating(&good, false), Ok(()));
        let short = ex1_output((1..=100).rev(), 0..=100);
        assert_eq!(
            counter(&short, false, 'A', (0..=100).rev().collect()).unwrap_err(),
            "A's lines: stops after line 100 ([A:1]): -[A:0]"
        );
        assert!(counters_then_terminating(&short, false)
            .unwrap_err()
            .contains("201 of their 202"));
        assert!(only_counter_lines("100\n", false)
            .unwrap_err()
            .contains("line 1 is not"));
    }

    #[test]
    fn workers_and_sums() {
        let mut out = String::new();
        for step in 1..=3 {
            for id in 1..=3 {
                out += &format!("worker {id}: step {step}\n");
            }
        }
        assert_eq!(workers(&out), Ok(()));
        assert!(workers("worker 1: step 1\n")
            .unwrap_err()
            .contains("stops after line 1"));
        let sums_ok = "sum of 1..=1000 = 500500\nsum of 1..=10 = 55\nsum of 1..=100 = 5050\n";
        assert_eq!(sums(sums_ok), Ok(()));
        assert!(sums("sum of 1..=10 = 56\n").unwrap_err().contains("+sum"));
    }

    #[test]
    fn pipeline_properties() {
        let good: String = (1..=10u64)
            .map(|n| format!("got {}\n", n * n))
            .collect::<String>()
            + "sum = 385\ngoroutines left: 0\nTerminating Program\n";
        assert_eq!(pipeline_values(&good), Ok(()));
        assert_eq!(pipeline_order(&good), Ok(()));
        assert_eq!(goroutines_left(&good), Ok(()));
        let reversed: String = (1..=10u64)
            .rev()
            .map(|n| format!("got {}\n", n * n))
            .collect::<String>()
            + "sum = 385\n";
        assert_eq!(pipeline_values(&reversed), Ok(()));
        assert!(pipeline_order(&reversed)
            .unwrap_err()
            .contains("`got 81` came after `got 100`"));
        let short: String = (1..10u64)
            .map(|n| format!("got {}\n", n * n))
            .collect::<String>()
            + "sum = 285\n";
        assert!(pipeline_values(&short).unwrap_err().contains("-got 100"));
        assert!(goroutines_left("goroutines left: 1\n")
            .unwrap_err()
            .contains("still blocked"));
        assert!(goroutines_left("").unwrap_err().contains("never printed"));
    }

    #[test]
    fn fan_in_properties() {
        let fast = |n: u32| format!("fast {n}\n");
        let slow = |n: u32| format!("slow {n}\n");
        let mixed: String = [
            fast(1),
            fast(2),
            slow(1),
            fast(3),
            fast(4),
            slow(2),
            fast(5),
        ]
        .concat()
            + &[fast(6), slow(3), fast(7), fast(8), slow(4)].concat()
            + "Terminating Program\n";
        assert_eq!(fan_in_complete(&mixed), Ok(()));
        assert_eq!(fan_in_interleaved(&mixed), Ok(()));
        let in_turn: String =
            (1..=8).map(fast).collect::<String>() + &(1..=4).map(slow).collect::<String>();
        assert_eq!(fan_in_complete(&in_turn), Ok(()));
        assert!(fan_in_interleaved(&in_turn)
            .unwrap_err()
            .contains("drained after"));
        assert!(fan_in_complete(&(1..=8).map(fast).collect::<String>())
            .unwrap_err()
            .contains("slow's values: none printed"));
    }
}
