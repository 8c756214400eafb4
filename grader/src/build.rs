//! Building the exercise binaries, one compile error at a time.
//!
//! All exercises are built by one `cargo build --keep-going` call: cargo then
//! builds every binary it can, so a compile error in exercise 2 costs the
//! checks of exercise 2 and nothing else. Cargo's JSON messages say which
//! binary each error belongs to and where each finished binary is.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::run::{run, run_in, Ending, Limits, Outcome};
use crate::sandbox::{Jail, Sandbox};

/// For each requested binary: its path, or the reason it could not be built.
pub type Built = HashMap<String, Result<PathBuf, String>>;

/// How long a build may take unless the instructor says otherwise
/// (`--build-timeout`).
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(120);

fn cargo_args(manifest: &Path, bins: &[&str], offline: bool) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "build".into(),
        "--manifest-path".into(),
        manifest.display().to_string(),
        "-p".into(),
        "lessons".into(),
        "--keep-going".into(),
        "--message-format=json".into(),
    ];
    if offline {
        args.push("--offline".into());
    }
    for b in bins {
        args.push("--bin".into());
        args.push(b.to_string());
    }
    args
}

fn build_limits(timeout: Duration) -> Limits {
    Limits {
        timeout,
        output_cap: 64 << 20,
        memory_cap: u64::MAX,
    }
}

/// Build `bins` of the `lessons` package in the workspace at `root`, into
/// `target_dir` (cargo's default when `None`), with the grader's rights
/// (the student's own `just check`).
pub fn build(root: &Path, target_dir: Option<&Path>, bins: &[&str]) -> Built {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let args = cargo_args(&root.join("Cargo.toml"), bins, false);
    let target = target_dir.map(|t| t.display().to_string());
    let mut env = vec![("CARGO_TERM_COLOR", "never")];
    if let Some(t) = &target {
        env.push(("CARGO_TARGET_DIR", t.as_str()));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = run(
        Path::new(&cargo),
        &args,
        &env,
        root,
        build_limits(Duration::from_secs(900)),
    );
    interpret(outcome, &cargo, bins, |e: &str| PathBuf::from(e))
}

/// A build of a worker's copy in the sandbox.
pub struct Job<'a> {
    /// The isolation.
    pub sandbox: &'a Sandbox,
    /// What the build sees; its environment names the toolchain and the
    /// target directory.
    pub jail: &'a Jail,
    /// `cargo`, as a host path.
    pub cargo: PathBuf,
    /// The copy's `Cargo.toml`, as a host path.
    pub manifest: PathBuf,
    /// The target directory, as a host path.
    pub target: PathBuf,
    /// Time limit of the whole build.
    pub timeout: Duration,
}

/// Build `bins` as `job` says: in the sandbox, offline, within its time
/// limit (past it every binary not yet built fails with `compilation did
/// not finish within N s`).
pub fn build_in(job: &Job<'_>, bins: &[&str]) -> Built {
    let kind = job.sandbox.kind;
    let args = cargo_args(&job.jail.inside(kind, &job.manifest), bins, true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let outcome = run_in(
        job.sandbox,
        job.jail,
        &job.cargo,
        &args,
        build_limits(job.timeout),
    );
    // Cargo names binaries by their path inside the sandbox.
    let inside_target = job.jail.inside(kind, &job.target);
    let to_host = |exe: &str| match Path::new(exe).strip_prefix(&inside_target) {
        Ok(rest) => job.target.join(rest),
        Err(_) => PathBuf::from(exe),
    };
    interpret(outcome, &job.cargo.display().to_string(), bins, to_host)
}

/// Read cargo's JSON messages: each binary's path, or its first error.
fn interpret(
    outcome: std::io::Result<Outcome>,
    cargo: &str,
    bins: &[&str],
    to_host: impl Fn(&str) -> PathBuf,
) -> Built {
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            let why = format!("cannot run {cargo}: {e}");
            return bins
                .iter()
                .map(|b| (b.to_string(), Err(why.clone())))
                .collect();
        }
    };
    let mut built = Built::new();
    let mut errors: HashMap<String, String> = HashMap::new();
    let mut other_error: Option<String> = None;
    for line in outcome.stdout.lines() {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let target = msg["target"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match msg["reason"].as_str() {
            Some("compiler-artifact") => {
                if let Some(exe) = msg["executable"].as_str() {
                    built.insert(target, Ok(to_host(exe)));
                }
            }
            Some("compiler-message") if msg["message"]["level"] == "error" => {
                let one = one_line(&msg["message"]);
                if bins.contains(&target.as_str()) {
                    errors.entry(target).or_insert(one);
                } else {
                    other_error.get_or_insert(one);
                }
            }
            _ => {}
        }
    }
    let fallback = || {
        if outcome.ending == Ending::TimedOut {
            return format!(
                "compilation did not finish within {} s (a loop the compiler evaluates, a `const` that never ends?)",
                outcome.limits.timeout.as_secs()
            );
        }
        if outcome.ending != Ending::Exited(0) && outcome.ending != Ending::Exited(101) {
            return format!("build failed: cargo {}", outcome.failure());
        }
        let why = other_error.clone().unwrap_or_else(|| {
            outcome
                .stderr
                .lines()
                .find(|l| l.starts_with("error"))
                .unwrap_or("cargo build failed")
                .to_string()
        });
        format!("build failed: {why}")
    };
    bins.iter()
        .map(|b| {
            let result = match (built.remove(*b), errors.remove(*b)) {
                (_, Some(err)) => Err(format!("does not compile: {err}")),
                (Some(ok), None) => ok,
                (None, None) => Err(fallback()),
            };
            (b.to_string(), result)
        })
        .collect()
}

/// `error[E0425]: cannot find value `x` in this scope (path.rs:12)`.
fn one_line(message: &Value) -> String {
    let text = message["message"].as_str().unwrap_or("error");
    let code = message["code"]["code"]
        .as_str()
        .map(|c| format!("[{c}]"))
        .unwrap_or_default();
    let at = message["spans"]
        .as_array()
        .and_then(|spans| spans.iter().find(|s| s["is_primary"] == true))
        .map(|s| {
            format!(
                " ({}:{})",
                s["file_name"].as_str().unwrap_or("?"),
                s["line_start"]
            )
        })
        .unwrap_or_default();
    format!("error{code}: {text}{at}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiler_messages_become_one_line() {
        let msg: Value = serde_json::from_str(
            r#"{"message":"cannot find value `x` in this scope","code":{"code":"E0425"},
                "spans":[{"is_primary":false,"file_name":"a.rs","line_start":1},
                         {"is_primary":true,"file_name":"lessons/exercises/exercise2.rs","line_start":31}]}"#,
        )
        .unwrap();
        assert_eq!(
            one_line(&msg),
            "error[E0425]: cannot find value `x` in this scope (lessons/exercises/exercise2.rs:31)"
        );
    }
}
