//! Random identifiers and secrets, all drawn from the operating system's generator, except
//! in deterministic mode (`--deterministic`), where a seeded generator makes ids, uuids, mids
//! and tokens the same from run to run, for snapshot tests. Never the default: such tokens
//! are guessable.

use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::{OsRng, StdRng};
use rand::{RngCore, SeedableRng, TryRngCore};

/// The seeded generator of deterministic mode, and its seed (to start over on a reset).
/// Process-wide: one binary runs one server.
static DETERMINISTIC: Mutex<Option<(u64, StdRng)>> = Mutex::new(None);

/// Switches every later draw to a generator seeded with `seed` (or back to the OS, `None`).
pub fn set_deterministic(seed: Option<u64>) {
    *lock() = seed.map(|s| (s, StdRng::seed_from_u64(s)));
}

/// In deterministic mode, starts the sequence over (so each reset replays the same ids).
pub fn restart_sequence() {
    if let Some((seed, rng)) = lock().as_mut() {
        *rng = StdRng::seed_from_u64(*seed);
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<(u64, StdRng)>> {
    DETERMINISTIC.lock().unwrap_or_else(|e| e.into_inner())
}

/// Fills `buf` from the OS random generator (or the seeded one in deterministic mode). The OS
/// generator failing is not something a server can recover from, so it aborts the request
/// (caught and answered as a 500).
pub fn fill_random(buf: &mut [u8]) {
    if let Some((_, rng)) = lock().as_mut() {
        rng.fill_bytes(buf);
        return;
    }
    OsRng
        .try_fill_bytes(buf)
        .expect("the operating system's random generator failed");
}

/// A one-time secret: 32 random bytes, base64url without padding (43 characters).
pub fn secret_token() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random (version 4) UUID in its usual hyphenated lowercase form.
pub fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    fill_random(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A string of `len` random decimal digits, the first never 0.
pub fn digits(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    fill_random(&mut bytes);
    bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let d = if i == 0 { 1 + b % 9 } else { b % 10 };
            char::from(b'0' + d)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let t = secret_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, secret_token());
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        let d = digits(19);
        assert_eq!(d.len(), 19);
        assert!(d.bytes().all(|c| c.is_ascii_digit()) && !d.starts_with('0'));
    }
}
