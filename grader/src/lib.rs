//! The grader: graded exercises for students, scored reports for
//! instructors, and the property tests that hold the runtime to a model.
//!
//! | file | what |
//! |---|---|
//! | `catalog.rs` | the exercises and every check (id, title, points, timeout) |
//! | `props.rs` | properties of output that hold on any schedule |
//! | `schedule.rs` | exercise 4: the order lesson 1 really runs in |
//! | `account.rs` | the runtime's exit report: goroutines, waits, Ms, leaks |
//! | `run.rs` | running untrusted programs: timeout, output and memory caps |
//! | `sandbox.rs` | isolation: bubblewrap or a dedicated uid, kill-by-uid, rlimits |
//! | `build.rs` | `cargo build --keep-going`: one compile error costs one exercise |
//! | `workspace.rs` | the workspace, worker copies, submissions |
//! | `grade.rs` | build, run and verify the checks of one workspace |
//! | `report.rs` | table, Gradescope `results.json`, JUnit XML |
//! | `kit.rs` | `just student-kit DIR`: the repository without solutions |
//! | `class.rs` | a class of submissions in parallel, CSV |
//! | `watch/` | `just watch`: re-check on every save, progress bar, hints |
//! | `program.rs`, `model.rs` | random goroutine programs and their reference model |
//!
//! The `grader` binary is the command line (`just check`, `just grade`);
//! `goprog` runs a [`program::Program`] on the runtime for the property
//! tests.

pub mod account;
pub mod build;
pub mod catalog;
pub mod class;
pub mod grade;
pub mod kit;
pub mod model;
pub mod program;
pub mod props;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod schedule;
pub mod watch;
pub mod workspace;
