//! A budget of bytes that requests in flight may hold at once: a request reserves the size of
//! the body it is about to read, waits while the budget is spent, and gives it back when done.

use std::sync::{Condvar, Mutex};

pub struct InFlight {
    capacity: u64,
    /// (bytes reserved now, most ever reserved at once)
    state: Mutex<(u64, u64)>,
    freed: Condvar,
}

/// Bytes reserved until dropped.
pub struct Reserved<'a> {
    budget: &'a InFlight,
    bytes: u64,
}

impl InFlight {
    pub fn new(capacity: u64) -> InFlight {
        InFlight {
            capacity,
            state: Mutex::new((0, 0)),
            freed: Condvar::new(),
        }
    }

    /// Waits until `bytes` fit beside what is reserved, and reserves them. A request for more
    /// than the whole budget waits until nothing else is reserved (callers cap sizes at the
    /// budget, so this only guards the arithmetic).
    pub fn reserve(&self, bytes: u64) -> Reserved<'_> {
        let bytes = bytes.min(self.capacity);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while state.0 + bytes > self.capacity {
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.0 += bytes;
        state.1 = state.1.max(state.0);
        Reserved {
            budget: self,
            bytes,
        }
    }

    #[cfg(test)]
    pub fn peak(&self) -> u64 {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        let mut state = self.budget.state.lock().unwrap_or_else(|e| e.into_inner());
        state.0 -= self.bytes;
        drop(state);
        self.budget.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_wait_for_room_and_never_exceed_the_budget() {
        let budget = InFlight::new(100);
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    for _ in 0..50 {
                        let _held = budget.reserve(40);
                        std::thread::yield_now();
                    }
                });
            }
        });
        let peak = budget.peak();
        assert!(
            (40..=80).contains(&peak),
            "two of 40 fit in 100, three do not: {peak}"
        );
        let _all = budget.reserve(500);
        assert_eq!(budget.peak(), 100);
    }
}
