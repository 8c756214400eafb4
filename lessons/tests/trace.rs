//! Seeing the scheduler from the lessons: `--trace` pictures, the
//! `--trace-out` timeline, and `GODEBUG=schedtrace`, checked on the built
//! binaries.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

/// The launcher, as `just lesson` runs it.
fn launcher() -> Command {
    let mut cmd = Command::cargo_bin("lesson").expect("launcher is built");
    cmd.env_remove("GOMAXPROCS")
        .env_remove("GODEBUG")
        .env_remove("RUNTIME_TRACE")
        .env_remove("RUNTIME_TRACE_OUT")
        .timeout(Duration::from_secs(120));
    cmd
}

fn output(cmd: &mut Command, code: i32) -> (String, String) {
    let out = cmd.assert().code(code).get_output().clone();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The event names of the frames drawn, in order.
fn frame_names(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("── #"))
        .map(|l| l.split(" · ").nth(1).expect("title: #n · name · time"))
        .collect()
}

#[test]
fn lesson1_trace_tells_the_runnext_story_in_a_few_frames() {
    let (stdout, stderr) = output(launcher().args(["1", "--trace"]), 0);
    // The program's own output is untouched: the pictures go to stderr.
    assert!(stdout.starts_with("Start Goroutines\nWaiting To Finish\nA B C"));
    assert!(stdout.ends_with("\nTerminating Program\n"));

    let names = frame_names(&stderr);
    assert!(names.len() < 100, "{} frames:\n{stderr}", names.len());
    // Main starts, shrinks to one P, creates two goroutines, parks in
    // Wait; the last created runs first (runnext), then the other; the
    // last Done readies main, which returns.
    assert_eq!(
        names,
        [
            "M start",
            "go",
            "run",
            "gomaxprocs",
            "go",
            "go",
            "park",
            "run",
            "goexit",
            "run",
            "ready",
            "goexit",
            "run",
            "exit"
        ],
        "{stderr}"
    );
    // The lesson's picture after the second `go`: G1 running on P0 under
    // M0; G3 in runnext, G2 bumped behind it.
    let picture = "
     M0
     |
  +------+   LRQ
  |  P0  | -----+
  +------+      |
     |          G3 ← runnext
     G1         |
                G2
";
    assert!(stderr.contains(picture), "no runnext picture in:\n{stderr}");
    assert!(stderr.contains("G2, bumped out of runnext, moves to the tail of the LRQ"));
    assert!(stderr.contains("G1 blocks (semacquire)"));
    assert!(stderr.contains("parked: G1 [semacquire]"));
    assert!(stderr.contains("M0 switches to G3 on P0, taken from runnext"));
    assert!(stderr.contains("G2 wakes G1 up"));
}

#[test]
fn lesson2_trace_folds_the_time_slices() {
    let mut cmd = Command::cargo_bin("example2").unwrap();
    cmd.env("RUNTIME_TRACE", "1")
        .env_remove("GOMAXPROCS")
        .timeout(Duration::from_secs(120));
    let (_, stderr) = output(&mut cmd, 0);
    let names = frame_names(&stderr);
    let preempts = names.iter().filter(|n| **n == "preempt").count();
    assert!(preempts >= 1, "lesson 2 time-slices:\n{stderr}");
    assert!(stderr.contains("has used up its time slice"));
    // Every drawn preemption sends a G to the global run queue.
    assert!(stderr.contains("puts it into the global run queue"));
    assert_eq!(names.last(), Some(&"exit"));
}

/// Run a lesson through the launcher with `--trace-out` and parse the file.
fn timeline(lesson: &str, code: i32, extra: &[&str]) -> Value {
    let path: PathBuf =
        std::env::temp_dir().join(format!("lesson-trace-{lesson}-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let (_, stderr) = output(
        launcher()
            .arg(lesson)
            .arg("--trace-out")
            .arg(&path)
            .args(extra),
        code,
    );
    assert!(stderr.contains("ui.perfetto.dev"), "{stderr}");
    let text = std::fs::read_to_string(&path).expect("trace file written");
    let _ = std::fs::remove_file(&path);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{text}"))
}

/// A G run: track (pid, tid), goroutine name, start and end in ns.
type Slice = ((u64, u64), String, u64, u64);

/// Check the trace-event format and return the G-run slices.
fn check_format(doc: &Value) -> Vec<Slice> {
    let events = doc["traceEvents"].as_array().expect("traceEvents array");
    let mut named = BTreeMap::new();
    let mut slices = Vec::new();
    let ns = |v: &Value| (v.as_f64().expect("number") * 1000.0).round() as u64;
    for e in events {
        let ph = e["ph"].as_str().expect("ph");
        assert!(e["name"].is_string(), "{e}");
        let pid = e["pid"].as_u64().expect("pid");
        match ph {
            "M" => {
                if e["name"] == "thread_name" {
                    let tid = e["tid"].as_u64().expect("tid");
                    named.insert((pid, tid), e["args"]["name"].as_str().unwrap().to_string());
                }
            }
            "X" => {
                let tid = e["tid"].as_u64().expect("tid");
                let start = ns(&e["ts"]);
                let end = start + ns(&e["dur"]);
                slices.push((
                    (pid, tid),
                    e["name"].as_str().unwrap().to_string(),
                    start,
                    end,
                ));
            }
            "i" => {
                assert!(e["ts"].as_f64().is_some(), "{e}");
                assert!(["t", "g"].contains(&e["s"].as_str().unwrap()), "{e}");
            }
            other => panic!("unexpected phase {other}: {e}"),
        }
    }
    // Every track with a slice is named: P tracks in process 1, M tracks in 2.
    for (track, _, _, _) in &slices {
        let name = named
            .get(track)
            .unwrap_or_else(|| panic!("unnamed {track:?}"));
        let prefix = if track.0 == 1 { 'P' } else { 'M' };
        assert_eq!(name, &format!("{prefix}{}", track.1));
    }
    slices
}

/// No two slices overlap on one P track: a P runs one G at a time.
fn check_no_overlap(slices: &[Slice]) {
    let mut by_p: BTreeMap<u64, Vec<(u64, u64, &str)>> = BTreeMap::new();
    for ((pid, tid), name, start, end) in slices {
        if *pid == 1 && name.starts_with('G') {
            by_p.entry(*tid).or_default().push((*start, *end, name));
        }
    }
    for (p, mut runs) in by_p {
        runs.sort();
        for w in runs.windows(2) {
            assert!(w[0].1 <= w[1].0, "P{p}: {:?} overlaps {:?}", w[0], w[1]);
        }
    }
}

fn gs_that_ran(slices: &[Slice], pid: u64) -> BTreeSet<String> {
    slices
        .iter()
        .filter(|((p, _), ..)| *p == pid)
        .map(|(_, name, ..)| name.clone())
        .collect()
}

fn all_gs(n: u32) -> BTreeSet<String> {
    (1..=n).map(|g| format!("G{g}")).collect()
}

#[test]
fn lesson1_timeline_is_valid_and_complete() {
    let slices = check_format(&timeline("1", 0, &[]));
    check_no_overlap(&slices);
    // main, lowercase and uppercase all ran, on P0, on M0.
    assert_eq!(gs_that_ran(&slices, 1), all_gs(3));
    assert_eq!(gs_that_ran(&slices, 2), all_gs(3));
    assert!(slices.iter().all(|((_, tid), ..)| *tid == 0), "{slices:?}");
}

#[test]
fn deadlocked_lesson5_still_completes_its_timeline() {
    let doc = timeline("5", 2, &[]);
    let slices = check_format(&doc);
    check_no_overlap(&slices);
    assert_eq!(gs_that_ran(&slices, 1), all_gs(3));
    let names: Vec<&str> = doc["traceEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(names.contains(&"park G1 (semacquire)"), "{names:?}");
    assert!(names.contains(&"exit 2"), "{names:?}");
}

#[test]
fn lesson3_timeline_shows_two_ps_at_once() {
    let slices = check_format(&timeline("3", 0, &[]));
    check_no_overlap(&slices);
    assert_eq!(gs_that_ran(&slices, 1), all_gs(3));
    // Parallelism: some run on P0 and some run on P1 overlap in time.
    let on = |p: u64| -> Vec<(u64, u64)> {
        slices
            .iter()
            .filter(|((pid, tid), ..)| *pid == 1 && *tid == p)
            .map(|(_, _, s, e)| (*s, *e))
            .collect()
    };
    let (p0, p1) = (on(0), on(1));
    let parallel = p0.iter().any(|a| p1.iter().any(|b| a.0 < b.1 && b.0 < a.1));
    assert!(parallel, "P0 {p0:?}\nP1 {p1:?}");
}

/// `SCHED <t>ms: gomaxprocs=.. idleprocs=.. threads=.. spinningthreads=..
/// idlethreads=.. runqueue=.. [l0 l1 ..]`, parsed: (t, fields, lengths).
fn parse_sched(line: &str) -> (u64, Vec<(String, u64)>, Vec<u64>) {
    let rest = line.strip_prefix("SCHED ").expect("SCHED prefix");
    let (t, rest) = rest.split_once("ms: ").expect("<t>ms: ");
    let (fields, lens) = rest.split_once(" [").expect("[lengths]");
    let fields: Vec<(String, u64)> = fields
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k.to_string(), v.parse().expect("number"))
        })
        .collect();
    let lens = lens
        .strip_suffix(']')
        .expect("closing ]")
        .split(' ')
        .map(|n| n.parse().expect("length"))
        .collect();
    (t.parse().expect("time"), fields, lens)
}

#[test]
fn schedtrace_prints_gos_sched_lines_from_sysmon() {
    let mut cmd = Command::cargo_bin("example2").unwrap();
    cmd.env("GODEBUG", "schedtrace=10")
        .env_remove("GOMAXPROCS")
        .timeout(Duration::from_secs(120));
    let (stdout, stderr) = output(&mut cmd, 0);
    assert!(stdout.ends_with("Terminating Program\n"));
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("SCHED ")).collect();
    assert!(lines.len() >= 2, "{stderr}");
    let keys = [
        "gomaxprocs",
        "idleprocs",
        "threads",
        "spinningthreads",
        "idlethreads",
        "runqueue",
    ];
    let mut last_t = 0;
    for (i, line) in lines.iter().enumerate() {
        let (t, fields, lens) = parse_sched(line);
        assert!(t >= last_t, "time goes forward: {line}");
        last_t = t;
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, keys, "{line}");
        let gomaxprocs = fields[0].1;
        assert_eq!(lens.len() as u64, gomaxprocs, "one length per P: {line}");
        assert!(fields[1].1 <= gomaxprocs, "{line}");
        // sysmon may print before the main thread has become M0.
        let least = if i == 0 { 1 } else { 2 };
        assert!(fields[2].1 >= least, "M0 and sysmon at least: {line}");
    }
    // The lesson sets one P at once; from then on, every line says so.
    let one = lines
        .iter()
        .position(|l| l.contains(" gomaxprocs=1 "))
        .unwrap_or_else(|| panic!("no line with one P:\n{stderr}"));
    assert!(
        lines[one..].iter().all(|l| l.contains(" gomaxprocs=1 ")),
        "{stderr}"
    );
}

#[test]
fn scheddetail_adds_a_line_per_p_m_and_g() {
    let mut cmd = Command::cargo_bin("example2").unwrap();
    cmd.env("GODEBUG", "schedtrace=10,scheddetail=1")
        .env_remove("GOMAXPROCS")
        .timeout(Duration::from_secs(120));
    let (_, stderr) = output(&mut cmd, 0);
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines
        .iter()
        .any(|l| l.starts_with("SCHED ") && !l.contains('[')));
    let p0 = lines
        .iter()
        .find(|l| l.starts_with("  P0: status=1 schedtick="))
        .unwrap_or_else(|| panic!("P0 line:\n{stderr}"));
    assert!(p0.contains(" syscalltick=0 m=0 runqsize="), "{p0}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("  M0: p=0 curg=")
                && l.ends_with(" spinning=false blocked=false")),
        "{stderr}"
    );
    // Main waits in WaitGroup.wait while A and B hash, on no M.
    assert!(
        lines.contains(&"  G1: status=4(semacquire) m=-1"),
        "{stderr}"
    );
    // One of the hashing goroutines runs on M0.
    assert!(
        lines
            .iter()
            .any(|l| (l.starts_with("  G2: ") || l.starts_with("  G3: "))
                && l.ends_with("status=2() m=0")),
        "{stderr}"
    );
}
