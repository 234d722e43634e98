//! Secrets: argon2id hashing for secrets people choose, SHA-256 for secrets we generate, a
//! cache of verified credentials, and the constant-time comparison both rely on.
//!
//! One argon2id verify costs 15–70 ms here (docs/deploy.md, "Security notes"), far too much for
//! every request, so a successful verification is remembered in memory, keyed by the SHA-256 of the
//! whole credential. The cache entry also records which stored hash it was checked against: when a
//! password changes, the stored hash changes, and the old entry no longer matches.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::Store;

/// One argon2 computation at a time. Each needs a 19 MiB working area, and concurrent ones
/// left that much resident per worker thread (RSS 91 MiB after 2M requests in
/// bench/results/throughput-notes.md). Taking turns bounds it to one area, and lets a burst
/// of first requests with the same credential verify it once (see `CredentialCache`).
static ARGON2_TURN: Mutex<()> = Mutex::new(());

fn argon2_turn() -> std::sync::MutexGuard<'static, ()> {
    ARGON2_TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Turns a secret into what the store keeps (an argon2id PHC string); seed sections take one
/// so that the demo can use precomputed hashes.
pub type Hasher<'a> = &'a dyn Fn(&str) -> String;

/// Hashes a secret with argon2id and its default parameters; a PHC string comes back. The
/// salt comes from the server's `Ids`, so deterministic mode stays one sequence.
pub fn hash_secret(secret: &str, ids: &crate::ids::Ids) -> String {
    let mut salt = [0u8; 16];
    ids.fill_random(&mut salt);
    hash_with_salt(secret, &salt)
}

fn hash_with_salt(secret: &str, salt: &[u8; 16]) -> String {
    let _turn = argon2_turn();
    let params = Params::default();
    let mut area = working_area(&params).expect("the default parameters fit the working area");
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(secret.as_bytes(), salt, &mut out, &mut area)
        .expect("argon2id with default parameters accepts any secret");
    let salt = SaltString::encode_b64(salt).expect("16 bytes is a valid salt length");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .expect("default parameters are valid PHC parameters"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output length")),
    }
    .to_string()
}

/// The `Authorization` header of HTTP Basic for `user` and `secret`.
pub fn basic_header(user: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{secret}")))
}

/// Checks a secret against a PHC string made by `hash_secret` (constant time inside argon2).
pub fn verify_secret(secret: &str, phc: &str) -> bool {
    let _turn = argon2_turn();
    verify_in_turn(secret, phc)
}

/// A hash of nobody's secret, made once on first use with the same parameters as real ones.
/// Its salt is fixed, so making it draws nothing from the generator (a `--deterministic`
/// sequence stays the same whether or not someone unknown tried to sign in).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_with_salt("clientele: the secret of nobody", b"clientele-nobody"))
}

/// A failed sign-in that names nobody (or someone with no secret yet): the same argon2 run
/// a wrong secret for a real user costs, so the time taken does not tell them apart.
/// Always false.
pub fn verify_nobody(secret: &str) -> bool {
    let _ = verify_secret(secret, dummy_hash());
    false
}

/// `verify_secret` for a caller that holds the argon2 turn already: recomputes the hash
/// with the PHC string's own parameters and salt, in `working_area`, and compares in
/// constant time.
fn verify_in_turn(secret: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        Params::try_from(&parsed),
        Algorithm::try_from(parsed.algorithm),
    ) else {
        return false;
    };
    let Ok(version) = Version::try_from(parsed.version.unwrap_or(0x13)) else {
        return false;
    };
    let mut salt_bytes = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let Some(mut area) = working_area(&params) else {
        return false;
    };
    let mut computed = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(secret.as_bytes(), salt, &mut computed, &mut area)
        .is_ok()
        && constant_time_eq(&computed, expected.as_bytes())
}

/// glibc serves allocations up to a threshold it raises to the size of the last freed
/// mmapped block (at most 32 MiB) from per-thread arenas, which keep the memory after it is
/// freed: each worker's second argon2 run (19 MiB) stayed resident, 20 MiB per flavour
/// used. Asking for more than that ceiling is always served by mmap and returned to the
/// system on free; argon2 touches only the blocks its parameters need.
const WORKING_AREA_BYTES: usize = 33 * 1024 * 1024;

fn working_area(params: &Params) -> Option<Vec<Block>> {
    let blocks = params.block_count().max(WORKING_AREA_BYTES / Block::SIZE);
    // Guard against parameters in a stored hash that would ask for absurd memory.
    (blocks <= 4 * WORKING_AREA_BYTES / Block::SIZE).then(|| vec![Block::new(); blocks])
}

/// Bounds of a password chosen on a page (a registration or welcome form).
pub const MIN_PASSWORD: usize = 8;
pub const MAX_PASSWORD: usize = 128;

/// The password rule of every page that sets one: `MIN_PASSWORD` to `MAX_PASSWORD`
/// characters, typed the same twice. `Some` says what is wrong, for the page.
pub fn new_password_problem(password: &str, confirmation: &str) -> Option<String> {
    const MIN: usize = MIN_PASSWORD;
    const MAX: usize = MAX_PASSWORD;
    let length = password.chars().count();
    if length < MIN {
        Some(format!("Choose a password of at least {MIN} characters."))
    } else if length > MAX {
        Some(format!("Choose a password of at most {MAX} characters."))
    } else if password != confirmation {
        Some("The two passwords do not match.".to_string())
    } else {
        None
    }
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `Authorization: Basic base64(user:secret)` → (user, secret).
pub fn parse_basic(header: Option<&str>) -> Option<(String, String)> {
    let header = header?.trim();
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, secret) = text.split_once(':')?;
    Some((user.to_string(), secret.to_string()))
}

/// `Authorization: Bearer TOKEN` → TOKEN.
pub fn parse_bearer(header: Option<&str>) -> Option<&str> {
    let (scheme, token) = header?.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Most entries kept; past it the cache starts over (a refill costs one verify per caller).
const CACHE_CAPACITY: usize = 10_000;

/// How long a wrong credential is remembered as wrong.
const FAILURE_MEMORY: Duration = Duration::from_secs(60);

/// What one credential was found to be, against which stored hash.
#[derive(Clone, Copy)]
struct Verdict {
    stored: [u8; 32],
    ok: bool,
    /// Failures are forgotten after `FAILURE_MEMORY`; successes last until evicted.
    until: Option<Instant>,
}

/// Remembers verified credentials, so each costs argon2 once, not per request; and, for a
/// minute, wrong ones, so that a client retrying a bad password does not cost argon2 (and
/// the one-at-a-time argon2 turn) at every request.
#[derive(Default)]
pub struct CredentialCache {
    /// SHA-256(scope, user, secret) → the verdict and the SHA-256 of the stored hash.
    verdicts: Mutex<HashMap<[u8; 32], Verdict>>,
}

impl CredentialCache {
    /// True when `secret` is the secret behind `stored_hash`: from the cache when this exact
    /// credential was checked against this exact stored hash before, else by argon2id.
    pub fn verify(&self, scope: &str, user: &str, secret: &str, stored_hash: &str) -> bool {
        let key = credential_key(scope, user, secret);
        let stored = sha256(stored_hash.as_bytes());
        if let Some(ok) = self.known(&key, &stored) {
            return ok;
        }
        let _turn = argon2_turn();
        // Another worker may have checked this very credential while we waited our turn.
        if let Some(ok) = self.known(&key, &stored) {
            return ok;
        }
        let ok = verify_in_turn(secret, stored_hash);
        let until = (!ok).then(|| Instant::now() + FAILURE_MEMORY);
        let mut map = self.lock();
        if map.len() >= CACHE_CAPACITY {
            map.clear();
        }
        map.insert(key, Verdict { stored, ok, until });
        ok
    }

    /// `verify` against `stored_hash` when there is one; without (an unknown user), the same
    /// work against a dummy hash, cached the same way, and false: a wrong secret for a known
    /// user and any secret for an unknown one cost alike.
    pub fn verify_or_nobody(
        &self,
        scope: &str,
        user: &str,
        secret: &str,
        stored_hash: Option<&str>,
    ) -> bool {
        match stored_hash {
            Some(hash) => self.verify(scope, user, secret, hash),
            None => {
                let _ = self.verify(scope, user, secret, dummy_hash());
                false
            }
        }
    }

    fn known(&self, key: &[u8; 32], stored: &[u8; 32]) -> Option<bool> {
        let verdict = self.lock().get(key).copied()?;
        let current = verdict.until.is_none_or(|until| Instant::now() < until);
        (current && constant_time_eq(&verdict.stored, stored)).then_some(verdict.ok)
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Verdict>> {
        self.verdicts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Who each credential turned out to be (for ShieldConex, a user with its role and place),
/// remembered until the database next changes: a request with a credential seen before skips
/// looking it up, a read of the database (7 % of a ShieldConex GET by id's CPU,
/// bench/README.md, round five). Only where the store can tell that nothing changed
/// (`Store::version`): on PostgreSQL every request looks its caller up. Only successes are
/// remembered. Keyed, like `CredentialCache`, by a SHA-256 of the credential, never the
/// credential itself.
pub struct CallerMemo<T> {
    /// SHA-256(credential) → (the store's version when it was looked up, the caller).
    entries: Mutex<HashMap<[u8; 32], (u64, T)>>,
}

impl<T> Default for CallerMemo<T> {
    fn default() -> Self {
        CallerMemo {
            entries: Mutex::default(),
        }
    }
}

impl<T: Clone> CallerMemo<T> {
    /// What `look_up` made of `credential` when the database was as it is now, if it
    /// succeeded; else runs `look_up` and remembers what it finds.
    pub fn remember<E>(
        &self,
        store: &Store,
        credential: &str,
        look_up: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        // Read before the lookup: what it finds is at least as new as this version, so an
        // entry can only be older than its label says, and then the next change retires it.
        let Some(version) = store.version() else {
            return look_up();
        };
        let key = sha256(credential.as_bytes());
        let known = self
            .lock()
            .get(&key)
            .filter(|(seen_at, _)| *seen_at == version)
            .map(|(_, caller)| caller.clone());
        if let Some(caller) = known {
            return Ok(caller);
        }
        let caller = look_up()?;
        let mut entries = self.lock();
        if entries.len() >= CACHE_CAPACITY {
            entries.clear();
        }
        entries.insert(key, (version, caller.clone()));
        Ok(caller)
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], (u64, T)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn credential_key(scope: &str, user: &str, secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [scope, user, secret] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Ids;

    #[test]
    fn hashes_verify_and_differ() {
        let a = hash_secret("waterford123", &Ids::new(None));
        assert!(a.starts_with("$argon2id$"));
        assert!(verify_secret("waterford123", &a));
        assert!(!verify_secret("waterford124", &a));
        assert_ne!(a, hash_secret("waterford123", &Ids::new(None)));
    }

    #[test]
    fn our_hashes_are_standard_phc_strings() {
        use argon2::password_hash::PasswordVerifier;
        let ours = hash_secret("waterford123", &Ids::new(None));
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"waterford123", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"waterford", &parsed)
            .is_err());
        assert!(!verify_secret(
            "x",
            "$argon2id$v=19$m=999999999,t=2,p=1$c2FsdHNhbHQ$aGFzaA"
        ));
        assert!(!verify_secret("x", "not a hash"));
    }

    #[test]
    fn cache_follows_the_stored_hash() {
        let cache = CredentialCache::default();
        let old = hash_secret("one", &Ids::new(None));
        assert!(cache.verify("t", "u", "one", &old));
        assert!(cache.verify("t", "u", "one", &old));
        assert!(!cache.verify("t", "u", "two", &old));
        let new = hash_secret("two", &Ids::new(None));
        assert!(!cache.verify("t", "u", "one", &new));
        assert!(cache.verify("t", "u", "two", &new));
    }

    #[test]
    fn nobody_never_verifies() {
        let cache = CredentialCache::default();
        assert!(!verify_nobody("clientele: the secret of nobody"));
        assert!(!cache.verify_or_nobody("t", "u", "clientele: the secret of nobody", None));
        let real = hash_secret("one", &Ids::new(None));
        assert!(cache.verify_or_nobody("t", "u", "one", Some(&real)));
        // Same algorithm and cost as a real hash, so checking against it takes as long.
        let (dummy, real) = (
            PasswordHash::new(dummy_hash()).unwrap(),
            PasswordHash::new(&real).unwrap(),
        );
        assert_eq!(dummy.algorithm, real.algorithm);
        assert_eq!(dummy.params, real.params);
    }

    #[test]
    fn parses_the_basic_header() {
        let got = parse_basic(Some("Basic UFJPQ0VTU09SLTEyMzQ6QVBJLUtFWS00NTY3"));
        assert_eq!(
            got,
            Some(("PROCESSOR-1234".to_string(), "API-KEY-4567".to_string()))
        );
        assert_eq!(parse_basic(Some("Bearer x")), None);
        assert_eq!(parse_basic(Some("Basic !!!")), None);
        assert_eq!(parse_bearer(Some("Bearer abc")), Some("abc"));
    }
}
