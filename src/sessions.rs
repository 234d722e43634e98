//! The admin console's sessions: one set per server (`App::console_sessions`), in memory, so
//! that a restart signs everyone out and two servers in one process never accept each
//! other's cookies. A session is found by the digest of its cookie, and carries the CSRF
//! token of its forms.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::TryRngCore;

/// How long a session lasts after signing in.
pub const TTL: Duration = Duration::from_secs(12 * 3600);
/// At most this many sessions at once; the oldest go first.
const MAX: usize = 256;

#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<[u8; 32], Session>>,
}

struct Session {
    csrf: String,
    expires: Instant,
}

/// A session a request's cookie named: its key, and the CSRF token of its forms.
#[derive(Clone)]
pub struct Open {
    key: [u8; 32],
    pub csrf: String,
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Opens a session; answers the cookie's value.
    pub fn open(&self) -> String {
        let token = random_token();
        let now = Instant::now();
        let mut all = self.lock();
        all.retain(|_, s| s.expires > now);
        while all.len() >= MAX {
            let oldest = all.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k);
            match oldest {
                Some(k) => all.remove(&k),
                None => break,
            };
        }
        all.insert(
            digest(&token),
            Session {
                csrf: random_token(),
                expires: now + TTL,
            },
        );
        token
    }

    /// The live session a cookie's value names.
    pub fn find(&self, cookie: &str) -> Option<Open> {
        let key = digest(cookie);
        let mut all = self.lock();
        let found = all.get(&key)?;
        if found.expires <= Instant::now() {
            all.remove(&key);
            return None;
        }
        Some(Open {
            key,
            csrf: found.csrf.clone(),
        })
    }

    pub fn close(&self, session: &Open) {
        self.lock().remove(&session.key);
    }
}

/// 32 bytes from the operating system, base64url: never from the server's seedable source,
/// so `--deterministic` neither predicts sessions nor shifts its own sequence for them.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the operating system's random generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(token: &str) -> [u8; 32] {
    crate::auth::sha256(token.as_bytes())
}
