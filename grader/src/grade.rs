//! Grading one workspace: build its exercises, run them, verify every check.
//!
//! This is what `just check N`, `just progress` and `just grade` do on the
//! student's own workspace, and what each worker of a class run does on a
//! copy with a submission laid over it: there every build and every run is
//! sandboxed (see `sandbox.rs`), binaries are copied out of the target
//! directory before anything runs, and each run gets a fresh scratch folder.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::build::{build, build_in, Built, Job};
use crate::catalog::{Check, Ctx, Exercise};
use crate::report::{sanitize, REASON_MAX};
use crate::run::{fresh_scratch, run_in, Limits, Outcome};
use crate::sandbox::{Jail, Kind, Rlimits, Sandbox, Toolchain, PATH};
use crate::workspace::Worker;

/// How instructors' grading treats submitted code.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The isolation.
    pub sandbox: Sandbox,
    /// The compiler and the crates, handed read-only to the builds.
    pub toolchain: Toolchain,
    /// Time limit of one submission's build.
    pub build_timeout: Duration,
}

/// Where the exercises are built and run.
pub enum Place<'a> {
    /// The student's own workspace at `root`, in place, with their own
    /// rights (`just check`, `just progress`); `target` is cargo's default
    /// when `None`.
    Own {
        /// The workspace.
        root: &'a Path,
        /// Cargo's target directory.
        target: Option<&'a Path>,
    },
    /// A worker's pristine copy; every build and run in the sandbox.
    Worker {
        /// The worker (its copy must be prepared).
        worker: &'a Worker,
        /// The isolation and limits.
        setup: &'a Setup,
    },
}

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

/// Grade `exercises` at `place`. Exercises in `not_submitted` (key →
/// reason) fail all their checks with that reason and are neither built
/// nor run.
pub fn grade(
    place: &Place<'_>,
    exercises: &[&'static Exercise],
    not_submitted: &BTreeMap<&str, String>,
) -> Vec<CheckResult> {
    // Each submitted exercise, and the lesson programs its checks run.
    let mut bins: Vec<&str> = Vec::new();
    for ex in exercises
        .iter()
        .filter(|e| !not_submitted.contains_key(e.key))
    {
        for bin in std::iter::once(ex.bin).chain(ex.lessons.iter().copied()) {
            if !bins.contains(&bin) {
                bins.push(bin);
            }
        }
    }
    let built = if bins.is_empty() {
        Built::new()
    } else {
        match place {
            Place::Own { root, target } => build(root, *target, &bins),
            Place::Worker { worker, setup } => build_worker(worker, setup, &bins),
        }
    };
    let mut runs = Runs {
        built,
        place,
        cache: HashMap::new(),
        bin: "",
        key: "",
        attempt: 0,
        limits: Limits::default(),
    };
    let mut results = Vec::new();
    for ex in exercises {
        for check in ex.checks() {
            let start = Instant::now();
            let verdict = if let Some(why) = not_submitted.get(ex.key) {
                Err(why.clone())
            } else {
                runs.bin = ex.bin;
                runs.key = ex.key;
                runs.limits.timeout = ex
                    .checks()
                    .map(|c| c.timeout)
                    .max()
                    .unwrap_or(check.timeout);
                let mut verdict = Err(String::new());
                for attempt in 0..check.attempts {
                    runs.attempt = attempt;
                    // The property must hold, and the runtime's account
                    // must show the program really made that output.
                    verdict = (check.verify)(&mut runs).and_then(|()| runs.account());
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
                reason: sanitize(&verdict.err().unwrap_or_default(), REASON_MAX),
                seconds: start.elapsed().as_secs_f64(),
            });
        }
    }
    results
}

/// Build `bins` in the worker's copy, in the sandbox as the worker's build
/// uid, then copy the binaries to the worker's `bin/` (the grader's, so no
/// program can change a binary that runs later).
fn build_worker(worker: &Worker, setup: &Setup, bins: &[&str]) -> Built {
    let fail = |why: String| -> Built {
        bins.iter()
            .map(|b| (b.to_string(), Err(why.clone())))
            .collect()
    };
    let jail = match build_jail(worker, setup) {
        Ok(j) => j,
        Err(e) => return fail(format!("cannot prepare the build: {e}")),
    };
    let job = Job {
        sandbox: &setup.sandbox,
        jail: &jail,
        cargo: setup.toolchain.cargo(),
        manifest: worker.root().join("Cargo.toml"),
        target: worker.target(),
        timeout: setup.build_timeout,
    };
    let built = build_in(&job, bins);
    // Nothing of the build may outlive it.
    setup.sandbox.kill_all(jail.uid);
    match install(worker, built) {
        Ok(b) => b,
        Err(e) => fail(format!("cannot copy the binaries: {e}")),
    }
}

/// What a build sees: the toolchain and the crates read-only, the copy
/// read-only, the target directory writable (it belongs to the build uid).
fn build_jail(worker: &Worker, setup: &Setup) -> io::Result<Jail> {
    let sb = &setup.sandbox;
    let uid = worker.slot.build_uid();
    let target = worker.target();
    fs::create_dir_all(&target)?;
    if sb.isolated() {
        crate::sandbox::chown_tree(&target, uid)?;
    }
    let tc = &setup.toolchain;
    let mut jail = Jail {
        uid,
        mounts: vec![
            (
                Some(tc.sysroot.clone()),
                PathBuf::from("/sandbox/toolchain"),
                false,
            ),
            (None, PathBuf::from("/sandbox/cargo"), true),
            (
                Some(tc.registry.clone()),
                PathBuf::from("/sandbox/cargo/registry"),
                false,
            ),
            (Some(worker.root()), PathBuf::from("/sandbox/ws"), false),
            (Some(target.clone()), PathBuf::from("/sandbox/target"), true),
        ],
        cwd: worker.root(),
        env: Vec::new(),
        rlimits: Rlimits {
            processes: 4096,
            file_size: 1 << 30,
        },
        report: false,
    };
    let (cargo_home, home) = if sb.kind == Kind::Bwrap {
        (PathBuf::from("/sandbox/cargo"), PathBuf::from("/tmp"))
    } else {
        // No private tmpfs: a CARGO_HOME of the build uid's own, whose
        // registry is the grader's (read-only to it).
        let home = worker.cargo_home();
        fs::create_dir_all(&home)?;
        let link = home.join("registry");
        if fs::read_link(&link).ok().as_deref() != Some(tc.registry.as_path()) {
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(&tc.registry, &link)?;
        }
        if sb.isolated() {
            crate::sandbox::chown_tree(&home, uid)?;
        }
        (home.clone(), home)
    };
    let rustc = jail.inside(sb.kind, &tc.sysroot.join("bin/rustc"));
    let target_inside = jail.inside(sb.kind, &target);
    jail.env = vec![
        ("PATH".into(), PATH.into()),
        ("HOME".into(), home.display().to_string()),
        ("TMPDIR".into(), "/tmp".into()),
        ("CARGO_HOME".into(), cargo_home.display().to_string()),
        (
            "CARGO_TARGET_DIR".into(),
            target_inside.display().to_string(),
        ),
        ("CARGO_TERM_COLOR".into(), "never".into()),
        ("RUSTC".into(), rustc.display().to_string()),
    ];
    Ok(jail)
}

/// Copy every built binary to the worker's `bin/` (emptied first), owned
/// by the grader, mode 0755.
fn install(worker: &Worker, built: Built) -> io::Result<Built> {
    use std::os::unix::fs::PermissionsExt;
    let bin = worker.bin();
    match fs::remove_dir_all(&bin) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    fs::create_dir_all(&bin)?;
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755))?;
    let mut out = Built::new();
    for (name, result) in built {
        let result = match result {
            Ok(exe) => {
                let to = bin.join(&name);
                fs::copy(&exe, &to)?;
                fs::set_permissions(&to, fs::Permissions::from_mode(0o755))?;
                Ok(to)
            }
            Err(e) => Err(e),
        };
        out.insert(name, result);
    }
    Ok(out)
}

/// Run `exe` (in the worker's `bin/`) in the sandbox as the worker's run
/// uid, in a fresh scratch folder that is removed afterwards.
fn run_worker(
    worker: &Worker,
    sandbox: &Sandbox,
    exe: &Path,
    args: &[&str],
    limits: Limits,
) -> io::Result<Outcome> {
    let uid = worker.slot.run_uid();
    let scratch = fresh_scratch(&worker.scratch(), if sandbox.isolated() { uid } else { 0 })?;
    let mut jail = Jail {
        uid,
        // Only its own binary: exercise 4 must not find lesson 1's to run.
        mounts: vec![
            (
                Some(exe.to_path_buf()),
                Path::new("/sandbox/bin").join(exe.file_name().unwrap_or_default()),
                false,
            ),
            (Some(scratch.clone()), PathBuf::from("/sandbox/run"), true),
        ],
        cwd: scratch.clone(),
        env: Vec::new(),
        rlimits: Rlimits {
            processes: 512,
            file_size: 16 << 20,
        },
        report: true,
    };
    let home = jail.inside(sandbox.kind, &scratch).display().to_string();
    jail.env = vec![
        ("PATH".into(), PATH.into()),
        ("HOME".into(), home.clone()),
        (
            "TMPDIR".into(),
            if sandbox.kind == Kind::Bwrap {
                "/tmp".into()
            } else {
                home
            },
        ),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    let outcome = run_in(sandbox, &jail, exe, args, limits);
    sandbox.kill_all(uid);
    sandbox.sweep_tmp(uid);
    let _ = fs::remove_dir_all(&scratch);
    outcome
}

/// One run: its stdout (or why it failed), and the verdict on the
/// runtime's account of it.
type Run = (Result<String, String>, Result<(), String>);

/// The runs of the exercise being graded, made once and shared by its
/// checks.
struct Runs<'a> {
    built: Built,
    place: &'a Place<'a>,
    /// Each run's stdout (or why it failed), and the verdict on the
    /// runtime's account of it (see `account.rs`).
    cache: HashMap<(String, u32), Run>,
    bin: &'static str,
    key: &'static str,
    attempt: u32,
    limits: Limits,
}

impl Runs<'_> {
    fn get(&mut self, bin: &str, nth: u32) -> Result<String, String> {
        self.get_with(bin, &[], nth)
    }

    fn get_with(&mut self, bin: &str, args: &[&str], nth: u32) -> Result<String, String> {
        // Runs with arguments are told apart by them (never by `nth` alone).
        let key = if args.is_empty() {
            (bin.to_string(), nth)
        } else {
            (format!("{bin} {}", args.join(" ")), nth)
        };
        if let Some((r, _)) = self.cache.get(&key) {
            return r.clone();
        }
        let mut account = Ok(());
        let result = match self.built.get(bin) {
            None => Err(format!("{bin} was not built")),
            Some(Err(e)) => Err(e.clone()),
            Some(Ok(exe)) => match self.run(exe, args) {
                Err(e) => Err(format!("cannot run {}: {e}", exe.display())),
                Ok(outcome) => outcome.clean().map(|()| {
                    // The exercise's own runs: did the program really do it?
                    if bin == self.bin && args.is_empty() {
                        account =
                            crate::account::verify(self.key, &outcome.report, &outcome.stdout);
                    }
                    outcome.stdout
                }),
            },
        };
        self.cache.insert(key, (result.clone(), account));
        result
    }

    /// The verdict on the runtime's account of the current attempt's run
    /// (`Ok` when the check did not run the exercise).
    fn account(&self) -> Result<(), String> {
        self.cache
            .get(&(self.bin.to_string(), self.attempt))
            .map_or(Ok(()), |(_, account)| account.clone())
    }

    fn run(&self, exe: &Path, args: &[&str]) -> io::Result<Outcome> {
        match self.place {
            Place::Own { root, .. } => {
                let jail = Jail {
                    uid: 0,
                    mounts: Vec::new(),
                    cwd: root.to_path_buf(),
                    env: Vec::new(),
                    rlimits: Rlimits {
                        processes: 0,
                        file_size: 0,
                    },
                    report: true,
                };
                run_in(&Sandbox::none(""), &jail, exe, args, self.limits)
            }
            Place::Worker { worker, setup } => {
                run_worker(worker, &setup.sandbox, exe, args, self.limits)
            }
        }
    }
}

impl Ctx for Runs<'_> {
    fn output(&mut self) -> Result<String, String> {
        self.get(self.bin, self.attempt)
    }

    fn lesson_output(&mut self, bin: &str, nth: u32) -> Result<String, String> {
        self.get(bin, nth)
            .map_err(|e| format!("lesson binary {bin}: {e}"))
    }

    fn output_with(&mut self, args: &[&str]) -> Result<String, String> {
        self.get_with(self.bin, args, 0)
    }
}
