//! Secrets: how each kind is stored, a cache of verified credentials, and the constant-time
//! comparison they rely on.
//!
//! Two kinds of secret, stored two ways (docs/deploy.md, "Security notes"):
//!
//! - **Chosen** secrets (passwords typed on a page, a Nueve09 `api_key_password`, seed files'
//!   secrets) may be weak, so they get argon2id, whose cost is what makes guessing them from
//!   a stolen database slow. One argon2id verify costs 15–70 ms here, far too much for every
//!   request, so a successful verification is remembered in memory, keyed by the SHA-256 of
//!   the whole credential, together with the stored hash it was checked against: when a
//!   password changes, the stored hash changes, and the old entry no longer matches.
//! - **Generated** secrets (what the server makes itself: tenant sets' API keys, passwords
//!   and client secrets, 256 random bits each) cannot be guessed, so a slow hash adds
//!   nothing: they are stored as a keyed SHA-256 digest and verified in microseconds.
//!
//! Test suites can make argon2id cheap (`PasswordHashing::Fast`): the stored PHC string
//! carries its own parameters, so a database written in either mode verifies in the other.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::Store;

/// How this server hashes chosen secrets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PasswordHashing {
    /// argon2id with the argon2 crate's default cost (19 MiB, two passes), as OWASP advises.
    #[default]
    Standard,
    /// argon2id at its least cost (8 KiB, one pass), microseconds a hash: for test suites
    /// only (`--fast-password-hashing`), the way Django's test settings swap in a fast hasher.
    Fast,
}

impl PasswordHashing {
    fn params(self) -> Params {
        match self {
            PasswordHashing::Standard => Params::default(),
            PasswordHashing::Fast => Params::new(Params::MIN_M_COST, 1, 1, None)
                .expect("the least argon2 parameters are valid"),
        }
    }
}

/// Turns a secret into what the store keeps; seed sections take one, so that the demo can
/// use precomputed hashes and tenant sets `digest_generated`.
pub type Hasher<'a> = &'a dyn Fn(&str) -> String;

/// One costly argon2 computation at a time. Each needs a 19 MiB working area, and concurrent
/// ones left that much resident per worker thread (RSS 91 MiB after 2M requests in
/// bench/results/throughput-notes.md). Taking turns bounds it to one area, and lets a burst
/// of first requests with the same credential verify it once (see `Credentials`). Cheap
/// hashes (`is_light`) need no turn.
static ARGON2_TURN: Mutex<()> = Mutex::new(());

fn argon2_turn() -> std::sync::MutexGuard<'static, ()> {
    ARGON2_TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Parameters of at most this many KiB are cheap enough to run side by side.
const LIGHT_M_COST_KIB: u32 = 1024;

fn is_light(params: &Params) -> bool {
    params.m_cost() <= LIGHT_M_COST_KIB
}

/// Hashes a chosen secret with argon2id at the standard cost; a PHC string comes back. The
/// salt comes from the server's `Ids`, so deterministic mode stays one sequence.
pub fn hash_secret(secret: &str, ids: &crate::ids::Ids) -> String {
    hash_chosen(secret, ids, PasswordHashing::Standard)
}

/// Hashes a chosen secret with argon2id at the cost `hashing` says.
pub fn hash_chosen(secret: &str, ids: &crate::ids::Ids, hashing: PasswordHashing) -> String {
    let mut salt = [0u8; 16];
    ids.fill_random(&mut salt);
    hash_with_salt(secret, &salt, hashing.params())
}

fn hash_with_salt(secret: &str, salt: &[u8; 16], params: Params) -> String {
    let _turn = (!is_light(&params)).then(argon2_turn);
    let mut area = working_area(&params).expect("our own parameters fit the working area");
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(secret.as_bytes(), salt, &mut out, &mut area)
        .expect("argon2id with valid parameters accepts any secret");
    let salt = SaltString::encode_b64(salt).expect("16 bytes is a valid salt length");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: (&params)
            .try_into()
            .expect("valid parameters are valid PHC parameters"),
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).expect("32 bytes is a valid output length")),
    }
    .to_string()
}

/// How a generated secret is stored: this prefix, then the unpadded base64 of its digest.
const GENERATED_PREFIX: &str = "$clientele-hmac-sha256$";

/// The HMAC key of generated secrets' digests. It is public on purpose: it separates these
/// digests from every other SHA-256 in the program; it is not a pepper. A secret key would
/// have to be where every instance can read it (the database itself), which protects
/// nothing, and a generated secret needs no protection from guessing.
const GENERATED_KEY: &[u8] = b"clientele: a secret the server generated";

fn generated_mac(secret: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(GENERATED_KEY).expect("HMAC takes any key");
    mac.update(secret.as_bytes());
    mac
}

/// What the store keeps of a secret the server generated (256 random bits): its keyed
/// SHA-256 digest, verified in microseconds.
pub fn digest_generated(secret: &str) -> String {
    let digest = generated_mac(secret).finalize().into_bytes();
    format!("{GENERATED_PREFIX}{}", STANDARD_NO_PAD.encode(digest))
}

/// For a stored `digest_generated` string: whether `secret` is the secret behind it
/// (`Some`, compared in constant time). `None` for any other stored form.
fn check_generated(secret: &str, stored: &str) -> Option<bool> {
    let encoded = stored.strip_prefix(GENERATED_PREFIX)?;
    let expected = STANDARD_NO_PAD.decode(encoded).unwrap_or_default();
    Some(generated_mac(secret).verify_slice(&expected).is_ok())
}

/// The `Authorization` header of HTTP Basic for `user` and `secret`.
pub fn basic_header(user: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{secret}")))
}

/// Checks a secret against what the store keeps of it, whichever way it was stored (an
/// argon2id PHC string of any cost, or a generated secret's digest); constant time.
pub fn verify_secret(secret: &str, stored: &str) -> bool {
    if let Some(matches) = check_generated(secret, stored) {
        return matches;
    }
    let Some(parts) = Argon2Hash::parse(stored) else {
        return false;
    };
    let _turn = (!is_light(&parts.params)).then(argon2_turn);
    parts.matches(secret)
}

/// A hash of nobody's secret at the cost `hashing` says, made once on first use. Its salt is
/// fixed, so making it draws nothing from the generator (a `--deterministic` sequence stays
/// the same whether or not someone unknown tried to sign in).
fn dummy_hash(hashing: PasswordHashing) -> &'static str {
    static STANDARD_DUMMY: OnceLock<String> = OnceLock::new();
    static FAST_DUMMY: OnceLock<String> = OnceLock::new();
    let cell = match hashing {
        PasswordHashing::Standard => &STANDARD_DUMMY,
        PasswordHashing::Fast => &FAST_DUMMY,
    };
    cell.get_or_init(|| {
        hash_with_salt(
            "clientele: the secret of nobody",
            b"clientele-nobody",
            hashing.params(),
        )
    })
}

/// A stored argon2 PHC string, taken apart.
struct Argon2Hash {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

impl Argon2Hash {
    fn parse(phc: &str) -> Option<Argon2Hash> {
        let parsed = PasswordHash::new(phc).ok()?;
        let (salt, expected) = (parsed.salt?, parsed.hash?);
        let params = Params::try_from(&parsed).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = Version::try_from(parsed.version.unwrap_or(0x13)).ok()?;
        let mut salt_bytes = [0u8; 64];
        let salt = salt.decode_b64(&mut salt_bytes).ok()?.to_vec();
        Some(Argon2Hash {
            algorithm,
            version,
            params,
            salt,
            expected: expected.as_bytes().to_vec(),
        })
    }

    /// Recomputes the hash with the stored parameters and salt, in `working_area`, and
    /// compares in constant time. A costly one must run in the argon2 turn.
    fn matches(&self, secret: &str) -> bool {
        let Some(mut area) = working_area(&self.params) else {
            return false;
        };
        let mut computed = vec![0u8; self.expected.len()];
        Argon2::new(self.algorithm, self.version, self.params.clone())
            .hash_password_into_with_memory(secret.as_bytes(), &self.salt, &mut computed, &mut area)
            .is_ok()
            && constant_time_eq(&computed, &self.expected)
    }
}

/// glibc serves allocations up to a threshold it raises to the size of the last freed
/// mmapped block (at most 32 MiB) from per-thread arenas, which keep the memory after it is
/// freed: each worker's second argon2 run (19 MiB) stayed resident, 20 MiB per flavour
/// used. Asking for more than that ceiling is always served by mmap and returned to the
/// system on free; argon2 touches only the blocks its parameters need. A light hash's few
/// KiB are just allocated.
const WORKING_AREA_BYTES: usize = 33 * 1024 * 1024;

fn working_area(params: &Params) -> Option<Vec<Block>> {
    if is_light(params) {
        return Some(vec![Block::new(); params.block_count()]);
    }
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

/// A server's credentials: how it hashes chosen secrets, and what it remembers of verified
/// ones. Verified argon2 credentials are remembered, so each costs argon2 once, not per
/// request; and, for a minute, wrong ones, so that a client retrying a bad password does not
/// cost argon2 (and the one-at-a-time argon2 turn) at every request.
///
/// Every refusal costs the same whatever the stored kind: a wrong generated secret, a wrong
/// chosen one and an unknown user each cost one argon2 run at this server's cost, so the
/// time of a refusal tells nothing about who exists or how their secret is stored.
#[derive(Default)]
pub struct Credentials {
    hashing: PasswordHashing,
    /// SHA-256(scope, user, secret) → the verdict and the SHA-256 of the stored hash.
    verdicts: Mutex<HashMap<[u8; 32], Verdict>>,
}

impl Credentials {
    pub fn new(hashing: PasswordHashing) -> Credentials {
        Credentials {
            hashing,
            verdicts: Mutex::default(),
        }
    }

    pub fn hashing(&self) -> PasswordHashing {
        self.hashing
    }

    /// What the store keeps of a secret someone chose: argon2id at this server's cost.
    pub fn hash_chosen(&self, secret: &str, ids: &crate::ids::Ids) -> String {
        hash_chosen(secret, ids, self.hashing)
    }

    /// True when `secret` is the secret behind `stored_hash`: a generated secret's digest
    /// at once; an argon2 hash from the cache when this exact credential was checked against
    /// this exact stored hash before, else by argon2id.
    pub fn verify(&self, scope: &str, user: &str, secret: &str, stored_hash: &str) -> bool {
        match check_generated(secret, stored_hash) {
            Some(true) => true,
            Some(false) => {
                self.refuse(scope, user, secret);
                false
            }
            None => self.verify_argon2(scope, user, secret, stored_hash),
        }
    }

    /// `verify` against `stored_hash` when there is one; without (an unknown user), the same
    /// work as a refusal, and false.
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
                self.refuse(scope, user, secret);
                false
            }
        }
    }

    /// A refusal that names nobody (or someone with no secret yet), uncached: the argon2
    /// run a wrong chosen secret costs at this server's cost. Always false.
    pub fn verify_nobody(&self, secret: &str) -> bool {
        let _ = verify_secret(secret, dummy_hash(self.hashing));
        false
    }

    /// The work of a refusal, against a dummy hash, cached like any verdict.
    fn refuse(&self, scope: &str, user: &str, secret: &str) {
        let _ = self.verify_argon2(scope, user, secret, dummy_hash(self.hashing));
    }

    fn verify_argon2(&self, scope: &str, user: &str, secret: &str, stored_hash: &str) -> bool {
        let key = credential_key(scope, user, secret);
        let stored = sha256(stored_hash.as_bytes());
        if let Some(ok) = self.known(&key, &stored) {
            return ok;
        }
        let Some(parts) = Argon2Hash::parse(stored_hash) else {
            return false;
        };
        let _turn = (!is_light(&parts.params)).then(argon2_turn);
        // Another worker may have checked this very credential while we waited our turn.
        if let Some(ok) = self.known(&key, &stored) {
            return ok;
        }
        let ok = parts.matches(secret);
        let until = (!ok).then(|| Instant::now() + FAILURE_MEMORY);
        let mut map = self.lock();
        if map.len() >= CACHE_CAPACITY {
            map.clear();
        }
        map.insert(key, Verdict { stored, ok, until });
        ok
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
        let cache = Credentials::default();
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
        let cache = Credentials::default();
        assert!(!cache.verify_nobody("clientele: the secret of nobody"));
        assert!(!cache.verify_or_nobody("t", "u", "clientele: the secret of nobody", None));
        let real = hash_secret("one", &Ids::new(None));
        assert!(cache.verify_or_nobody("t", "u", "one", Some(&real)));
        // Same algorithm and cost as a real hash, so checking against it takes as long.
        let (dummy, real) = (
            PasswordHash::new(dummy_hash(PasswordHashing::Standard)).unwrap(),
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

    #[test]
    fn generated_secrets_are_digests_that_verify_everywhere() {
        let secret = Ids::new(None).secret_token();
        let stored = digest_generated(&secret);
        assert!(stored.starts_with(GENERATED_PREFIX));
        assert!(!stored.contains(&secret));
        assert_eq!(
            stored,
            digest_generated(&secret),
            "no salt: one digest per secret"
        );
        assert!(verify_secret(&secret, &stored));
        assert!(!verify_secret("other", &stored));
        for hashing in [PasswordHashing::Standard, PasswordHashing::Fast] {
            let credentials = Credentials::new(hashing);
            assert!(credentials.verify("t", "u", &secret, &stored));
            assert!(!credentials.verify("t", "u", "other", &stored));
            assert!(!credentials.verify("t", "u", &secret, &format!("{stored}x")));
        }
    }

    #[test]
    fn fast_hashes_are_argon2id_that_the_standard_mode_verifies_and_back() {
        let ids = Ids::new(None);
        let fast = Credentials::new(PasswordHashing::Fast);
        let standard = Credentials::new(PasswordHashing::Standard);
        let weak = fast.hash_chosen("waterford123", &ids);
        let strong = standard.hash_chosen("waterford123", &ids);
        let parsed = PasswordHash::new(&weak).unwrap();
        assert_eq!(parsed.algorithm, Algorithm::Argon2id.ident());
        assert_eq!(
            Params::try_from(&parsed).unwrap().m_cost(),
            Params::MIN_M_COST
        );
        assert_eq!(
            Params::try_from(&PasswordHash::new(&strong).unwrap())
                .unwrap()
                .m_cost(),
            Params::default().m_cost()
        );
        for credentials in [&fast, &standard] {
            for stored in [&weak, &strong] {
                assert!(credentials.verify("t", "u", "waterford123", stored));
                assert!(!credentials.verify("t", "u", "waterford124", stored));
            }
        }
    }

    #[test]
    fn a_refusal_costs_an_argon2_run_at_the_servers_cost() {
        let fast = PasswordHash::new(dummy_hash(PasswordHashing::Fast)).unwrap();
        assert_eq!(
            Params::try_from(&fast).unwrap().m_cost(),
            Params::MIN_M_COST
        );
        // A wrong generated secret is remembered as a refusal, like a wrong password.
        let credentials = Credentials::default();
        let stored = digest_generated("right");
        assert!(!credentials.verify("t", "u", "wrong", &stored));
        assert_eq!(credentials.lock().len(), 1);
    }
}
