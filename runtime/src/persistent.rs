//! Memory for runtime records that live as long as the process, from
//! address space the runtime reserves itself (Go's `persistentalloc` in
//! `malloc.go`).
//!
//! Lesson idea: "a runtime owns its memory". Goroutine records are never
//! freed (a dead G waits on a free list for the next `go`, as Go's `allgs`
//! never shrinks), so they need no allocator that can free: a pointer
//! bumped through a big reservation will do. Taking them from `malloc`
//! cost more than it seemed: a million goroutines grew the system
//! allocator's per-thread arena thousands of times, each growth an
//! `mprotect` (or `brk`) that write-locks the address space, and every M
//! faulting in a stack page meanwhile waited for it (`perf record -e
//! sched:sched_switch` on the million-goroutine benchmark: the Ms blocked in
//! `lock_mm_and_find_vma` behind `malg_batch`'s growth). A reservation is
//! one `mmap`; its pages are faulted in as they are first written, which
//! takes the lock only for reading.

use std::sync::Mutex;

/// First reservation; each later one doubles, up to [`MAX_RESERVATION`].
const FIRST_RESERVATION: usize = 4 << 20;
const MAX_RESERVATION: usize = 1 << 30;

/// The unused rest of the current reservation `[next, end)`, and the size
/// of the last reservation.
static ARENA: Mutex<(usize, usize, usize)> = Mutex::new((0, 0, 0));

/// `n` values made by `init`, in memory that is never freed.
pub(crate) fn alloc_slice<T>(n: usize, mut init: impl FnMut() -> T) -> &'static [T] {
    let layout = std::alloc::Layout::array::<T>(n).expect("persistent allocation size");
    let at = bump(layout.size().max(1), layout.align());
    let first = at as *mut T;
    for i in 0..n {
        // SAFETY: `[at, at + size)` is ours alone (handed out once by
        // `bump`), aligned for `T` and large enough for `n` of them.
        unsafe { first.add(i).write(init()) };
    }
    // SAFETY: all `n` values were written above and the memory is never
    // freed or handed out again, so a shared `'static` slice is sound.
    unsafe { std::slice::from_raw_parts(first, n) }
}

/// `size` bytes aligned to `align`, never to be reused.
fn bump(size: usize, align: usize) -> usize {
    let mut arena = ARENA.lock().unwrap_or_else(|p| p.into_inner());
    let (next, end, last) = *arena;
    let at = next.next_multiple_of(align);
    if next != 0 && at + size <= end {
        arena.0 = at + size;
        return at;
    }
    // A new reservation; the rest of the old one stays unused (address
    // space only: nothing there was touched).
    let need = size + align;
    let want = (last * 2)
        .clamp(FIRST_RESERVATION, MAX_RESERVATION)
        .max(need);
    let (start, len) = crate::os::reserve_up_to(want, need).unwrap_or_else(|err| {
        crate::fatal::throw(&format!(
            "cannot reserve {} KiB for goroutine records: {err}",
            need >> 10
        ))
    });
    let at = start.next_multiple_of(align);
    *arena = (at + size, start + len, len);
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_initialized_aligned_and_disjoint() {
        #[repr(align(64))]
        struct Line(u64);
        let mut next = 0;
        let a = alloc_slice(1000, || {
            next += 1;
            Line(next)
        });
        let b = alloc_slice(3, || Line(7));
        assert!(a.iter().map(|l| l.0).eq(1..=1000));
        assert!(b.iter().all(|l| l.0 == 7));
        for s in [a.as_ptr() as usize, b.as_ptr() as usize] {
            assert_eq!(s % 64, 0, "misaligned");
        }
        let (a_end, b_start) = (a.as_ptr_range().end as usize, b.as_ptr() as usize);
        let (b_end, a_start) = (b.as_ptr_range().end as usize, a.as_ptr() as usize);
        assert!(a_end <= b_start || b_end <= a_start, "slices overlap");
        // Bigger than any reservation so far: a reservation of its own.
        let big = alloc_slice(2 * FIRST_RESERVATION, || 1u8);
        assert!(big.iter().all(|&x| x == 1));
    }
}
