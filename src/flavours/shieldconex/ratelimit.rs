//! The rate-limit headers ShieldConex sends on every 2xx (OpenAPI `components/headers`):
//! `X-RateLimit-Limit` (requests per hour), `X-RateLimit-Remaining` (left in the window) and
//! `X-RateLimit-Reset` (the UTC date-time the window resets).
//!
//! Requests are counted per user in fixed one-hour windows, in memory: the counts are
//! informative and the emulator never throttles (README). The table holds one entry per user
//! seen in the current hour and is emptied when the hour turns, so it stays bounded. On
//! PostgreSQL the instances on one database count together, in `sc_rate_windows`: one upsert
//! per request into one of a few rows of the user's window (`SHARDS`), committed on its own
//! (`Store::tally`: the row is held for the upsert alone, not across round trips), which also
//! adds up the window; a user's older windows are deleted when a shard's first request of a
//! new hour is counted.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::iso_seconds;
use crate::http::Response;

/// Requests per user and hour that the headers announce.
pub const LIMIT_PER_HOUR: u32 = 10_000;
const HOUR_MS: i64 = 3_600_000;

/// One server's counts; it lives in `App`, so servers in one process (tests) stay apart and
/// a reset starts them over.
#[derive(Default)]
pub struct RateWindows {
    /// (the current hour, user id → requests this hour).
    current: Mutex<(i64, HashMap<i64, u32>)>,
}

/// The quota after one more request of this user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub remaining: u32,
    pub reset_ms: i64,
}

impl RateWindows {
    /// Counts a request of `user_id`.
    pub fn hit(&self, user_id: i64, now_ms: i64) -> Quota {
        let hour = now_ms.div_euclid(HOUR_MS);
        let mut guard = self.lock();
        let (window, counts) = &mut *guard;
        if *window != hour {
            *window = hour;
            counts.clear();
        }
        let count = counts.entry(user_id).or_insert(0);
        *count = count.saturating_add(1);
        Quota {
            remaining: LIMIT_PER_HOUR.saturating_sub(*count),
            reset_ms: (hour + 1) * HOUR_MS,
        }
    }

    pub fn clear(&self) {
        self.lock().1.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (i64, HashMap<i64, u32>)> {
        self.current.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Counts a request of `user_id`: in the database when other instances serve it too, so
/// that they count together; in memory otherwise (or when the database cannot count it).
pub fn hit(app: &crate::app::App, user_id: i64, now_ms: i64) -> Quota {
    let windows = &app.state::<super::ShieldConexState>().rate_windows;
    if !app.store.shared_by_instances() {
        return windows.hit(user_id, now_ms);
    }
    let hour = now_ms.div_euclid(HOUR_MS);
    let counted = app.store.tally(|tx| {
        // This shard's count after the hit, and the whole window's: the others' shards as
        // committed when the statement began (a request answered before this one began is
        // in it; one running beside it may not be).
        let (in_shard, requests): (i64, i64) = tx
            .prepare_cached(
                "WITH hit AS (
                     INSERT INTO sc_rate_windows (user_id, hour, shard, requests)
                     VALUES (?1, ?2, ?3, 1)
                     ON CONFLICT (user_id, hour, shard)
                     DO UPDATE SET requests = sc_rate_windows.requests + 1
                     RETURNING requests)
                 SELECT hit.requests, hit.requests + coalesce(
                     (SELECT sum(requests) FROM sc_rate_windows
                      WHERE user_id = ?1 AND hour = ?2 AND shard <> ?3), 0)
                 FROM hit",
            )?
            .query_row([user_id, hour, this_threads_shard()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        if in_shard == 1 {
            tx.prepare_cached("DELETE FROM sc_rate_windows WHERE user_id = ?1 AND hour < ?2")?
                .execute([user_id, hour])?;
        }
        Ok::<_, crate::db::Error>(requests)
    });
    match counted {
        Ok(requests) => Quota {
            remaining: LIMIT_PER_HOUR.saturating_sub(u32::try_from(requests).unwrap_or(u32::MAX)),
            reset_ms: (hour + 1) * HOUR_MS,
        },
        Err(_) => windows.hit(user_id, now_ms),
    }
}

/// Shards of a user's window in `sc_rate_windows`. Every request of a user updates its
/// window, so with one row the requests of a busy user (a benchmark, a load test) took turns
/// on it: measured on PostgreSQL, a third more GET latency at the 99th percentile with two
/// instances. Spread over a few rows by request thread, they rarely meet.
const SHARDS: u64 = 8;

/// The shard this request thread counts in: the same for all its requests.
fn this_threads_shard() -> i64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::thread::current().id().hash(&mut hasher);
    (hasher.finish() % SHARDS) as i64
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
        let windows = RateWindows::default();
        let t = 500 * HOUR_MS + 10;
        let a = windows.hit(1, t);
        let b = windows.hit(1, t + 5);
        let other = windows.hit(2, t + 6);
        assert_eq!(a.remaining, LIMIT_PER_HOUR - 1);
        assert_eq!(b.remaining, LIMIT_PER_HOUR - 2);
        assert_eq!(other.remaining, LIMIT_PER_HOUR - 1);
        assert_eq!(a.reset_ms, 501 * HOUR_MS);
        let next = windows.hit(1, 501 * HOUR_MS);
        assert_eq!(next.remaining, LIMIT_PER_HOUR - 1);
    }
}
