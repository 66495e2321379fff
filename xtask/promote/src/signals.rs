//! The signals that end a run (SIGINT from Ctrl-C, SIGTERM from a supervisor or CI, SIGHUP
//! from a closed terminal): which one arrived, the exit code it calls for (128 + its number:
//! 130, 143, 129), and waits that stop for it.
//!
//! The handler itself only records the signal (signal-hook's self-pipe); a thread of ours then
//! stops every running tool group through `process::interrupt_all`. Anything that waits (a
//! lock, a poll loop) asks `interrupted` between short sleeps, so no wait outlives a signal.

use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The first signal that asked us to stop; 0 while none has.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Installs the handlers: called once, first thing in `main`.
pub fn install() {
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        for signal in signals.forever() {
            let _ = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
            crate::process::interrupt_all();
        }
    });
}

/// The signal that stopped this run, if one did.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// Conventional code for a run stopped by Ctrl-C (128 + SIGINT); `errors::exit` names it too.
pub const CTRL_C_EXIT: u8 = 130;

/// The exit code of a run that a signal stopped: 128 + the signal's number, as a shell
/// reports it; 130 (Ctrl-C) when the run was stopped without one (a test's interrupt).
pub fn exit_code() -> u8 {
    received()
        .and_then(|signal| u8::try_from(128 + signal).ok())
        .unwrap_or(CTRL_C_EXIT)
}

/// Why a wait ended without what it waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    Interrupted,
    TimedOut,
}

/// Calls `ready` until it returns `Some`, sleeping a little longer each time (10 ms up to
/// 100 ms), until `limit` has passed or a signal arrived. What is ready at once is taken even
/// after a signal: the clean-up an interrupted run owes (a deploy's record after its rollback)
/// still gets a free lock; only waiting is cut short, and writers that must not write after a
/// signal check for it themselves.
pub fn wait_for<T>(limit: Duration, mut ready: impl FnMut() -> Option<T>) -> Result<T, WaitEnd> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(value) = ready() {
            return Ok(value);
        }
        if crate::process::interrupted() {
            return Err(WaitEnd::Interrupted);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(WaitEnd::TimedOut);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_ends_when_ready_or_at_its_limit() {
        let mut calls = 0;
        let got = wait_for(Duration::from_secs(10), || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(got, Ok(3));
        let started = Instant::now();
        let never: Result<(), WaitEnd> = wait_for(Duration::from_millis(50), || None);
        assert_eq!(never, Err(WaitEnd::TimedOut));
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    #[test]
    fn without_a_signal_the_exit_code_is_ctrl_cs() {
        if received().is_none() {
            assert_eq!(exit_code(), 130);
        }
    }
}
