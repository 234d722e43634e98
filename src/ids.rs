//! Random identifiers and secrets, all drawn from the operating system's generator, except
//! in deterministic mode (`--deterministic`), where a seeded generator makes ids, uuids, mids
//! and tokens the same from run to run, for snapshot tests. Never the default: such tokens
//! are guessable.

use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::{OsRng, StdRng};
use rand::{RngCore, SeedableRng, TryRngCore};

/// One server's source of ids and secrets. It belongs to the `App`, so that servers in one
/// process (tests) stay apart: a reset of one starts only its own sequence over.
pub struct Ids {
    /// The seeded generator of deterministic mode, and its seed (to start over on a reset).
    deterministic: Mutex<Option<(u64, StdRng)>>,
}

impl Ids {
    /// Draws from the operating system, or from a generator seeded with `seed`.
    pub fn new(seed: Option<u64>) -> Ids {
        Ids {
            deterministic: Mutex::new(seed.map(|s| (s, StdRng::seed_from_u64(s)))),
        }
    }

    /// In deterministic mode, starts the sequence over (so each reset replays the same ids).
    pub fn restart_sequence(&self) {
        if let Some((seed, rng)) = self.lock().as_mut() {
            *rng = StdRng::seed_from_u64(*seed);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, StdRng)>> {
        self.deterministic.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fills `buf` from the OS random generator (or the seeded one in deterministic mode). The
    /// OS generator failing is not something a server can recover from, so it aborts the
    /// request (caught and answered as a 500).
    pub fn fill_random(&self, buf: &mut [u8]) {
        if let Some((_, rng)) = self.lock().as_mut() {
            rng.fill_bytes(buf);
            return;
        }
        OsRng
            .try_fill_bytes(buf)
            .expect("the operating system's random generator failed");
    }

    /// A one-time secret: 32 random bytes, base64url without padding (43 characters).
    pub fn secret_token(&self) -> String {
        let mut bytes = [0u8; 32];
        self.fill_random(&mut bytes);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A random (version 4) UUID in its usual hyphenated lowercase form.
    pub fn uuid_v4(&self) -> String {
        let mut b = [0u8; 16];
        self.fill_random(&mut b);
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
    pub fn digits(&self, len: usize) -> String {
        let mut bytes = vec![0u8; len];
        self.fill_random(&mut bytes);
        bytes
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let d = if i == 0 { 1 + b % 9 } else { b % 10 };
                char::from(b'0' + d)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let ids = Ids::new(None);
        let t = ids.secret_token();
        assert_eq!(t.len(), 43);
        assert_ne!(t, ids.secret_token());
        let u = ids.uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        let d = ids.digits(19);
        assert_eq!(d.len(), 19);
        assert!(d.bytes().all(|c| c.is_ascii_digit()) && !d.starts_with('0'));
    }

    #[test]
    fn seeded_generators_are_independent() {
        let (a, b) = (Ids::new(Some(1)), Ids::new(Some(1)));
        let first = a.secret_token();
        assert_eq!(first, b.secret_token());
        let _ = a.secret_token();
        b.restart_sequence();
        assert_eq!(first, b.secret_token(), "b started over, a did not move it");
        assert_ne!(first, a.secret_token());
    }
}
