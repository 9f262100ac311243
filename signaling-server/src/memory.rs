//! Giving memory back after a burst. glibc's malloc keeps freed memory mapped in its per-thread
//! arenas, so after 10,000 booths left (or a round of 20 MiB uploads) the server's RSS stayed at
//! its peak. A background task asks glibc to return free pages (`malloc_trim`) every
//! [`TRIM_EVERY`], off the async workers; it costs a few milliseconds of one blocking thread.

use std::time::Duration;

/// How often free heap pages are returned to the OS.
pub const TRIM_EVERY: Duration = Duration::from_secs(10);

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

/// Spawns the periodic trim.
pub fn spawn_trimmer() {
    tokio::spawn(async {
        let mut every = tokio::time::interval(TRIM_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let _ = tokio::task::spawn_blocking(trim).await;
        }
    });
}
