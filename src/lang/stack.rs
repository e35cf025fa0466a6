//! Recursion in the parser and checker is bounded by
//! [`crate::lang::parser::MAX_DEPTH`]; this runs such work on a thread with a
//! stack big enough for that bound whatever thread the caller is on (test
//! harness and rayon threads have small stacks).

use std::sync::Mutex;

/// Stack size for front-end work: generous, only touched pages are used.
const DEEP_STACK_BYTES: usize = 256 * 1024 * 1024;

/// Runs `f` on a scoped thread with a large stack and returns its result.
/// Falls back to the current thread if a thread cannot be spawned.
pub fn with_deep_stack<T: Send, F: FnOnce() -> T + Send>(f: F) -> T {
    let slot: Mutex<Option<F>> = Mutex::new(Some(f));
    let take = || slot.lock().ok().and_then(|mut g| g.take());
    let from_thread = std::thread::scope(|scope| {
        let spawned = std::thread::Builder::new()
            .name("coex-front-end".into())
            .stack_size(DEEP_STACK_BYTES)
            .spawn_scoped(scope, || take().map(|f| f()));
        match spawned {
            Ok(handle) => match handle.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            Err(_) => None,
        }
    });
    match from_thread {
        Some(v) => v,
        // Spawning failed (resource limits): run here instead.
        None => match take() {
            Some(f) => f(),
            None => unreachable_state(),
        },
    }
}

fn unreachable_state() -> ! {
    // The closure is taken exactly once: either by the thread (which then
    // returned a value) or here. Reaching this is a logic error.
    std::process::abort()
}
