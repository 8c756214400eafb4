//! `lesson N [--explain] [--trace] [--trace-out FILE] [ARGS...]`: run a
//! lesson by number or name.
//!
//! `just lesson 2` calls this. It finds the lesson's binary next to itself
//! (cargo builds them all into the same directory), runs it with the remaining
//! arguments, and exits with its status, so a deadlocked lesson still exits 2.
//! `--explain` prints the lesson's note to stderr first; stdout carries only
//! the lesson program's own output. `--list` prints the lessons.
//!
//! `--trace` draws the scheduler (Ms, Ps, run queues) on stderr at each
//! scheduling event (it sets `RUNTIME_TRACE=1` for the program);
//! `--trace-out FILE` writes a timeline that <https://ui.perfetto.dev> opens
//! (`RUNTIME_TRACE_OUT=FILE`). See "See the scheduler" in the README.

use std::process::{Command, ExitCode};

fn usage() -> String {
    format!(
        "usage: just lesson <N|NAME> [--explain] [--trace] [--trace-out FILE] [ARGS...]\n\nlessons:\n{}",
        lessons::listing()
    )
}

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprint!("{}", usage());
        return ExitCode::from(2);
    }
    if args[0] == "--list" || args[0] == "list" {
        print!("{}", lessons::listing());
        return ExitCode::SUCCESS;
    }
    let key = args.remove(0);
    let Some(lesson) = lessons::find(&key) else {
        eprintln!("unknown lesson '{key}'\n");
        eprint!("{}", usage());
        return ExitCode::from(2);
    };
    let opts = match Options::take_from(&mut args) {
        Ok(opts) => opts,
        Err(msg) => {
            eprintln!("{msg}\n");
            eprint!("{}", usage());
            return ExitCode::from(2);
        }
    };
    let explain = opts.explain;
    if explain {
        eprintln!("{}", lesson.note.trim_end());
        eprintln!(
            "\n---- running lesson {} ({}) ----\n",
            lesson.number, lesson.name
        );
    }
    let exe = std::env::current_exe().expect("path of the lesson launcher");
    let bin = exe.with_file_name(lesson.name);
    if !bin.exists() {
        eprintln!(
            "lesson binary {} is missing; build it with `cargo build --release -p lessons --bins` (or `just lesson {}`)",
            bin.display(),
            lesson.number
        );
        return ExitCode::from(2);
    }
    let mut cmd = Command::new(&bin);
    cmd.args(&args);
    if opts.trace {
        cmd.env("RUNTIME_TRACE", "1");
    }
    if let Some(file) = &opts.trace_out {
        cmd.env("RUNTIME_TRACE_OUT", file);
    }
    let status = cmd.status();
    if let (Some(file), Ok(_)) = (&opts.trace_out, &status) {
        eprintln!(
            "timeline written to {file}: open it at https://ui.perfetto.dev (Open trace file)"
        );
    }
    match status {
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(code as u8),
            None => {
                use std::os::unix::process::ExitStatusExt;
                let sig = status.signal().unwrap_or(0);
                eprintln!("lesson {} killed by signal {sig}", lesson.name);
                ExitCode::from(128u8.wrapping_add(sig as u8))
            }
        },
        Err(e) => {
            eprintln!("cannot run {}: {e}", bin.display());
            ExitCode::from(2)
        }
    }
}

/// The launcher's own options; everything else goes to the lesson.
#[derive(Debug, Default, PartialEq, Eq)]
struct Options {
    /// `--explain`: print the note first.
    explain: bool,
    /// `--trace`: pictures of the scheduler on stderr.
    trace: bool,
    /// `--trace-out FILE` or `--trace-out=FILE`: a Perfetto timeline.
    trace_out: Option<String>,
}

impl Options {
    /// Remove the launcher's options from `args`.
    fn take_from(args: &mut Vec<String>) -> Result<Options, String> {
        let mut opts = Options::default();
        let mut rest = Vec::new();
        let mut it = std::mem::take(args).into_iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--explain" => opts.explain = true,
                "--trace" => opts.trace = true,
                "--trace-out" => match it.next() {
                    Some(file) => opts.trace_out = Some(file),
                    None => return Err("--trace-out needs a file name".into()),
                },
                _ => match a.strip_prefix("--trace-out=") {
                    Some(file) => opts.trace_out = Some(file.to_string()),
                    None => rest.push(a),
                },
            }
        }
        *args = rest;
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(args: &[&str]) -> (Result<Options, String>, Vec<String>) {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let opts = Options::take_from(&mut v);
        (opts, v)
    }

    #[test]
    fn launcher_options_are_taken_and_the_rest_passed_on() {
        let (opts, rest) = split(&["1", "--trace", "--trace-out", "t.json", "--explain"]);
        assert_eq!(
            opts.unwrap(),
            Options {
                explain: true,
                trace: true,
                trace_out: Some("t.json".into())
            }
        );
        assert_eq!(rest, ["1"]);
        let (opts, rest) = split(&["--trace-out=x.json", "2"]);
        assert_eq!(opts.unwrap().trace_out.as_deref(), Some("x.json"));
        assert_eq!(rest, ["2"]);
        assert!(split(&["--trace-out"]).0.is_err());
    }
}
