//! Who compacts stacks, and when: sysmon, a slice of all goroutines per
//! tick, and `runtime::compact_stacks()` (proc.rs) on demand (the mechanism and its
//! handshake: `compact.rs`).
//!
//! Lesson idea: "pay for idleness only when it lasts". Go shrinks stacks
//! during garbage collection (`shrinkstack`, called from `scanstack` in
//! `mgcmark.go`), so a goroutine idle across a GC gives back what it does
//! not use. We have no GC; sysmon, which already wakes every 20 µs to
//! 10 ms, walks `allgs` a slice at a time, and compacts a parked goroutine
//! whose `waitsince` stamp is at least [`COMPACT_AFTER_NS`] old. Parking
//! stamps it with sysmon's last clock reading (`g::set_park_clock`: a load
//! and a store on the park path, no clock read), so one look at a G tells
//! whether it has waited long enough; the stamp lags the park by at most
//! one sysmon nap (10 ms). A goroutine in a
//! producer/consumer exchange parks for nanoseconds and is never touched;
//! a million goroutines blocked on one WaitGroup are compacted while they
//! wait, on sysmon's thread, so their stack pages are back with the kernel
//! long before they are released (by the first pass that finds them
//! 20 ms old; a pass over a million takes tens of milliseconds).
//!
//! Cost: a pass over `allgs` reads two words of each G. After a pass that
//! found nothing, the next waits ten times as long as its walk took (at
//! least [`IDLE_PASS_GAP_NS`]), so a program with a million idle
//! goroutines, all compacted, pays a few percent of sysmon's core, not a
//! core; after one that found work, the next starts half of
//! [`COMPACT_AFTER_NS`] or four times its walk's length after it, which
//! keeps the walk itself under a quarter of sysmon's time.
//!
//! Linux only (`membarrier`); `RUNTIME_STACK_COMPACT=off` turns it off (to
//! measure without it).

use crate::compact::{self, CHUNK, COMPACT_AFTER_NS};
use crate::g::{GRef, Status, WaitReason};
use crate::sched::Sched;
use crate::sync_facade::Ordering;

/// Gs looked at per sysmon tick.
const SCAN_BATCH: usize = 16_384;
/// Least time between two passes over `allgs` that found nothing to do.
const IDLE_PASS_GAP_NS: u64 = 50_000_000;

/// Where sysmon's walk is, across ticks.
struct Scan {
    cursor: usize,
    pass_started: u64,
    /// Time this pass spent walking (not compacting, not napping).
    walk_ns: u64,
    found_in_pass: usize,
    next_pass_at: u64,
}

/// sysmon's walk; also serializes `compact_stacks` with it.
static SCAN: std::sync::Mutex<Scan> = std::sync::Mutex::new(Scan {
    cursor: 0,
    pass_started: 0,
    walk_ns: 0,
    found_in_pass: 0,
    next_pass_at: 0,
});

/// Whether stacks are compacted in this process: Linux with `membarrier`,
/// unless `RUNTIME_STACK_COMPACT=off`. Decided once.
pub(crate) fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        cfg!(target_os = "linux")
            && std::env::var("RUNTIME_STACK_COMPACT").map_or(true, |v| v != "off")
            && crate::os::process_barrier_available()
    })
}

/// Whether a goroutine parked for `reason` may be compacted: only when
/// nothing but the goroutine itself reads or writes its stack while it
/// waits. Channel and `select!` waits may not: their sudogs live on the
/// waiting goroutine's stack (`sudog.rs`), and the goroutine that completes
/// the operation links, fills and unlinks them there. Go shrinks those
/// stacks too, adjusting the sudogs' pointers under the channel locks
/// (`syncadjustsudogs` in `stack.go`; its `isShrinkStackSafe` only refuses
/// the instant of parking on a channel), which needs a moving stack we do
/// not have. Semaphore waits (WaitGroup, Mutex, RWMutex), Cond waits and
/// sleeps queue a `Waiter` on the heap or a timer, and the waits that never
/// end hold nothing at all.
fn compactable(reason: WaitReason) -> bool {
    match reason {
        WaitReason::ChanReceive | WaitReason::ChanSend | WaitReason::Select => false,
        WaitReason::None => false,
        WaitReason::Semacquire
        | WaitReason::SelectNoCases
        | WaitReason::Sleep
        | WaitReason::ChanReceiveNilChan
        | WaitReason::ChanSendNilChan
        | WaitReason::SyncMutexLock
        | WaitReason::SyncRWMutexRLock
        | WaitReason::SyncRWMutexLock
        | WaitReason::SyncCondWait => true,
    }
}

/// A goroutine parked for a reason [`compactable`] allows, stack in place.
fn parked_compactable(g: GRef) -> bool {
    g.status() == Status::Waiting && compactable(g.wait_reason()) && g.stack_slot.is_live()
}

fn scan_state() -> std::sync::MutexGuard<'static, Scan> {
    SCAN.lock().unwrap_or_else(|p| p.into_inner())
}

/// sysmon's part, every tick: look at the next slice of `allgs`, stamp
/// what parked since the last pass, compact what has been parked long
/// enough. True when it found work (sysmon then naps briefly: more may be
/// waiting).
pub(crate) fn sysmon_tick(sched: &Sched, now: u64) -> bool {
    // Freed stacks first: their pages go back to the kernel here, off the
    // path of the Ps that freed them.
    if cfg!(target_os = "linux") {
        crate::stack::scavenge(now);
        crate::compact_store::release_idle(now);
    }
    if !enabled() {
        return false;
    }
    // A `compact_stacks()` in progress does this tick's work: sysmon does
    // not wait for it (it has Ps to retake).
    let mut scan = match SCAN.try_lock() {
        Ok(scan) => scan,
        Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
        Err(std::sync::TryLockError::WouldBlock) => return false,
    };
    if now < scan.next_pass_at {
        return false;
    }
    if scan.cursor == 0 {
        scan.pass_started = now;
        scan.walk_ns = 0;
        scan.found_in_pass = 0;
    }
    // Copy the slice out and look at the Gs after unlocking: `go` takes
    // this lock to register new Gs, and must not wait for our reads.
    let slice: Vec<GRef> = {
        let allgs = crate::sync_facade::lock(&sched.allgs);
        let start = scan.cursor.min(allgs.len());
        let end = (start + SCAN_BATCH).min(allgs.len());
        scan.cursor = if end >= allgs.len() { 0 } else { end };
        allgs[start..end].to_vec()
    };
    let mut waiting_any = false;
    let candidates: Vec<GRef> = slice
        .into_iter()
        .filter(|&g| {
            if !parked_compactable(g) {
                return false;
            }
            g.stamp_waitsince(now);
            let old_enough = now.saturating_sub(g.waitsince()) >= COMPACT_AFTER_NS;
            waiting_any |= !old_enough;
            old_enough
        })
        .collect();
    scan.walk_ns += crate::timers::nanotime().saturating_sub(now);
    // A pass that found nothing to compact, not even a goroutine to wait
    // for, lets the next one start later.
    scan.found_in_pass += candidates.len() + usize::from(waiting_any);
    if scan.cursor == 0 {
        scan.next_pass_at = if scan.found_in_pass == 0 {
            now + (10 * scan.walk_ns).max(IDLE_PASS_GAP_NS)
        } else {
            // Work found: pass again, but not before the goroutines this
            // pass saw waiting can be old enough, and never so often that the walk
            // (a cache miss per G: tens of milliseconds for a million)
            // takes more than a quarter of sysmon's time: back-to-back
            // passes over a million goroutines being spawned cost a
            // second of a core. The compacting itself is not counted: a
            // pass that compacted much should be followed soon.
            scan.pass_started + (COMPACT_AFTER_NS / 2).max(4 * scan.walk_ns)
        };
    }
    compact_gs(sched, &candidates);
    !candidates.is_empty() || waiting_any
}

/// `runtime::compact_stacks()`: compact every goroutine parked right now
/// in a compactable wait, however briefly.
pub(crate) fn compact_all(sched: &Sched) -> usize {
    if !enabled() {
        return 0;
    }
    let _serial = scan_state();
    let all: Vec<GRef> = crate::sync_facade::lock(&sched.allgs).clone();
    let gs: Vec<GRef> = all.into_iter().filter(|&g| parked_compactable(g)).collect();
    compact_gs(sched, &gs)
}

/// Compact `gs` (the protocol of `compact.rs`), a chunk at a time: claim
/// the chunk, barrier, then copy out each G still parked and on no P,
/// release the chunk's pages, publish. A resumer that finds its G claimed
/// waits for one chunk at most.
fn compact_gs(sched: &Sched, gs: &[GRef]) -> usize {
    // By stack address: a chunk then covers neighbouring stacks, whose
    // pages go back in a few long runs instead of many short ones (Gs in
    // `allgs` order got their stacks from two or more Ps' caches, taken
    // from the regions in batches, so neighbours in `allgs` are seldom
    // neighbours in memory).
    let mut gs = gs.to_vec();
    gs.sort_unstable_by_key(|g| g.stack_base());
    let usable = crate::stack::usable_size();
    let guard = crate::stack::guard_size();
    let mut done = 0;
    let mut ranges = Vec::with_capacity(CHUNK);
    let mut saved = Vec::with_capacity(CHUNK);
    let mut saver = compact::ChunkSaver::new();
    let mut claimed = Vec::with_capacity(CHUNK);
    for chunk in gs.chunks(CHUNK) {
        claimed.clear();
        claimed.extend(chunk.iter().copied().filter(|g| g.stack_slot.try_claim()));
        if claimed.is_empty() {
            continue;
        }
        if !crate::os::process_barrier() {
            claimed.iter().for_each(|g| g.stack_slot.unclaim());
            return done;
        }
        // After the barrier: a G that some M has started to run, or is
        // still parking, is some P's `curg`.
        let on_p: Vec<GRef> = sched
            .allps()
            .filter_map(|p| p.curg.load(Ordering::Acquire))
            .collect();
        for &g in &claimed {
            let (sp, base) = (g.saved_sp(), g.stack_base());
            // The status and wait reason after the barrier: those of the
            // wait the G is in now (a G that woke and parked again on a
            // channel since we picked it is left alone).
            let parked = g.status() == Status::Waiting
                && compactable(g.wait_reason())
                && !on_p.iter().any(|&c| std::ptr::eq(c, g));
            if parked && base != 0 && sp > base - usable && sp <= base {
                let lo = base - usable;
                // SAFETY: claimed, parked and on no P (the handshake of
                // compact.rs); `sp` is what it saved when it switched
                // away, inside its stack's usable part `[lo, base)`.
                unsafe { saver.save(&g.stack_slot, sp, lo, base) };
                ranges.push((lo, base));
                saved.push(g);
            } else {
                g.stack_slot.unclaim();
            }
        }
        saver.finish();
        // SAFETY: the bytes of every range are saved, and the goroutines
        // stay claimed until published below.
        unsafe { compact::release(&mut ranges, guard) };
        ranges.clear();
        done += saved.len();
        saved.drain(..).for_each(|g| g.stack_slot.publish());
    }
    done
}
