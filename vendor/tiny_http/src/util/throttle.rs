//! Clientele patch: log lines about what a flood of clients causes (refused sockets, failed
//! accepts), at most one a second, so that the flood does not flood the log too.

use std::time::{Duration, Instant};

/// Counts events and says when the next line about them is due.
#[derive(Default)]
pub(crate) struct Throttle {
    last: Option<Instant>,
    unreported: u64,
}

impl Throttle {
    /// Counts one event; when a line is due (the first, then at most one a second), the
    /// events since the last line, this one included.
    pub(crate) fn due(&mut self) -> Option<u64> {
        self.unreported += 1;
        let now = Instant::now();
        let quiet = self.last.map_or(true, |last| {
            now.duration_since(last) >= Duration::from_secs(1)
        });
        if !quiet {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}
