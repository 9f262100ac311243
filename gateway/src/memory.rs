//! Giving memory back after a burst. glibc's malloc keeps freed memory mapped in its per-thread
//! arenas, so after 10,000 booths left (or a round of 20 MiB uploads) the server's RSS stayed at
//! its peak. Every [`CHECK_EVERY`] a background task asks glibc to return free pages
//! (`malloc_trim`, on a blocking thread) — but only after a burst: when the open connections fell
//! to half of their peak since the last trim (and the peak was at least [`MIN_PEAK`]), or when
//! uploads finished. A trim holds the allocator's locks for a moment, so it is not done idly.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::serve::ConnTracker;

/// How often the trimmer looks.
pub const CHECK_EVERY: Duration = Duration::from_secs(10);
/// Connection peaks below this are not worth a trim.
pub const MIN_PEAK: usize = 256;

/// Returns free heap pages to the OS now; `true` if any were released.
pub fn trim() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim only walks the allocator's own free lists.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// What the trimmer watches; uploads mark it when one finishes.
#[derive(Debug, Default)]
pub struct Trimmer {
    uploads_finished: AtomicBool,
}

impl Trimmer {
    /// An upload's buffers (up to 20 MiB of body and its decode) were just freed.
    pub fn upload_finished(&self) {
        self.uploads_finished.store(true, Ordering::Relaxed);
    }

    /// Spawns the periodic check.
    pub fn spawn(self: Arc<Self>, conns: Arc<ConnTracker>) {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(CHECK_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let peak = conns.take_peak();
                let fell = peak >= MIN_PEAK && conns.open() * 2 <= peak;
                if fell || self.uploads_finished.swap(false, Ordering::Relaxed) {
                    let _ = tokio::task::spawn_blocking(trim).await;
                }
            }
        });
    }
}
