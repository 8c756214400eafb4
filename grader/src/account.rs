//! How the output was made: the runtime's own account of a run.
//!
//! Output alone proves little: `main` can print the lines two goroutines
//! should have printed, `std::thread` can print made-up `M` ids. So every
//! run of an exercise hands the runtime a pipe (`RUNTIME_EXIT_REPORT`, see
//! `runtime/src/trace/report.rs`), and the runtime writes down, at exit,
//! how many goroutines were created, whether `main` waited in
//! `WaitGroup::wait`, which Ms ran each goroutine, how many ran at once, and
//! how many were still alive (leaked) when the program ended. Each exercise
//! says what its account must show ([`requirement`]); a run that does not
//! show it fails every check of the exercise, with the reason.
//!
//! What this cannot catch (the README says so too): the report travels
//! through a descriptor inside the student's process, so a program that
//! finds that descriptor and writes a convincing report itself, and then
//! exits without the runtime writing its own, is believed.

use std::collections::{BTreeMap, BTreeSet};

use crate::props::parse_counter;

/// The runtime's account of one run, as it wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Account {
    /// Goroutines created, main included.
    pub created: u64,
    /// Times main parked in `WaitGroup::wait`.
    pub main_waits: u64,
    /// Most goroutines other than main running at one instant.
    pub max_running: u64,
    /// Goroutines alive at exit and not running then.
    pub leaked: u64,
    /// The Ms each goroutine ran on, by goroutine id.
    pub ms_of: BTreeMap<u64, BTreeSet<u64>>,
}

/// Read the report; `Err` when it is missing, cut short, or not one report.
pub fn parse(text: &str) -> Result<Account, String> {
    if text.trim().is_empty() {
        return Err("the runtime wrote no account of the run (did main run on the runtime, `runtime::main`, and return normally?)".into());
    }
    if text.matches("\nend\n").count() + usize::from(text.starts_with("end\n")) != 1
        || !text.ends_with("end\n")
        || text.matches("exit ").count() != 1
    {
        return Err("the runtime's account of the run is not the one report the runtime writes (written by the program itself?)".into());
    }
    let mut a = Account::default();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let key = words.next().unwrap_or_default();
        let num = |w: Option<&str>| w.and_then(|w| w.parse::<u64>().ok()).unwrap_or(0);
        match key {
            "created" => a.created = num(words.next()),
            "main_waits" => a.main_waits = num(words.next()),
            "max_running" => a.max_running = num(words.next()),
            "leaked" => a.leaked = num(words.next()),
            "ran" => {
                let g = num(words.next());
                let ms = words
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|m| m.parse().ok())
                    .collect();
                a.ms_of.insert(g, ms);
            }
            _ => {}
        }
    }
    Ok(a)
}

/// What the account of an exercise's run must show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// At least this many goroutines besides main.
    pub goroutines: u64,
    /// Main waited in `WaitGroup::wait`.
    pub waits: bool,
    /// Every `M` id printed in a counter line is an M that ran one of the
    /// goroutines.
    pub parallel: bool,
    /// No goroutine is left when main returns (exercises 5 and 6 check
    /// that themselves, with its own points).
    pub no_leaks: bool,
}

/// The requirement of exercise `key`; `None` when its run is not checked
/// this way (exercise 4 predicts, it runs no goroutines).
pub fn requirement(key: &str) -> Option<Requirement> {
    let r = |goroutines, waits, parallel, no_leaks| {
        Some(Requirement {
            goroutines,
            waits,
            parallel,
            no_leaks,
        })
    };
    match key {
        "1" => r(2, true, false, true),
        "1b" => r(2, true, true, true),
        "2" | "3" => r(3, true, false, true),
        "4" => None,
        // The channel exercises: goroutines (leaks are their own check).
        _ => r(1, false, false, false),
    }
}

/// Check the account of a run of exercise `key` against its requirement;
/// `stdout` is what the run printed (for the `M` ids).
pub fn verify(key: &str, report: &str, stdout: &str) -> Result<(), String> {
    let Some(req) = requirement(key) else {
        return Ok(());
    };
    let a = parse(report)?;
    let started = a.created.saturating_sub(1);
    if started < req.goroutines {
        return Err(format!(
            "the runtime saw {started} goroutine(s) started with runtime::go besides main, not {}: the lines were not printed by goroutines",
            req.goroutines
        ));
    }
    if req.waits && a.main_waits == 0 {
        return Err(
            "main never waited in WaitGroup::wait (the runtime saw no wait): it did not wait for the goroutines"
                .into(),
        );
    }
    if req.no_leaks && a.leaked > 0 {
        return Err(format!(
            "{} goroutine(s) were still alive when main returned (leaked: started but never finished)",
            a.leaked
        ));
    }
    if req.parallel {
        // (Whether they ran at the same time is ex1b.parallel's question,
        // answered from the output; the Ms it reads must be real.)
        let real: BTreeSet<u64> = a
            .ms_of
            .iter()
            .filter(|(g, _)| **g != 1)
            .flat_map(|(_, ms)| ms.iter().copied())
            .collect();
        if let Some(fake) = stdout
            .lines()
            .filter_map(|l| parse_counter(l, true))
            .filter_map(|l| l.m)
            .find(|m| !real.contains(m))
        {
            return Err(format!(
                "a line names M{fake}, but no goroutine ran on M{fake} (the runtime's Ms were {}): print runtime::current_m_id()",
                real.iter()
                    .map(|m| format!("M{m}"))
                    .collect::<Vec<_>>()
                    .join(",")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HONEST: &str =
        "exit 0\ncreated 3\nexited 2\nmain_waits 1\nmax_running 2\nleaked 0\nran 1 0\nran 2 0,1\nran 3 1\nend\n";

    #[test]
    fn an_honest_account_passes() {
        assert_eq!(verify("1", HONEST, ""), Ok(()));
        assert_eq!(verify("1b", HONEST, "[A:1 M0]\n[B:0 M1]\n"), Ok(()));
        assert_eq!(verify("4", "", ""), Ok(()));
    }

    #[test]
    fn what_the_account_catches() {
        assert!(verify("1", "", "").unwrap_err().contains("no account"));
        let no_go = HONEST.replace("created 3", "created 1");
        assert!(verify("1", &no_go, "")
            .unwrap_err()
            .contains("0 goroutine(s)"));
        let no_wait = HONEST.replace("main_waits 1", "main_waits 0");
        assert!(verify(
            "2",
            &HONEST
                .replace("created 3", "created 4")
                .replace("main_waits 1", "main_waits 0"),
            ""
        )
        .unwrap_err()
        .contains("never waited"));
        assert!(verify("1", &no_wait, "").is_err());
        let leak = HONEST.replace("leaked 0", "leaked 7");
        assert!(verify("1", &leak, "")
            .unwrap_err()
            .contains("7 goroutine(s)"));
        assert!(verify("1b", HONEST, "[A:1 M7]\n")
            .unwrap_err()
            .contains("names M7"));
        let twice = format!("{HONEST}{HONEST}");
        assert!(verify("1", &twice, "")
            .unwrap_err()
            .contains("not the one report"));
        let cut = HONEST.replace("end\n", "");
        assert!(verify("1", &cut, "").is_err());
    }
}
