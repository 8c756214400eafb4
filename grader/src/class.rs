//! Grading a whole class: every submission folder under a directory.
//!
//! Up to one worker per core grades submissions in parallel. Each worker
//! owns a copy of the workspace and a cargo target directory (see
//! `workspace.rs`), lays the next submission's exercise files over its copy,
//! builds with `--keep-going` and runs the checks under their limits. A
//! submission that does not compile, hangs, deadlocks, panics, floods stdout
//! or spawns without bound loses the checks it breaks, with the reason; the
//! run always finishes, and every student gets a row.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;

use crate::catalog::{Exercise, CHECKS, EXERCISES};
use crate::grade::{grade, totals, CheckResult, Place, Setup};
use crate::report::{csv_field, sanitize, REASON_MAX};
use crate::workspace::{Pristine, Submission, Worker};

/// One student's results.
#[derive(Debug, Clone)]
pub struct Graded {
    /// The submission's folder name.
    pub student: String,
    /// Every check, in catalog order (empty when grading itself failed).
    pub results: Vec<CheckResult>,
    /// Set when the submission could not be graded at all.
    pub error: Option<String>,
}

/// The submission folders under `dir`, sorted by name.
pub fn submissions(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut subs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    subs.sort();
    Ok(subs)
}

/// Grade one submission on a worker: make the worker's copy the pristine
/// workspace with the submission's files over the templates, and grade
/// every exercise in the sandbox. Never fails: a submission that cannot be
/// graded gets every check failed with the reason.
pub fn grade_submission(pristine: &Pristine, setup: &Setup, worker: &Worker, dir: &Path) -> Graded {
    let sub = Submission::read(dir);
    let all: Vec<&'static Exercise> = EXERCISES.iter().collect();
    if let Err(e) = worker.prepare(pristine, &sub) {
        let why = format!("cannot prepare the workspace copy: {e}");
        return Graded {
            student: sub.name,
            results: failed_all(&why),
            error: Some(why),
        };
    }
    let missing: BTreeMap<&str, String> = EXERCISES
        .iter()
        .filter_map(|e| Some((e.key, sub.missing_reason(&e.file_name())?)))
        .collect();
    let place = Place::Worker { worker, setup };
    Graded {
        student: sub.name,
        results: grade(&place, &all, &missing),
        error: None,
    }
}

/// Every check failed with `why`.
pub fn failed_all(why: &str) -> Vec<CheckResult> {
    CHECKS
        .iter()
        .map(|check| CheckResult {
            check,
            passed: false,
            reason: sanitize(why, REASON_MAX),
            seconds: 0.0,
        })
        .collect()
}

/// Grade every submission under `dir` with `jobs` workers in `work_dir`,
/// calling `progress` as each one finishes. Results come back in folder
/// order.
pub fn grade_class(
    pristine: &Pristine,
    setup: &Setup,
    dir: &Path,
    work_dir: &Path,
    jobs: usize,
    progress: &(dyn Fn(&Graded) + Sync),
) -> std::io::Result<Vec<Graded>> {
    let subs = submissions(dir)?;
    let queue: Mutex<VecDeque<(usize, PathBuf)>> =
        Mutex::new(subs.iter().cloned().enumerate().collect());
    let done: Mutex<Vec<(usize, Graded)>> = Mutex::new(Vec::new());
    let jobs = jobs.clamp(1, subs.len().max(1));
    thread::scope(|s| {
        for w in 0..jobs {
            let (queue, done) = (&queue, &done);
            s.spawn(move || {
                let worker = match Worker::open(work_dir, w) {
                    Ok(worker) => worker,
                    Err(e) => {
                        eprintln!("worker {w}: cannot open {}: {e}", work_dir.display());
                        return;
                    }
                };
                loop {
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
                    let Some((i, sub)) = next else { break };
                    let graded = grade_submission(pristine, setup, &worker, &sub);
                    progress(&graded);
                    done.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, graded));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|e| e.into_inner());
    // A worker that could not start leaves its share in the queue: other
    // workers took it, unless none could start at all.
    for (i, sub) in queue.into_inner().unwrap_or_else(|e| e.into_inner()) {
        let student = sub
            .file_name()
            .map(|n| sanitize(&n.to_string_lossy(), 120))
            .unwrap_or_default();
        let why = "no worker could start";
        done.push((
            i,
            Graded {
                student,
                results: failed_all(why),
                error: Some(why.into()),
            },
        ));
    }
    done.sort_by_key(|(i, _)| *i);
    Ok(done.into_iter().map(|(_, g)| g).collect())
}

/// The class CSV: `student`, one column of points per check id, `total`,
/// and `failed` (each failed check with its reason).
pub fn csv(graded: &[Graded]) -> String {
    let mut out = String::from("student");
    for c in CHECKS {
        let _ = write!(out, ",{}", c.id);
    }
    out.push_str(",total,failed\n");
    for g in graded {
        out.push_str(&csv_field(&g.student));
        for c in CHECKS {
            let pts = g
                .results
                .iter()
                .find(|r| r.check.id == c.id)
                .map_or(0, CheckResult::score);
            let _ = write!(out, ",{pts}");
        }
        let (score, _) = totals(&g.results);
        let failed = match &g.error {
            Some(e) => format!("not graded: {e}"),
            None => g
                .results
                .iter()
                .filter(|r| !r.passed)
                .map(|r| format!("{}: {}", r.check.id, r.reason))
                .collect::<Vec<_>>()
                .join("; "),
        };
        let _ = writeln!(out, ",{score},{}", csv_field(&failed));
    }
    out
}
