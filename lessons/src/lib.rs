//! The catalog of lessons: what `just lesson N` can run.
//!
//! Each lesson is a binary in `src/bin/` (a port of one program of the Go
//! "Goroutines" lesson) with a note in `notes/` saying what to watch for and
//! why it happens. The `lesson` binary looks lessons up here by number or
//! name and runs them.

/// One lesson: a program and its note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lesson {
    /// `just lesson N`.
    pub number: u32,
    /// `just lesson NAME`; also the binary's name.
    pub name: &'static str,
    /// One line for `just lessons`.
    pub title: &'static str,
    /// The note shown by `--explain`.
    pub note: &'static str,
}

/// Every lesson, in teaching order.
pub const LESSONS: &[Lesson] = &[
    Lesson {
        number: 1,
        name: "example1",
        title: "create goroutines and wait for them (GOMAXPROCS=1: runnext)",
        note: include_str!("../notes/01-example1.md"),
    },
    Lesson {
        number: 2,
        name: "example2",
        title: "time slicing: two goroutines hash 50,000 numbers on one P",
        note: include_str!("../notes/02-example2.md"),
    },
    Lesson {
        number: 3,
        name: "example3",
        title: "parallelism: two Ps, two Ms, both goroutines at once",
        note: include_str!("../notes/03-example3.md"),
    },
    Lesson {
        number: 4,
        name: "forgot-wait",
        title: "forgot to wait: main returns, the program ends",
        note: include_str!("../notes/04-forgot-wait.md"),
    },
    Lesson {
        number: 5,
        name: "forgot-done",
        title: "forgot done: all goroutines are asleep - deadlock!",
        note: include_str!("../notes/05-forgot-done.md"),
    },
    Lesson {
        number: 6,
        name: "syscall",
        title: "a blocking system call hands the P to a second M",
        note: include_str!("../notes/06-syscall.md"),
    },
    Lesson {
        number: 7,
        name: "ping-pong",
        title: "ping-pong: OS threads against goroutines, timed",
        note: include_str!("../notes/07-ping-pong.md"),
    },
];

/// Find a lesson by number (`"2"`) or name (`"example2"`).
pub fn find(key: &str) -> Option<&'static Lesson> {
    let key = key.trim();
    LESSONS
        .iter()
        .find(|l| l.name == key || key.parse::<u32>().ok() == Some(l.number))
}

/// The list printed by `just lessons` and after an unknown lesson.
pub fn listing() -> String {
    LESSONS
        .iter()
        .map(|l| format!("{:>2}  {:<12} {}\n", l.number, l.name, l.title))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lessons_are_found_by_number_and_name() {
        assert_eq!(find("1").unwrap().name, "example1");
        assert_eq!(find("forgot-done").unwrap().number, 5);
        assert!(find("99").is_none());
        assert!(find("nope").is_none());
    }

    #[test]
    fn numbers_are_consecutive_and_notes_present() {
        for (i, l) in LESSONS.iter().enumerate() {
            assert_eq!(l.number as usize, i + 1);
            assert!(l.note.len() > 200, "lesson {} has a real note", l.number);
        }
    }

    /// One list of lessons: this catalog. The README's lesson table and the
    /// programs in `src/bin/` agree with it.
    #[test]
    fn the_readme_and_src_bin_agree_with_the_catalog() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let readme = std::fs::read_to_string(dir.join("../README.md")).unwrap();
        let rows: Vec<(String, String)> = readme
            .split_once("## The lessons")
            .expect("README has a lessons section")
            .1
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .map(|row| {
                let cells: Vec<&str> = row.split('|').map(str::trim).collect();
                (cells[1].to_string(), cells[2].trim_matches('`').to_string())
            })
            .collect();
        let want: Vec<(String, String)> = LESSONS
            .iter()
            .map(|l| (l.number.to_string(), l.name.to_string()))
            .collect();
        assert_eq!(rows, want, "README's lesson table, in catalog order");

        let mut programs: Vec<String> = std::fs::read_dir(dir.join("src/bin"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".rs").map(str::to_string))
            .filter(|n| n != "lesson")
            .collect();
        programs.sort();
        let mut names: Vec<String> = LESSONS.iter().map(|l| l.name.to_string()).collect();
        names.sort();
        assert_eq!(
            programs, names,
            "src/bin/ holds the launcher and one program per lesson"
        );
    }
}
