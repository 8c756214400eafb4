//! Grading one workspace: build its exercises, run them, verify every check.
//!
//! This is what `just check N`, `just progress` and `just grade` do on the
//! student's own workspace, and what each worker of a class run does on a
//! copy with a submission laid over it.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::build::{build, Built};
use crate::catalog::{Check, Ctx, Exercise};
use crate::run::{run, Limits};

/// The verdict of one check.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The check.
    pub check: &'static Check,
    /// Did it pass?
    pub passed: bool,
    /// Why it failed (empty when it passed).
    pub reason: String,
    /// Seconds spent verifying it (its runs included).
    pub seconds: f64,
}

impl CheckResult {
    /// Points earned.
    pub fn score(&self) -> u32 {
        if self.passed {
            self.check.points
        } else {
            0
        }
    }
}

/// Points earned and points possible.
pub fn totals(results: &[CheckResult]) -> (u32, u32) {
    (
        results.iter().map(CheckResult::score).sum(),
        results.iter().map(|r| r.check.points).sum(),
    )
}

/// Grade `exercises` in the workspace at `root`, building into `target`
/// (cargo's default when `None`). Exercises in `not_submitted` fail all
/// their checks with that reason and are neither built nor run.
pub fn grade(
    root: &Path,
    target: Option<&Path>,
    exercises: &[&'static Exercise],
    not_submitted: &BTreeSet<&str>,
) -> Vec<CheckResult> {
    // Each submitted exercise, and the lesson programs its checks run.
    let mut bins: Vec<&str> = Vec::new();
    for ex in exercises.iter().filter(|e| !not_submitted.contains(e.key)) {
        for bin in std::iter::once(ex.bin).chain(ex.lessons.iter().copied()) {
            if !bins.contains(&bin) {
                bins.push(bin);
            }
        }
    }
    let built = if bins.is_empty() {
        Built::new()
    } else {
        build(root, target, &bins)
    };
    let mut runs = Runs {
        built,
        root: root.to_path_buf(),
        cache: HashMap::new(),
        bin: "",
        attempt: 0,
        limits: Limits::default(),
    };
    let mut results = Vec::new();
    for ex in exercises {
        for check in ex.checks() {
            let start = Instant::now();
            let verdict = if not_submitted.contains(ex.key) {
                Err(format!("{} was not submitted", ex.file_name()))
            } else {
                runs.bin = ex.bin;
                runs.limits.timeout = ex
                    .checks()
                    .map(|c| c.timeout)
                    .max()
                    .unwrap_or(check.timeout);
                let mut verdict = Err(String::new());
                for attempt in 0..check.attempts {
                    runs.attempt = attempt;
                    verdict = (check.verify)(&mut runs);
                    if verdict.is_ok() {
                        break;
                    }
                }
                if check.attempts > 1 {
                    verdict =
                        verdict.map_err(|e| format!("{e} (in each of {} runs)", check.attempts));
                }
                verdict
            };
            results.push(CheckResult {
                check,
                passed: verdict.is_ok(),
                reason: verdict.err().unwrap_or_default(),
                seconds: start.elapsed().as_secs_f64(),
            });
        }
    }
    results
}

/// The runs of the exercise being graded, made once and shared by its
/// checks.
struct Runs {
    built: Built,
    root: PathBuf,
    cache: HashMap<(String, u32), Result<String, String>>,
    bin: &'static str,
    attempt: u32,
    limits: Limits,
}

impl Runs {
    fn get(&mut self, bin: &str, nth: u32) -> Result<String, String> {
        let key = (bin.to_string(), nth);
        if let Some(r) = self.cache.get(&key) {
            return r.clone();
        }
        let result = match self.built.get(bin) {
            None => Err(format!("{bin} was not built")),
            Some(Err(e)) => Err(e.clone()),
            Some(Ok(exe)) => match run(exe, &[], &[], &self.root, self.limits) {
                Err(e) => Err(format!("cannot run {}: {e}", exe.display())),
                Ok(outcome) => outcome.clean().map(|()| outcome.stdout),
            },
        };
        self.cache.insert(key, result.clone());
        result
    }
}

impl Ctx for Runs {
    fn output(&mut self) -> Result<String, String> {
        self.get(self.bin, self.attempt)
    }

    fn lesson_output(&mut self, bin: &str, nth: u32) -> Result<String, String> {
        self.get(bin, nth)
            .map_err(|e| format!("lesson binary {bin}: {e}"))
    }
}
