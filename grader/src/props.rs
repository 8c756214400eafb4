//! Properties of an exercise's output that hold whatever the schedule.
//!
//! With more than one P, or with time slices, the order in which goroutines
//! print is not fixed, so the checks never compare whole outputs. They pick
//! out each goroutine's own lines and compare *those* (a counter's order
//! does not depend on the schedule), count lines (every number exactly
//! once), and look at the relative position of a few lines (`Terminating
//! Program` after everything else). When something differs, the reason
//! quotes the first difference as a tiny diff: `-expected +actual`.

/// The last line every exercise prints.
pub const TERMINATING: &str = "Terminating Program";

/// One line of a counter exercise: `[A:100]` or, with an M, `[A:100 M3]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CounterLine {
    /// The goroutine's name (`A` or `B`).
    pub name: char,
    /// The number it printed.
    pub n: i64,
    /// The M it said it ran on, if the line has one.
    pub m: Option<u64>,
}

/// Parse `[A:100]` (`with_m` false) or `[A:100 M3]` (`with_m` true).
pub fn parse_counter(line: &str, with_m: bool) -> Option<CounterLine> {
    let inner = line.strip_prefix('[')?.strip_suffix(']')?;
    let (name, rest) = inner.split_once(':')?;
    let mut name_chars = name.chars();
    let name = name_chars.next()?;
    if name_chars.next().is_some() || !name.is_ascii_uppercase() {
        return None;
    }
    let (n, m) = if with_m {
        let (n, m) = rest.split_once(" M")?;
        (n, Some(parse_digits(m)?))
    } else {
        (rest, None)
    };
    let n = if let Some(neg) = n.strip_prefix('-') {
        -(parse_digits(neg)? as i64)
    } else {
        parse_digits(n)? as i64
    };
    Some(CounterLine { name, n, m })
}

fn parse_digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The lines of `stdout`, without the line ends.
pub fn lines(stdout: &str) -> Vec<&str> {
    stdout.lines().collect()
}

/// Compare two sequences and describe the first difference in one line,
/// or `None` when they are equal. `what` names the sequence
/// (`"A's numbers"`).
pub fn first_difference<T: PartialEq + std::fmt::Display>(
    what: &str,
    expected: &[T],
    actual: &[T],
) -> Option<String> {
    if expected == actual {
        return None;
    }
    if actual.is_empty() {
        return Some(format!(
            "{what}: none printed (expected {} lines, the first: {})",
            expected.len(),
            expected.first().map(|e| e.to_string()).unwrap_or_default()
        ));
    }
    let at = expected
        .iter()
        .zip(actual)
        .position(|(e, a)| e != a)
        .unwrap_or(expected.len().min(actual.len()));
    Some(match (expected.get(at), actual.get(at)) {
        (Some(e), Some(a)) => format!("{what}, line {}: -{e} +{a}", at + 1),
        (Some(e), None) => format!(
            "{what}: stops after line {at} ({}): -{e}{}",
            actual[at - 1],
            more(expected.len() - at - 1)
        ),
        (None, Some(a)) => format!(
            "{what}, line {}: +{a}{} (expected only {} lines)",
            at + 1,
            more(actual.len() - at - 1),
            expected.len()
        ),
        (None, None) => unreachable!("equal lengths and no difference"),
    })
}

fn more(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" and {n} more")
    }
}

/// `Terminating Program` must appear exactly once, as the last line, and
/// after every line that `needed_before` accepts has been printed
/// (`needed_count` of them). Returns the reason when it does not.
pub fn terminating_last(
    lines: &[&str],
    needed: &str,
    needed_before: impl Fn(&str) -> bool,
    needed_count: usize,
) -> Result<(), String> {
    let positions: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i] == TERMINATING)
        .collect();
    match positions.as_slice() {
        [] => return Err(format!("`{TERMINATING}` is never printed")),
        [_] => {}
        more => {
            return Err(format!(
                "`{TERMINATING}` is printed {} times (lines {})",
                more.len(),
                more.iter()
                    .map(|i| (i + 1).to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
    let at = positions[0];
    if at + 1 != lines.len() {
        return Err(format!(
            "`{TERMINATING}` is line {} of {}; after it: {}",
            at + 1,
            lines.len(),
            lines[at + 1]
        ));
    }
    let before = lines[..at].iter().filter(|l| needed_before(l)).count();
    if before < needed_count {
        return Err(format!(
            "`{TERMINATING}` comes before {needed} finished: {before} of their {needed_count} lines were printed before it"
        ));
    }
    Ok(())
}

/// Evidence that two goroutines ran at the same time on two Ms: a line of
/// one goroutine from an M printed between two lines the other goroutine
/// printed from one and the same *other* M. Returns a description of the
/// first such moment.
///
/// On one P this cannot happen: the P's one M runs both goroutines.
pub fn overlap(lines: &[CounterLine]) -> Option<String> {
    for (i, first) in lines.iter().enumerate() {
        let Some(m1) = first.m else { continue };
        // The next line of the same goroutine.
        let Some(k) = (i + 1..lines.len()).find(|&k| lines[k].name == first.name) else {
            continue;
        };
        if lines[k].m != Some(m1) {
            continue;
        }
        if let Some(between) = lines[i + 1..k]
            .iter()
            .find(|l| l.name != first.name && l.m.is_some_and(|m| m != m1))
        {
            return Some(format!(
                "[{}:{} M{m1}] then [{}:{} M{}] then [{}:{} M{m1}]",
                first.name,
                first.n,
                between.name,
                between.n,
                between.m.unwrap_or_default(),
                lines[k].name,
                lines[k].n
            ));
        }
    }
    None
}

/// Collapse runs of equal items: `a a b a` becomes `a b a`.
pub fn collapse<T: PartialEq + Clone>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for it in items {
        if out.last() != Some(it) {
            out.push(it.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_parse_strictly() {
        assert_eq!(
            parse_counter("[A:100]", false),
            Some(CounterLine {
                name: 'A',
                n: 100,
                m: None
            })
        );
        assert_eq!(parse_counter("[B:7 M12]", true).unwrap().m, Some(12));
        assert_eq!(parse_counter("[A:-1]", false).unwrap().n, -1);
        for bad in [
            "100", "[A100]", "[A:]", "[AB:1]", "[a:1]", "[A:1 M]", "[A:1] ",
        ] {
            assert_eq!(parse_counter(bad, false), None, "{bad}");
            assert_eq!(parse_counter(bad, true), None, "{bad}");
        }
        assert_eq!(parse_counter("[A:1]", true), None, "the M is required");
    }

    #[test]
    fn differences_are_quoted() {
        let e = [3, 2, 1, 0];
        assert_eq!(first_difference("A", &e, &e), None);
        assert_eq!(
            first_difference("A", &e, &[3, 2, 0]).unwrap(),
            "A, line 3: -1 +0"
        );
        assert_eq!(
            first_difference("A", &e, &[3, 2, 1]).unwrap(),
            "A: stops after line 3 (1): -0"
        );
        assert_eq!(
            first_difference("A", &e, &[3, 2, 1, 0, -1, -2]).unwrap(),
            "A, line 5: +-1 and 1 more (expected only 4 lines)"
        );
        assert!(first_difference::<i32>("A", &e, &[])
            .unwrap()
            .contains("none printed"));
    }

    #[test]
    fn terminating_must_be_once_last_and_after_the_work() {
        let is_work = |l: &str| l.starts_with('w');
        let ok = ["w1", "w2", TERMINATING];
        assert_eq!(terminating_last(&ok, "work", is_work, 2), Ok(()));
        let early = ["w1", TERMINATING];
        assert!(terminating_last(&early, "work", is_work, 2)
            .unwrap_err()
            .contains("1 of their 2"));
        let not_last = ["w1", TERMINATING, "w2"];
        assert!(terminating_last(&not_last, "work", is_work, 2)
            .unwrap_err()
            .contains("after it: w2"));
        let twice = ["w1", "w2", TERMINATING, TERMINATING];
        assert!(terminating_last(&twice, "work", is_work, 2)
            .unwrap_err()
            .contains("2 times"));
        assert!(terminating_last(&["w1"], "work", is_work, 1)
            .unwrap_err()
            .contains("never"));
    }

    fn l(name: char, n: i64, m: u64) -> CounterLine {
        CounterLine {
            name,
            n,
            m: Some(m),
        }
    }

    #[test]
    fn overlap_needs_two_ms_at_once() {
        // Interleaved on two Ms: parallel.
        let par = [l('A', 3, 0), l('B', 0, 1), l('A', 2, 0)];
        assert!(overlap(&par).is_some());
        // Interleaved on one M: time slices, not parallelism.
        let slices = [l('A', 3, 0), l('B', 0, 0), l('A', 2, 0)];
        assert_eq!(overlap(&slices), None);
        // Two Ms, one after the other: serial.
        let serial = [l('A', 3, 0), l('A', 2, 0), l('B', 0, 1), l('B', 1, 1)];
        assert_eq!(overlap(&serial), None);
        // A moved Ms between its lines: no proof from that pair.
        let moved = [l('A', 3, 0), l('B', 0, 1), l('A', 2, 1)];
        assert_eq!(overlap(&moved), None);
    }

    #[test]
    fn collapse_merges_runs() {
        assert_eq!(collapse(&[1, 1, 2, 1, 1]), vec![1, 2, 1]);
    }
}
