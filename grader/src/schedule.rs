//! Exercise 4, "predict the schedule": what lesson 1 really does.
//!
//! Lesson 1 has three goroutines whose output tells them apart: main prints
//! whole sentences, `uppercase` prints `A`..`Z`, `lowercase` prints `a`..`z`.
//! Reading the real program's output token by token and naming the goroutine
//! that printed each token gives the order in which they ran (runs of the
//! same name merged). The grader compares the student's prediction with
//! that, so the answer is whatever the runtime does, never a constant.

use std::sync::OnceLock;

use crate::props::collapse;

/// The grader's hidden subcommand that runs exercise 4's general case for
/// real: `grader __schedule N`.
pub const SCHEDULE_COMMAND: &str = "__schedule";

/// How many goroutines exercise 4's general case has: picked when grading
/// starts (3 to 8), the same for every check of one grader process, so no
/// run of a lesson on the student's machine shows the answer.
pub fn grading_n() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as usize);
        3 + (nanos ^ std::process::id() as usize) % 6
    })
}

/// The order in which the runtime really runs lesson 1's pattern with `n`
/// goroutines `g1`..`gn` (main, then each `g`, names collapsed into
/// stretches): the grader runs its own binary (`grader __schedule n`).
pub fn real_order(n: usize) -> Result<Vec<String>, String> {
    let me = std::env::current_exe().map_err(|e| format!("cannot find the grader: {e}"))?;
    let out = std::process::Command::new(&me)
        .args([SCHEDULE_COMMAND, &n.to_string()])
        .env_remove("GOMAXPROCS")
        .output()
        .map_err(|e| format!("cannot run {} {SCHEDULE_COMMAND}: {e}", me.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {SCHEDULE_COMMAND} {n} failed: {}",
            me.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    Ok(collapse(&names))
}

/// Check exercise 4's general case: `stdout` is what the program printed
/// when asked about `n` goroutines; `actual` what the runtime did.
pub fn check_general(stdout: &str, n: usize, actual: &[String]) -> Result<(), String> {
    let predicted: Vec<String> = stdout
        .lines()
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty() && !l.starts_with("why:"))
        .collect();
    if predicted == actual {
        return Ok(());
    }
    Err(format!(
        "asked about {n} goroutines g1..g{n} (`exercise4 {n}`, a number the grader picked now), predicted {}, but the runtime ran {}",
        if predicted.is_empty() {
            "nothing".to_string()
        } else {
            predicted.join(" → ")
        },
        actual.join(" → ")
    ))
}

/// The goroutines of lesson 1, by the names the exercise uses.
pub const NAMES: [&str; 3] = ["main", "lowercase", "uppercase"];

/// Main's sentences in lesson 1.
const MAIN_LINES: [&str; 3] = [
    "Start Goroutines",
    "Waiting To Finish",
    "Terminating Program",
];

/// The order in which lesson 1's goroutines ran, read from its stdout.
/// Fails on output that lesson 1 cannot have printed.
pub fn from_lesson_output(stdout: &str) -> Result<Vec<&'static str>, String> {
    let mut ran = Vec::new();
    for line in stdout.lines() {
        if MAIN_LINES.contains(&line.trim()) {
            ran.push("main");
            continue;
        }
        for token in line.split_whitespace() {
            let mut chars = token.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_uppercase() => ran.push("uppercase"),
                (Some(c), None) if c.is_ascii_lowercase() => ran.push("lowercase"),
                _ => return Err(format!("unexpected output from lesson 1: {token:?}")),
            }
        }
    }
    Ok(collapse(&ran))
}

/// A student's prediction: the names in order, and the one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prediction {
    /// Goroutine names, lower-cased, in the predicted order.
    pub order: Vec<String>,
    /// The text after `why:`, if any.
    pub why: Option<String>,
    /// Lines after the first `why:` line (the explanation must be one line).
    pub extra_lines: usize,
}

/// Parse exercise 4's output: one name per line, then `why: ...`.
pub fn parse_prediction(stdout: &str) -> Prediction {
    let mut order = Vec::new();
    let mut why = None;
    let mut extra_lines = 0;
    for line in stdout.lines() {
        if why.is_some() {
            if !line.trim().is_empty() {
                extra_lines += 1;
            }
        } else if let Some(rest) = line.trim().strip_prefix("why:") {
            why = Some(rest.trim().to_string());
        } else if !line.trim().is_empty() {
            order.push(line.trim().to_lowercase());
        }
    }
    Prediction {
        order,
        why,
        extra_lines,
    }
}

/// Check the order of a prediction against what lesson 1 did.
pub fn check_order(predicted: &[String], actual: &[&str]) -> Result<(), String> {
    if predicted.is_empty() {
        return Err("no prediction: SCHEDULE is empty".into());
    }
    if let Some(bad) = predicted.iter().find(|p| !NAMES.contains(&p.as_str())) {
        return Err(format!(
            "unknown goroutine {bad:?}: use {}",
            NAMES.join(", ")
        ));
    }
    if predicted.iter().zip(actual).all(|(p, a)| p == a) && predicted.len() == actual.len() {
        return Ok(());
    }
    Err(format!(
        "predicted {}, but lesson 1 ran {}",
        predicted.join(" → "),
        actual.join(" → ")
    ))
}

/// Words that show the explanation names the mechanism: the `runnext` slot,
/// or that the goroutine created last runs first.
const MECHANISM: [&str; 5] = ["runnext", "created last", "last created", "lifo", "last in"];

/// Check the explanation: present, one line, not the template's `TODO`,
/// naming the mechanism.
pub fn check_why(p: &Prediction) -> Result<(), String> {
    let Some(why) = &p.why else {
        return Err("no `why: ...` line".into());
    };
    if why.is_empty() || why.eq_ignore_ascii_case("todo") {
        return Err("the explanation is still empty (WHY = \"TODO\")".into());
    }
    if p.extra_lines > 0 {
        return Err(format!(
            "the explanation must be one line; {} more follow",
            p.extra_lines
        ));
    }
    let lower = why.to_lowercase();
    if MECHANISM.iter().any(|m| lower.contains(m)) {
        Ok(())
    } else {
        Err(format!(
            "the explanation does not name the mechanism (which slot of the P, or which goroutine runs first and why): {why:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lesson_output_becomes_a_schedule() {
        let out = "Start Goroutines\nWaiting To Finish\nA B C a b \nTerminating Program\n";
        assert_eq!(
            from_lesson_output(out).unwrap(),
            ["main", "uppercase", "lowercase", "main"]
        );
        // Time slices show up as more stretches.
        let sliced = "Start Goroutines\nWaiting To Finish\nA a B b \nTerminating Program\n";
        assert_eq!(from_lesson_output(sliced).unwrap().len(), 6);
        assert!(from_lesson_output("Start\n").is_err());
    }

    #[test]
    fn predictions_are_compared_name_by_name() {
        let actual = ["main", "uppercase", "lowercase", "main"];
        let p = parse_prediction("main\nUppercase\nlowercase\nmain\nwhy: runnext\n");
        assert_eq!(check_order(&p.order, &actual), Ok(()));
        assert_eq!(check_why(&p), Ok(()));
        let wrong = parse_prediction("main\nlowercase\nuppercase\nmain\nwhy: FIFO\n");
        assert!(check_order(&wrong.order, &actual)
            .unwrap_err()
            .contains("predicted main → lowercase"));
        assert!(check_why(&wrong).unwrap_err().contains("mechanism"));
        let short = parse_prediction("main\nuppercase\nlowercase\n");
        assert!(check_order(&short.order, &actual).is_err());
        assert!(check_why(&short).is_err());
        let unknown = parse_prediction("main\nG2\n");
        assert!(check_order(&unknown.order, &actual)
            .unwrap_err()
            .contains("unknown goroutine \"g2\""));
        let template = parse_prediction("why: TODO\n");
        assert!(check_order(&template.order, &actual).is_err());
        assert!(check_why(&template).unwrap_err().contains("empty"));
        let two = parse_prediction("main\nwhy: runnext\nbecause\n");
        assert!(check_why(&two).unwrap_err().contains("one line"));
    }
}
