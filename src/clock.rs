//! The server's one notion of "now", in Unix milliseconds, and the few date formats the
//! vendors use. Every timestamp goes through `Clock` so that tests (and the admin clock
//! control) can move time without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Default)]
pub struct Clock {
    /// Added to the system time; changed only by the admin clock control.
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        system.saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    pub fn advance(&self, by_ms: i64) {
        let _ = self
            .offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(by_ms))
            });
    }

    /// Makes "now" be `at_ms` (the clock keeps ticking from there).
    pub fn set(&self, at_ms: i64) {
        let real = self.now_ms() - self.offset_ms.load(Ordering::Relaxed);
        self.offset_ms.store(at_ms - real, Ordering::Relaxed);
    }

    /// Back to the system time.
    pub fn reset(&self) {
        self.offset_ms.store(0, Ordering::Relaxed);
    }

    /// Makes the offset `ms` (as another instance set it: `fixture_state`).
    pub fn set_offset(&self, ms: i64) {
        self.offset_ms.store(ms, Ordering::Relaxed);
    }

    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

/// `2024-08-14T09:30:00.123Z`: ISO 8601 in UTC with milliseconds.
pub fn iso_millis(ms: i64) -> String {
    let (date, secs_of_day) = split_days(ms.div_euclid(1000));
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    format!("{date}T{h:02}:{m:02}:{s:02}.{:03}Z", ms.rem_euclid(1000))
}

/// `2024-08-14T09:30:00Z`: ISO 8601 in UTC to the second.
pub fn iso_seconds(ms: i64) -> String {
    let (date, secs_of_day) = split_days(ms.div_euclid(1000));
    let (h, m, s) = (secs_of_day / 3600, secs_of_day / 60 % 60, secs_of_day % 60);
    format!("{date}T{h:02}:{m:02}:{s:02}Z")
}

fn split_days(secs: i64) -> (String, i64) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    (format!("{y:04}-{m:02}-{d:02}"), secs.rem_euclid(86_400))
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Parses `2030-01-01T00:00:00Z` or `2030-01-01T00:00:00.250Z` (UTC only) into Unix ms.
pub fn parse_iso(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a UTC time like 2030-01-01T00:00:00Z");
    let body = text.trim().strip_suffix('Z').ok_or_else(bad)?;
    let (date, time) = body.split_once('T').ok_or_else(bad)?;
    let num = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let d: Vec<&str> = date.split('-').collect();
    let (time, millis) = match time.split_once('.') {
        Some((t, frac)) if !frac.is_empty() && frac.len() <= 3 => (t, num(&format!("{frac:0<3}"))?),
        Some(_) => return Err(bad()),
        None => (time, 0),
    };
    let t: Vec<&str> = time.split(':').collect();
    if d.len() != 3 || t.len() != 3 {
        return Err(bad());
    }
    let (y, m, day) = (num(d[0])?, num(d[1])?, num(d[2])?);
    if !(1..=9999).contains(&y) {
        return Err(bad());
    }
    let (h, min, sec) = (num(t[0])?, num(t[1])?, num(t[2])?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || min > 59 || sec > 59 {
        return Err(bad());
    }
    let days = days_from_civil(y, m, day);
    if civil_from_days(days) != (y, m as u32, day as u32) {
        return Err(bad());
    }
    Ok(((days * 86_400 + h * 3600 + min * 60 + sec) * 1000) + millis)
}

/// (year, month, day) to days since 1970-01-01 (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses a duration such as `90s`, `15m`, `12h` or `7d` into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let count: i64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 90s, 15m, 12h or 7d"))?;
    let unit_ms = match unit {
        // A bare number could mean seconds or days; guessing wrong is silent.
        "" => {
            return Err(format!(
                "{text:?} needs a unit: {digits}s, {digits}m, {digits}h or {digits}d \
                 (or {digits}ms)"
            ))
        }
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => {
            return Err(format!(
                "{text:?}: unknown unit {unit:?} (use s, m, h or d)"
            ))
        }
    };
    count
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("{text:?} is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_millis(1_723_628_400_123), "2024-08-14T09:40:00.123Z");
        assert_eq!(iso_seconds(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn parses_iso_times_back() {
        for ms in [0, 1_723_628_400_123, 1_893_456_000_000, 951_782_400_000] {
            assert_eq!(parse_iso(&iso_millis(ms)), Ok(ms));
        }
        assert_eq!(parse_iso("2030-01-01T00:00:00Z"), Ok(1_893_456_000_000));
        assert!(parse_iso("2030-02-30T00:00:00Z").is_err());
        assert!(parse_iso("2030-01-01 00:00:00").is_err());
        assert!(parse_iso("99999999999999-01-01T00:00:00Z").is_err());
    }

    #[test]
    fn a_set_clock_ticks_on_from_there() {
        let clock = Clock::default();
        clock.set(1_000);
        assert!((1_000..1_500).contains(&clock.now_ms()));
        clock.advance(86_400_000);
        assert!(clock.now_ms() >= 86_401_000);
        clock.reset();
        assert_eq!(clock.offset_ms(), 0);
    }

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration_ms("7d"), Ok(7 * 86_400_000));
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert!(parse_duration_ms("7 weeks").is_err());
        assert!(parse_duration_ms("").is_err());
        let bare = parse_duration_ms("7").unwrap_err();
        assert!(
            bare.contains("needs a unit") && bare.contains("7d"),
            "{bare}"
        );
    }
}

/// `Mon Nov 23 09:37:48 2026`: the C asctime format of an mbox `From ` line, in UTC.
pub fn asctime(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let t = secs.rem_euclid(86_400);
    format!(
        "{} {} {d:2} {:02}:{:02}:{:02} {y}",
        DAYS[(days + 4).rem_euclid(7) as usize],
        MONTHS[m as usize - 1],
        t / 3600,
        t / 60 % 60,
        t % 60
    )
}

#[test]
fn asctime_of_a_known_instant() {
    assert_eq!(asctime(1_795_426_668_000), "Mon Nov 23 09:37:48 2026");
}
