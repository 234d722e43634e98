//! The rate-limit headers ShieldConex sends on every 2xx (OpenAPI `components/headers`):
//! `X-RateLimit-Limit` (requests per hour), `X-RateLimit-Remaining` (left in the window) and
//! `X-RateLimit-Reset` (the UTC date-time the window resets).
//!
//! Requests are counted per user in fixed one-hour windows, in memory: the counts are
//! informative and the emulator never throttles (README). The table holds one entry per user
//! seen in the current hour and is emptied when the hour turns, so it stays bounded.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::iso_seconds;
use crate::http::Response;

/// Requests per user and hour that the headers announce.
pub const LIMIT_PER_HOUR: u32 = 10_000;
const HOUR_MS: i64 = 3_600_000;

struct Windows {
    hour: i64,
    /// (server instance, user id) → requests this hour.
    counts: HashMap<(usize, i64), u32>,
}

static WINDOWS: Mutex<Option<Windows>> = Mutex::new(None);

/// The quota after one more request of this user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub remaining: u32,
    pub reset_ms: i64,
}

/// Counts a request; `instance` tells servers in one process apart (tests run several).
pub fn hit(instance: usize, user_id: i64, now_ms: i64) -> Quota {
    let hour = now_ms.div_euclid(HOUR_MS);
    let mut guard = WINDOWS.lock().unwrap_or_else(|e| e.into_inner());
    let windows = guard.get_or_insert_with(|| Windows {
        hour,
        counts: HashMap::new(),
    });
    if windows.hour != hour {
        windows.hour = hour;
        windows.counts.clear();
    }
    let count = windows.counts.entry((instance, user_id)).or_insert(0);
    *count = count.saturating_add(1);
    Quota {
        remaining: LIMIT_PER_HOUR.saturating_sub(*count),
        reset_ms: (hour + 1) * HOUR_MS,
    }
}

impl Quota {
    pub fn apply(self, response: Response) -> Response {
        response
            .with_header("X-RateLimit-Limit", &LIMIT_PER_HOUR.to_string())
            .with_header("X-RateLimit-Remaining", &self.remaining.to_string())
            .with_header("X-RateLimit-Reset", &iso_seconds(self.reset_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_user_and_resets_on_the_hour() {
        // A far-off hour and instance of its own, so parallel tests do not interfere.
        let instance = usize::MAX - 7;
        let t = 500 * HOUR_MS + 10;
        let a = hit(instance, 1, t);
        let b = hit(instance, 1, t + 5);
        let other = hit(instance, 2, t + 6);
        assert_eq!(a.remaining, LIMIT_PER_HOUR - 1);
        assert_eq!(b.remaining, LIMIT_PER_HOUR - 2);
        assert_eq!(other.remaining, LIMIT_PER_HOUR - 1);
        assert_eq!(a.reset_ms, 501 * HOUR_MS);
        let next = hit(instance, 1, 501 * HOUR_MS);
        assert_eq!(next.remaining, LIMIT_PER_HOUR - 1);
    }
}
