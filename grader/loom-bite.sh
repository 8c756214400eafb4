#!/usr/bin/env bash
# Prove that every loom model bites (`just loom-bite`).
#
# For each seeded bug of the runtime (grep `loom_seeded_bugs` in
# runtime/src), build the runtime with that bug (`LOOM_SEEDED_BUG=name`,
# which runtime/build.rs turns into `--cfg loom_seeded_bugs="name"` for the
# runtime crate only, so loom and the other dependencies are not rebuilt),
# run the one model meant to catch it, and require that the model FAILS, for
# the expected reason (a pattern in loom's or the model's output). A model
# that still passes with its bug seeded proves nothing: that is a failure of
# this script.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="--cfg loom"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
export RUST_BACKTRACE=0
# The models too big for CI keep their preemption caps (see `just loom-deep`).
export LOOM_DEEP=

# bug | model file | model (test name) | what its failure must say
BITES=(
    "runq_tail|loom_runq|push_overflow_and_steal|item.is_null|claimed an empty slot|exactly once|never put in"
    "no_recheck|loom_idle|go_from_busy_m_while_other_m_goes_idle|deadlock; threads"
    "wakep_no_fence|loom_idle|go_from_busy_m_while_other_m_goes_idle|deadlock; threads"
    "waiter_unpark_first|loom_waitgroup|sema_release_happens_before_acquire|deadlock; threads"
    "waitgroup_relaxed|loom_waitgroup|wait_returns_after_last_done_and_sees_its_writes|Causality violation"
    "waitgroup_lost_wakeup|loom_waitgroup|every_waiter_wakes|deadlock; threads"
    "chan_close_wakes_one|loom_chan|close_wakes_every_receiver|deadlock; threads"
    "chan_recv_takes_sender_value|loom_chan|buffered_fifo|values out of order"
    "select_claim_no_cas|loom_select|close_wakes_every_select_and_no_value_is_lost|value lost or received twice"
    "select_lock_case_order|loom_select|select_meets_select_while_close_races|deadlock; threads"
    "exitsyscall_no_cas|loom_syscall|exitsyscall_races_retake|on the idle list, once|acquirep: P not idle|Causality violation"
    "implicit_no_recheck|loom_implicit_syscall|sysmon_claim_races_runtime_entry|bad status transition|Causality violation|acquirep: P not idle|on the idle list, once"
    "shrink_kills_handoff|loom_gomaxprocs|shrink_races_exitsyscall_and_retake|acquirep: P not idle|on a destroyed P"
    "timer_add_no_wake|loom_timers|earlier_timer_wakes_the_timer_m|deadlock; threads"
    "timer_stop_check_then_store|loom_timers|stop_races_firing_and_exactly_one_wins|stop_timer: no pending wakeup|the function ran 1x and stop returned true"
    "deadlock_ignores_timers|loom_deadlock|never_fires_while_a_timer_is_pending|deadlock detector fired wrongly"
    "checkdead_misses_self|loom_deadlock|fires_when_every_goroutine_is_blocked|deadlock; threads"
    "mutex_unlock_no_wake|loom_sync|mutex_excludes_and_wakes_waiters|deadlock; threads"
    "mutex_unlock_relaxed|loom_sync|mutex_excludes_and_wakes_waiters|Causality violation"
    "mutex_starving_no_handoff|loom_sync|mutex_starvation_handoff_keeps_the_state_consistent|deadlock; threads"
    "once_done_before_f|loom_sync|once_runs_once_and_returns_after_it|Causality violation|left: 0"
    "rwmutex_writer_skips_readers|loom_sync|rwmutex_excludes_reader_and_writer|Causality violation"
    "cond_ticket_after_unlock|loom_sync|cond_signal_is_never_lost|deadlock; threads"
)

logs="$CARGO_TARGET_DIR/loom-bite"
mkdir -p "$logs"
failed=0
for bite in "${BITES[@]}"; do
    IFS='|' read -r bug file model expect <<<"$bite"
    if ! grep -rqF "loom_seeded_bugs = \"$bug\"" runtime/src; then
        echo "loom-bite: no seeded bug named $bug in runtime/src" >&2
        failed=1
        continue
    fi
    log="$logs/$bug.log"
    start=$SECONDS
    status=0
    LOOM_SEEDED_BUG="$bug" cargo test -q --profile loom -p grader --test "$file" \
        -- --exact "$model" >"$log" 2>&1 || status=$?
    took=$((SECONDS - start))
    if ! grep -q "running 1 test" "$log"; then
        echo "FAIL  $bug: $file::$model did not run (see $log)"
        failed=1
    elif [ "$status" -eq 0 ]; then
        echo "FAIL  $bug: $file::$model PASSED with the bug seeded (${took}s)"
        failed=1
    elif reason=$(grep -m1 -oE "$expect" "$log"); then
        echo "ok    $bug: caught by $file::$model, \"$reason\" (${took}s)"
    else
        echo "FAIL  $bug: $file::$model failed, but not with /$expect/ (see $log)"
        failed=1
    fi
done
exit "$failed"
