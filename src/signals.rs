//! SIGINT, SIGTERM and SIGHUP as a flag: long-running commands (`watch`, `capture`) look at it
//! and wind down cleanly (a capture writes its statistics and leaves a valid file; a
//! `watch --lab` puts back the cables its flaps pulled). SIGHUP is the terminal closing: the
//! same clean stop, not a death that leaves a cable pulled.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGINT, SIGTERM and SIGHUP set the flag instead of killing the process.
pub fn stop_on_signals() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(signal, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// Winds down as if SIGINT had arrived (`watch` whose output reader went away).
pub fn stop() {
    STOP.store(true, Ordering::SeqCst);
}

/// Whether SIGINT, SIGTERM or SIGHUP arrived (or [`stop`] was called).
pub fn stopping() -> bool {
    STOP.load(Ordering::SeqCst)
}
