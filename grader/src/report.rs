//! Writing results down: the terminal table, Gradescope's `results.json`,
//! JUnit XML.
//!
//! Gradescope reads `{"score": .., "tests": [{"name", "score", "max_score",
//! "status", "output"}, ..]}`; CI systems read JUnit's
//! `<testsuite><testcase><failure/></testcase></testsuite>`. Both carry every
//! check with its id, so an instructor can match them with `grader list`.

use std::fmt::Write;

use serde_json::json;

use crate::grade::{totals, CheckResult};

/// `✔` or `✘`.
pub fn mark(passed: bool) -> &'static str {
    if passed {
        "✔"
    } else {
        "✘"
    }
}

/// The course's progress bar, `[#####>----] 3/7 exercises`: `done` of
/// `total` in `width` cells, the arrow at the next exercise (as rustlings
/// draws it).
pub fn progress_bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width)
        .checked_div(total)
        .unwrap_or(width)
        .min(width);
    let mut bar = "#".repeat(filled);
    if filled < width {
        bar.push('>');
        bar.push_str(&"-".repeat(width - filled - 1));
    }
    format!("[{bar}] {done}/{total} exercises")
}

/// One line per check: mark, points, id, title, and the reason it failed.
pub fn check_lines(results: &[CheckResult]) -> String {
    let width = results.iter().map(|r| r.check.id.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in results {
        let _ = writeln!(
            out,
            "  {} {:>2}/{:<2} {:<width$}  {}",
            mark(r.passed),
            r.score(),
            r.check.points,
            r.check.id,
            r.check.title,
        );
        if !r.passed {
            let _ = writeln!(out, "  {:>6} {:<width$}  → {}", "", "", r.reason);
        }
    }
    out
}

/// The table `just grade` prints: every check, then the total.
pub fn table(results: &[CheckResult]) -> String {
    let (score, max) = totals(results);
    let mut out = check_lines(results);
    let _ = writeln!(
        out,
        "\ntotal: {score}/{max} points, {} of {} checks pass",
        results.iter().filter(|r| r.passed).count(),
        results.len()
    );
    out
}

/// Gradescope's `results.json`.
pub fn gradescope(results: &[CheckResult]) -> String {
    let (score, max) = totals(results);
    let tests: Vec<_> = results
        .iter()
        .map(|r| {
            json!({
                "name": format!("{}: {}", r.check.id, r.check.title),
                "number": r.check.id,
                "score": r.score(),
                "max_score": r.check.points,
                "status": if r.passed { "passed" } else { "failed" },
                "output": if r.passed { "passed".to_string() } else { r.reason.clone() },
                "execution_time": r.seconds,
            })
        })
        .collect();
    let doc = json!({
        "score": score,
        "max_score": max,
        "output": format!("{score}/{max} points"),
        "tests": tests,
    });
    serde_json::to_string_pretty(&doc).expect("JSON values always serialize") + "\n"
}

/// JUnit XML: one test suite, one test case per check.
pub fn junit(results: &[CheckResult]) -> String {
    let failures = results.iter().filter(|r| !r.passed).count();
    let time: f64 = results.iter().map(|r| r.seconds).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"grader\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{time:.3}\">",
        results.len()
    );
    for r in results {
        let _ = write!(
            out,
            "  <testcase classname=\"exercise{}\" name=\"{}: {}\" time=\"{:.3}\"",
            xml(r.check.exercise),
            xml(r.check.id),
            xml(r.check.title),
            r.seconds
        );
        if r.passed {
            out.push_str("/>\n");
        } else {
            let _ = write!(
                out,
                ">\n    <failure message=\"{}\">{} (0/{} points)</failure>\n  </testcase>\n",
                xml(&r.reason),
                xml(&r.reason),
                r.check.points
            );
        }
    }
    out.push_str("</testsuite>\n");
    out
}

/// Escape text for an XML attribute or element.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// A reason made safe to show: control characters (ANSI escapes, carriage
/// returns, line ends) escaped as `\x1b`, `\r`, `\n`, and cut to
/// `max` characters with `… (N more characters)`.
pub fn sanitize(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut shown = 0;
    let mut rest = 0;
    for c in s.chars() {
        if shown >= max {
            rest += 1;
            continue;
        }
        shown += 1;
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    if rest > 0 {
        let _ = write!(out, "… ({rest} more characters)");
    }
    out
}

/// Longest reason shown for one check.
pub const REASON_MAX: usize = 300;

/// Quote a CSV field when it needs it (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_bar() {
        assert_eq!(progress_bar(0, 7, 10), "[>---------] 0/7 exercises");
        assert_eq!(progress_bar(3, 7, 10), "[####>-----] 3/7 exercises");
        assert_eq!(progress_bar(7, 7, 10), "[##########] 7/7 exercises");
        assert_eq!(progress_bar(0, 0, 4), "[####] 0/0 exercises");
    }

    #[test]
    fn escaping() {
        assert_eq!(xml("a<b & \"c\"\u{1}"), "a&lt;b &amp; &quot;c&quot;?");
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(sanitize("a\u{1b}[31mb\r\n", 100), "a\\x1b[31mb\\r\\n");
        assert_eq!(sanitize(&"x".repeat(10), 4), "xxxx… (6 more characters)");
        assert_eq!(csv_field("a, \"b\""), "\"a, \"\"b\"\"\"");
    }
}
