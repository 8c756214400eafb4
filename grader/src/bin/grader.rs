//! `grader`: the command line behind `just check`, `just hint`,
//! `just progress` and `just grade`. `grader --help` prints its usage,
//! written once, in [`usage`].

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use grader::build::BUILD_TIMEOUT;
use grader::catalog::{self, Exercise, CHECKS, EXERCISES};
use grader::class;
use grader::grade::{grade, totals, CheckResult, Place, Setup};
use grader::report;
use grader::sandbox::{Kind, Sandbox, Toolchain, UID_BASE};
use grader::watch;
use grader::workspace::{self, Pristine, Submission, Worker};

/// The usage text (`grader --help`, and after a mistake). The exercise
/// keys come from the catalog.
fn usage() -> String {
    let keys: Vec<&str> = EXERCISES.iter().map(|e| e.key).collect();
    format!(
        "usage:
  grader check N               grade exercise N ({keys})
  grader hint N                print the hint of exercise N
  grader progress              which exercises pass
  grader watch [N]             re-check exercise N (or the first failing) on every save
      --poll                     poll the files instead of file events (or GRADER_WATCH=poll)
      --plain                    plain lines even on a terminal
  grader grade [OPTIONS]       every check: table, total; exit 0 iff all pass
      --submission DIR           grade DIR's exercise files instead of the workspace's
      --gradescope PATH          write Gradescope's results.json
      --junit PATH               write JUnit XML
  grader class DIR [OPTIONS]   grade every submission folder under DIR (also: grade class DIR)
      --csv PATH                 where the CSV goes (default grades.csv)
      --jobs N                   parallel workers (default: the number of cores)
  grader list                  the catalog: id, points, timeout, title
  grader student-kit DIR       write a copy for students: no solutions, fixtures or grader tests

options of grade and class (submitted code runs sandboxed; the first line says how):
  --sandbox auto|bwrap|setuid  which isolation (default auto: bwrap where it works, else setuid)
  --no-sandbox                 grade even where no isolation is possible (code runs with your rights)
  --build-timeout SECS         time limit of one submission's build (default 120)

options for all:
  --workspace DIR              the workspace (default: found from the current directory)
  --work-dir DIR               where copies are built (default target/grader-work)",
        keys = keys.join(", ")
    )
}

/// Options that take no value.
const FLAGS: [&str; 3] = ["no-sandbox", "poll", "plain"];

/// Options of the instructors' commands (`grade`, `class`).
const INSTRUCTOR: [&str; 3] = ["no-sandbox", "sandbox", "build-timeout"];

/// Parsed command line: positional words and `--flag value` options.
struct Args {
    words: Vec<String>,
    options: Vec<(String, String)>,
}

impl Args {
    fn parse(raw: Vec<String>) -> Result<Args, String> {
        let mut words = Vec::new();
        let mut options = Vec::new();
        let mut it = raw.into_iter();
        while let Some(a) = it.next() {
            if let Some(flag) = a.strip_prefix("--") {
                if flag == "help" {
                    return Err(String::new());
                }
                if FLAGS.contains(&flag) {
                    options.push((flag.to_string(), String::new()));
                    continue;
                }
                let (k, v) = match flag.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (
                        flag.to_string(),
                        it.next().ok_or_else(|| format!("--{flag} needs a value"))?,
                    ),
                };
                options.push((k, v));
            } else {
                words.push(a);
            }
        }
        Ok(Args { words, options })
    }

    fn flag(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn refuse_unknown(&self, known: &[&str]) -> Result<(), String> {
        let common = ["workspace", "work-dir"];
        match self
            .options
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()) && !common.contains(&k.as_str()))
        {
            Some((k, _)) => Err(format!("unknown option --{k}")),
            None => Ok(()),
        }
    }
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    // Exercise 4's general case, run for real (see `schedule.rs`).
    if let [cmd, n] = raw.as_slice() {
        if cmd == grader::schedule::SCHEDULE_COMMAND {
            if let Ok(n) = n.parse() {
                schedule_program(n);
            }
        }
    }
    match Args::parse(raw).and_then(|a| dispatch(&a)) {
        Ok(code) => code,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("grader: {e}\n");
            }
            eprintln!("{}", usage());
            ExitCode::from(2)
        }
    }
}

fn dispatch(args: &Args) -> Result<ExitCode, String> {
    let root = match args.get("workspace") {
        Some(w) => workspace::find_root(Path::new(w))
            .ok_or_else(|| format!("{w} is not (inside) the lessons workspace"))?,
        None => workspace::default_root()
            .ok_or("run me inside the workspace, or pass --workspace DIR")?,
    };
    let work_dir = args
        .get("work-dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace::target_dir(&root).join("grader-work"));
    let words: Vec<&str> = args.words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["check", key] => {
            args.refuse_unknown(&[])?;
            Ok(check(&root, exercise(key)?))
        }
        ["hint", key] => {
            args.refuse_unknown(&[])?;
            hint(&root, exercise(key)?)
        }
        ["progress"] => {
            args.refuse_unknown(&[])?;
            Ok(progress(&root))
        }
        ["watch", rest @ ..] => {
            args.refuse_unknown(&["poll", "plain"])?;
            let start = match rest {
                [] => None,
                [key] => Some(exercise(key)?),
                _ => return Err("watch takes at most one exercise".into()),
            };
            let mode = if args.flag("poll") {
                watch::Mode::Poll
            } else {
                watch::Mode::from_env()?
            };
            let opts = watch::Options {
                start,
                mode,
                plain: args.flag("plain"),
            };
            watch::watch(&root, opts).map_err(|e| format!("watch: {e}"))
        }
        ["grade"] => {
            args.refuse_unknown(
                &[&["submission", "gradescope", "junit"][..], &INSTRUCTOR].concat(),
            )?;
            grade_one(&root, &work_dir, args)
        }
        ["grade", "class", dir] | ["class", dir] => {
            args.refuse_unknown(&[&["csv", "jobs"][..], &INSTRUCTOR].concat())?;
            grade_class(&root, &work_dir, Path::new(dir), args)
        }
        ["student-kit", out] => {
            args.refuse_unknown(&[])?;
            let tc = Toolchain::find(&root)
                .map_err(|e| format!("cannot find the Rust toolchain: {e}"))?;
            let files = grader::kit::write(&root, Path::new(out), &tc.cargo())
                .map_err(|e| format!("cannot write the student kit: {e}"))?;
            println!(
                "student kit in {out}: {} files, no solutions, no grader tests or fixtures; `just check 1` works there",
                files.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        ["list"] => {
            args.refuse_unknown(&[])?;
            list();
            Ok(ExitCode::SUCCESS)
        }
        [] => Err(String::new()),
        _ => Err(format!("cannot understand `{}`", words.join(" "))),
    }
}

fn exercise(key: &str) -> Result<&'static Exercise, String> {
    catalog::exercise(key).ok_or_else(|| {
        format!(
            "no exercise {key:?}; the exercises are {}",
            EXERCISES
                .iter()
                .map(|e| e.key)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn exit_for(results: &[CheckResult]) -> ExitCode {
    if results.iter().all(|r| r.passed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `just check N`.
fn check(root: &Path, ex: &'static Exercise) -> ExitCode {
    println!(
        "exercise {} ({}): {}",
        ex.key,
        Path::new("lessons/exercises")
            .join(ex.file_name())
            .display(),
        ex.title
    );
    eprintln!("building and running {} ...", ex.bin);
    let results = grade(&Place::Own { root, target: None }, &[ex], &BTreeMap::new());
    print!("{}", report::check_lines(&results));
    if results
        .iter()
        .any(|r| r.reason.starts_with("does not compile"))
    {
        println!(
            "the compiler's full message: cargo build -p lessons --bin {}",
            ex.bin
        );
    }
    let (score, max) = totals(&results);
    if score == max {
        println!("score {score}/{max}: exercise {} passes", ex.key);
    } else {
        println!("score {score}/{max}; stuck? `just hint {}`", ex.key);
    }
    exit_for(&results)
}

/// `just hint N`.
fn hint(root: &Path, ex: &Exercise) -> Result<ExitCode, String> {
    let path = root.join("lessons/exercises").join(ex.hint_name());
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// `just progress`.
fn progress(root: &Path) -> ExitCode {
    let all: Vec<&'static Exercise> = EXERCISES.iter().collect();
    eprintln!("building and running every exercise ...");
    let results = grade(&Place::Own { root, target: None }, &all, &BTreeMap::new());
    let mut passed = 0;
    for ex in EXERCISES {
        let mine: Vec<CheckResult> = results
            .iter()
            .filter(|r| r.check.exercise == ex.key)
            .cloned()
            .collect();
        let (score, max) = totals(&mine);
        let ok = score == max;
        passed += usize::from(ok);
        println!(
            "{} exercise {:<3} {:>2}/{:<2} {}{}",
            report::mark(ok),
            ex.key,
            score,
            max,
            ex.title,
            if ok {
                String::new()
            } else {
                format!("   (just check {})", ex.key)
            }
        );
    }
    let (score, max) = totals(&results);
    println!(
        "\n{}, {score}/{max} points",
        report::progress_bar(passed, EXERCISES.len(), 20)
    );
    let first_failing = EXERCISES.iter().find(|ex| {
        results
            .iter()
            .any(|r| r.check.exercise == ex.key && !r.passed)
    });
    match first_failing {
        Some(ex) => println!(
            "next: exercise {} ({}): `just watch {}` or `just check {}`",
            ex.key, ex.title, ex.key, ex.key
        ),
        None => println!("every exercise passes"),
    }
    ExitCode::SUCCESS
}

/// The isolation and limits of an instructor's command, announced on the
/// first line of output. With no isolation on this machine it refuses,
/// unless `--no-sandbox` says the instructor accepts running submitted code
/// with their own rights.
fn setup(root: &Path, args: &Args, uid: Option<u32>) -> Result<Setup, String> {
    let want = match (args.get("no-sandbox"), args.get("sandbox")) {
        (Some(_), _) | (None, Some("none")) => Some(Kind::None),
        (None, Some("setuid")) => Some(Kind::Setuid),
        (None, Some("bwrap" | "auto")) | (None, None) => None,
        (None, Some(other)) => {
            return Err(format!(
                "--sandbox wants auto, bwrap, setuid or none, not {other:?}"
            ))
        }
    };
    let sandbox = Sandbox::detect(want);
    println!("{}", sandbox.describe(uid.filter(|_| sandbox.isolated())));
    if args.get("sandbox") == Some("bwrap") && sandbox.kind != Kind::Bwrap {
        return Err("--sandbox bwrap: bubblewrap does not work here".into());
    }
    if !sandbox.isolated() && want != Some(Kind::None) {
        return Err(format!(
            "refusing to grade: no isolation on this machine ({}), so submitted code would run with your rights; run as root with bubblewrap installed, or pass --no-sandbox to accept that",
            sandbox.note
        ));
    }
    if sandbox.kind == Kind::Setuid {
        // Without a mount namespace the sandbox uid sees the machine's
        // files with its own rights: the solutions must be closed to it.
        let solutions = root.join("lessons/solutions");
        if let Some(f) = fs::read_dir(&solutions)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .filter(|e| Sandbox::can_read(UID_BASE + 1, &e.path()))
        {
            return Err(format!(
                "refusing to grade: with the setuid sandbox, submitted code could read {} (chmod -R go-rwx {}, or make the workspace's folder 0700 and use a --work-dir outside it)",
                f.path().display(),
                solutions.display()
            ));
        }
    }
    let build_timeout = match args.get("build-timeout") {
        None => BUILD_TIMEOUT,
        Some(t) => Duration::from_secs(
            t.parse::<u64>()
                .ok()
                .filter(|&t| t > 0)
                .ok_or_else(|| format!("--build-timeout wants seconds, not {t:?}"))?,
        ),
    };
    let toolchain =
        Toolchain::find(root).map_err(|e| format!("cannot find the Rust toolchain: {e}"))?;
    Ok(Setup {
        sandbox,
        toolchain,
        build_timeout,
    })
}

/// `just grade`: the workspace's exercise files, or `--submission DIR`'s,
/// on a worker copy, in the sandbox.
fn grade_one(root: &Path, work_dir: &Path, args: &Args) -> Result<ExitCode, String> {
    let worker =
        Worker::open(work_dir, 0).map_err(|e| format!("cannot use {}: {e}", work_dir.display()))?;
    let setup = setup(root, args, Some(worker.slot.run_uid()))?;
    let pristine = Pristine::of(
        root,
        &setup.toolchain.cargo(),
        &work_dir.join(format!("pristine-{}", std::process::id())),
    )
    .map_err(|e| format!("cannot read the workspace {}: {e}", root.display()))?;
    let dir = match args.get("submission") {
        None => root.join("lessons/exercises"),
        Some(dir) => PathBuf::from(dir),
    };
    let results = if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
        // Still a results file, so Gradescope shows the reason.
        eprintln!("grader: {} is not a folder", dir.display());
        class::failed_all(&format!("the submission {} is not a folder", dir.display()))
    } else {
        let sub = Submission::read(&dir);
        println!(
            "submission {} ({} of {} exercise files)",
            report::sanitize(&dir.display().to_string(), 200),
            sub.files.len(),
            EXERCISES.len()
        );
        class::grade_submission(&pristine, &setup, &worker, &dir).results
    };
    print!("{}", report::table(&results));
    if let Some(path) = args.get("gradescope") {
        write(path, &report::gradescope(&results))?;
    }
    if let Some(path) = args.get("junit") {
        write(path, &report::junit(&results))?;
    }
    Ok(exit_for(&results))
}

fn grade_class(root: &Path, work_dir: &Path, dir: &Path, args: &Args) -> Result<ExitCode, String> {
    let jobs = match args.get("jobs") {
        Some(j) => j
            .parse::<usize>()
            .ok()
            .filter(|&j| j > 0)
            .ok_or_else(|| format!("--jobs wants a positive number, not {j:?}"))?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let setup = setup(root, args, None)?;
    let pristine = Pristine::of(
        root,
        &setup.toolchain.cargo(),
        &work_dir.join(format!("pristine-{}", std::process::id())),
    )
    .map_err(|e| format!("cannot read the workspace {}: {e}", root.display()))?;
    let csv_path = args.get("csv").unwrap_or("grades.csv");
    let max = catalog::max_points();
    let progress = |g: &class::Graded| {
        let (score, _) = totals(&g.results);
        eprintln!("graded {:<24} {score:>3}/{max}", g.student);
    };
    let graded = class::grade_class(&pristine, &setup, dir, work_dir, jobs, &progress)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    write(csv_path, &class::csv(&graded))?;
    for g in &graded {
        let (score, _) = totals(&g.results);
        println!("{:<24} {score:>3}/{max}", g.student);
        if let Some(e) = &g.error {
            println!("    not graded: {e}");
        }
        for r in g.results.iter().filter(|r| !r.passed) {
            println!("    ✘ {}: {}", r.check.id, r.reason);
        }
    }
    println!(
        "\n{} submissions graded; CSV written to {csv_path}",
        graded.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// Lesson 1's pattern with `n` goroutines `g1`..`gn`, created in that
/// order on one P while main keeps running, then main waits for them; each
/// prints its name once. Never returns (`runtime::main` exits).
#[cfg(not(loom))]
fn schedule_program(n: usize) {
    use std::sync::Arc;
    runtime::main(move || {
        runtime::gomaxprocs(1);
        runtime::println!("main");
        let wg = Arc::new(runtime::WaitGroup::new());
        for i in 1..=n {
            wg.add(1);
            let wg = wg.clone();
            runtime::go(move || {
                runtime::println!("g{i}");
                wg.done();
            });
        }
        wg.wait();
        runtime::println!("main");
    })
}

/// Under loom only the runtime's synchronization core is built.
#[cfg(loom)]
fn schedule_program(_n: usize) {}

/// `grader list`.
fn list() {
    for c in CHECKS {
        println!(
            "{:<18} {:>2} pts {:>4.0} s  {}",
            c.id,
            c.points,
            c.timeout.as_secs_f64(),
            c.title
        );
    }
    println!("total: {} points", catalog::max_points());
}

/// Write `text` to `path` atomically: a temporary file beside it, then a
/// rename, so a reader (Gradescope) never sees half a file.
fn write(path: &str, text: &str) -> Result<(), String> {
    let path = Path::new(path);
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    fs::write(&tmp, text)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot write {}: {e}", path.display())
        })
}
