//! `lesson N [--explain] [ARGS...]`: run a lesson by number or name.
//!
//! `just lesson 2` calls this. It finds the lesson's binary next to itself
//! (cargo builds them all into the same directory), runs it with the remaining
//! arguments, and exits with its status, so a deadlocked lesson still exits 2.
//! `--explain` prints the lesson's note to stderr first; stdout carries only
//! the lesson program's own output. `--list` prints the lessons.

use std::process::{Command, ExitCode};

fn usage() -> String {
    format!(
        "usage: just lesson <N|NAME> [--explain] [ARGS...]\n\nlessons:\n{}",
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
    let mut explain = false;
    args.retain(|a| {
        if a == "--explain" {
            explain = true;
            false
        } else {
            true
        }
    });
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
    match Command::new(&bin).args(&args).status() {
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
